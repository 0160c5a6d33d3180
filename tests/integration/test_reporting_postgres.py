"""Reporting against a real PostgreSQL: migrations, exactly-once effects and the page from stored data."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from services.reporting import entrypoints
from services.reporting.adapters import Inbox, Outbox, SessionReportRow
from services.reporting.bootstrap import MIGRATIONS
from shared.contract import Event
from shared.contract.common import CommandRejected
from shared.contract.scheduling import SessionCompleted
from shared.db import Database, migrate
from shared.messaging.messages import Incoming
from shared.messaging.processing import MessageStore
from tests.support import create_database, database_url, drop_database, require_port

pytestmark = pytest.mark.integration

PUBLIC_URL = "https://werkplaatsen.example.nl"
EDITION = "2027-najaar"
HELD = datetime(2027, 10, 15, 11, tzinfo=UTC)


@pytest.fixture
async def store() -> AsyncIterator[MessageStore]:
    require_port("127.0.0.1", 5432, "PostgreSQL")
    name = await create_database("reporting")
    db = Database(database_url(name))
    try:
        await migrate(db, MIGRATIONS, "reporting")
        yield MessageStore(db, "reporting", Outbox, Inbox, CommandRejected)
    finally:
        await db.dispose()
        await drop_database(name)


def session_completed_message(event_id: str, lessons: list[str],
                              occurred_at: datetime = HELD + timedelta(days=1)) -> Incoming:
    data = SessionCompleted(
        edition=EDITION, session_number=1, title="Positionering van het wijkgerichte werken in de eigen gemeente",
        starts_at=HELD, attendance={"trios": 7, "municipalities": 6},
        notes={"lessons": lessons, "instruments": [{"name": "Wijkscan", "description": "Kaart van de wijk."}],
               "quotes": ["De wijk is geen project."], "next_steps": []},
    )
    event = Event[SessionCompleted](
        event_id=event_id, type="SessionCompleted", version=1, occurred_at=occurred_at, producer="scheduling",
        correlation_id="corr-1", causation_id="cmd-1", data=data,
    )
    return Incoming(body=event.model_dump_json().encode(), routing_key=SessionCompleted.routing_key,
                    message_id=event_id, message_type="SessionCompleted")


async def count(store: MessageStore, model: type[Any]) -> int:
    async with store.db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_the_same_session_completed_twice_stores_one_report_and_publishes_once(store: MessageStore) -> None:
    consume = entrypoints.consumers(store, public_url=PUBLIC_URL)[SessionCompleted.routing_key]
    message = session_completed_message(str(uuid.uuid4()), ["Begin bij de wijk; mail a@b.nl"])
    await consume(message)
    await consume(message)
    assert await count(store, SessionReportRow) == 1
    assert await count(store, Outbox) == 1
    async with store.db.sessions() as session:
        row = await session.get(SessionReportRow, (EDITION, 1))
        assert row is not None and row.lessons == ["Begin bij de wijk; mail [verwijderd]"]
        assert row.starts_at == HELD


async def test_competing_replicas_delivering_the_same_event_apply_it_once(store: MessageStore) -> None:
    consume = entrypoints.consumers(store, public_url=PUBLIC_URL)[SessionCompleted.routing_key]
    message = session_completed_message(str(uuid.uuid4()), ["Eén les."])
    await asyncio.gather(*(consume(message) for _ in range(4)))
    assert await count(store, SessionReportRow) == 1
    assert await count(store, Outbox) == 1


async def test_a_new_version_replaces_the_report_and_the_page_shows_it(store: MessageStore) -> None:
    consume = entrypoints.consumers(store, public_url=PUBLIC_URL)[SessionCompleted.routing_key]
    await consume(session_completed_message(str(uuid.uuid4()), ["Eerste versie."]))
    await consume(session_completed_message(str(uuid.uuid4()), ["Tweede versie."], HELD + timedelta(days=2)))
    assert await count(store, SessionReportRow) == 1
    assert await count(store, Outbox) == 2
    app = Starlette(routes=entrypoints.routes(store))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as http:
        page = await http.get(f"/reports/{EDITION}/1")
    assert page.status_code == 200
    assert "Tweede versie." in page.text and "Eerste versie." not in page.text
    assert "15 oktober 2027" in page.text


async def test_two_versions_racing_for_a_new_session_end_with_the_newest_after_the_retry(
        store: MessageStore) -> None:
    consume = entrypoints.consumers(store, public_url=PUBLIC_URL)[SessionCompleted.routing_key]
    older = session_completed_message(str(uuid.uuid4()), ["Oudere versie."], HELD + timedelta(days=1))
    newer = session_completed_message(str(uuid.uuid4()), ["Nieuwere versie."], HELD + timedelta(days=2))
    results = await asyncio.gather(consume(older), consume(newer), return_exceptions=True)
    # The loser of the race for the new row fails and is redelivered, as the transports do after a failure.
    for message, result in zip((older, newer), results, strict=True):
        if isinstance(result, Exception):
            await consume(message)
    async with store.db.sessions() as session:
        row = await session.get(SessionReportRow, (EDITION, 1))
        assert row is not None and row.lessons == ["Nieuwere versie."]
    assert await count(store, SessionReportRow) == 1
