"""The outbox relay, on PostgreSQL and on SQLite (one code path): leased claims, so competing relays publish each
row once and none is lost."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services.scheduling.adapters import Outbox
from services.scheduling.bootstrap import MIGRATIONS
from shared.db import Database, migrate, utcnow
from shared.messaging.messages import Outgoing
from shared.messaging.outbox import OutboxRelay
from tests.support import database_url

pytestmark = pytest.mark.integration


@pytest.fixture(params=["postgresql", "sqlite"])
async def db(
    request: pytest.FixtureRequest, pg_database: Callable[..., Any], tmp_path: Path
) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'relay.sqlite3'}")
    else:
        database = Database(database_url(await pg_database("relay")))
    await migrate(database, MIGRATIONS, "scheduling")
    yield database
    await database.dispose()


async def fill(db: Database, count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    async with db.transaction() as session:
        session.add_all(
            Outbox(
                message_id=i,
                exchange="werkplaatsen.events",
                routing_key="scheduling.Test",
                message_type="Test",
                correlation_id="c",
                body=json.dumps({"n": n}).encode(),
                headers={},
            )
            for n, i in enumerate(ids)
        )
    return ids


async def rows(db: Database) -> list[Outbox]:
    async with db.sessions() as session:
        return list((await session.execute(select(Outbox).order_by(Outbox.position))).scalars())


async def test_competing_relays_publish_every_row_exactly_once_and_leave_none_behind(db: Database) -> None:
    ids = await fill(db, 600)
    published: Counter[str] = Counter()

    async def publish(out: Outgoing) -> None:
        await asyncio.sleep(0)  # let the other relay's claim interleave with this one's publishing
        published[out.message_id] += 1

    relays = [OutboxRelay(db, Outbox, publish, batch_size=50) for _ in range(3)]
    await asyncio.gather(*(relay.flush(timeout=30) for relay in relays))

    assert published == Counter(ids)
    assert await rows(db) == []


async def test_rows_of_a_relay_that_died_while_publishing_are_published_once_its_lease_has_passed(db: Database) -> None:
    ids = await fill(db, 5)
    started = asyncio.Event()

    async def hang(_out: Outgoing) -> None:
        started.set()
        await asyncio.Event().wait()

    dying = asyncio.create_task(OutboxRelay(db, Outbox, hang, lease_seconds=1.5).publish_pending())
    await started.wait()
    dying.cancel()  # as good as a SIGKILL: nothing is written after the claim
    published: list[str] = []

    async def publish(out: Outgoing) -> None:
        published.append(out.message_id)

    other = OutboxRelay(db, Outbox, publish)
    assert await other.publish_pending() == 0  # still leased
    async with db.sessions() as session:
        leased_until = (await session.execute(select(func.min(Outbox.next_attempt_at)))).scalar_one()
    await asyncio.sleep(max((leased_until - utcnow()).total_seconds(), 0) + 0.1)
    assert await other.publish_pending() == 5
    assert published == ids  # in the order they were written
    assert await rows(db) == []


async def test_a_row_the_broker_refused_waits_out_its_backoff_and_the_others_are_gone(db: Database) -> None:
    ids = await fill(db, 3)

    async def publish(out: Outgoing) -> None:
        if out.message_id == ids[1]:
            raise ConnectionError("channel closed")

    assert await OutboxRelay(db, Outbox, publish).publish_pending() == 2
    (left,) = await rows(db)
    assert (left.message_id, left.attempts) == (ids[1], 1)
    assert "channel closed" in (left.last_error or "")
    assert left.next_attempt_at > utcnow()
    assert await OutboxRelay(db, Outbox, publish).publish_pending() == 0  # not due yet
