"""Places given by hand on a real PostgreSQL: organisers racing for the last place, and the waitlist renumbered in
SQL rather than rewritten."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import consumes, entrypoints, handlers
from services.scheduling.adapters import PlacementRow, SqlEditions, WaitlistRow
from services.scheduling.copies import SqlRegistrations
from services.scheduling.seats import SqlSeats
from services.scheduling.waitlist import SqlWaitlist
from shared.contract import Reply
from shared.contract.registration import RegistrationApproved, RegistrationCancelled, TrioRegistered
from shared.contract.scheduling import MoveOnWaitlist, PlaceTrio
from shared.db import utcnow
from shared.messaging.messages import Incoming
from shared.messaging.processing import MessageStore
from shared.messaging.wiring import Consumers
from tests.factories import by_organiser
from tests.integration.test_scheduling_store import approved, envelope, registered, replicas, schedule, url
from tests.support import wait_until

pytestmark = pytest.mark.integration
__all__ = ["replicas", "url"]  # the fixtures, shared with test_scheduling_store


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def edition_after_its_first_session(
    store: MessageStore, trios: int, clock: Clock
) -> tuple[str, list[str], Consumers]:
    """An allocated edition (8 places) whose first session has started, so a freed place stays free until an
    organiser gives it away; `trios` approved trios registered a minute apart."""
    slug = await schedule(store, deadline=utcnow() - timedelta(minutes=1))
    consumers = consumes.consumers(store, clock)
    start = utcnow() - timedelta(days=1)
    rids = [f"r{n:02d}-{uuid.uuid4().hex[:6]}" for n in range(trios)]
    for n, rid in enumerate(rids):
        await consumers[TrioRegistered.routing_key](registered(slug, rid, start + timedelta(minutes=n)))
        await consumers[RegistrationApproved.routing_key](approved(slug, rid))
    assert await entrypoints.allocate_due(store, utcnow()) == [slug]
    async with store.db.sessions() as session:
        first = await session.execute(text("SELECT min(starts_at) FROM sessions WHERE edition = :e"), {"e": slug})
        clock.now = first.scalar_one() + timedelta(hours=5)
    return slug, rids, consumers


def command(model: type, **body: object) -> Incoming:
    return Incoming(
        body=json.dumps(by_organiser(model.routing_key, body)).encode(),
        routing_key=model.routing_key,
        message_id=str(uuid.uuid4()),
        message_type=model.__name__,
    )


async def test_organisers_placing_three_trios_in_the_last_place_at_once_give_it_to_exactly_one(
    replicas: list[MessageStore],
) -> None:
    clock = Clock(utcnow())
    slug, rids, consumers = await edition_after_its_first_session(replicas[0], 11, clock)
    cancel = RegistrationCancelled(registration_id=rids[0], edition=slug)
    await consumers[cancel.routing_key](envelope(cancel, "RegistrationCancelled"))  # one place free, 3 waiting
    organisers = [consumes.consumers(store, clock) for store in replicas]

    # Hold the edition's lock until all three commands are queued behind it, so they really start together.
    async with replicas[0].db.transaction() as holder:
        await holder.execute(text("SELECT slug FROM editions WHERE slug = :slug FOR UPDATE"), {"slug": slug})
        races = [
            asyncio.create_task(
                organisers[n].command(
                    PlaceTrio, command(PlaceTrio, edition=slug, registration_id=rid, reason="Laatste plek")
                )
            )
            for n, rid in enumerate(rids[8:])
        ]
        await wait_until(lambda: _waiting_for_a_lock(replicas[1], 3), what="three commands waiting for the edition")
    replies: list[Reply] = await asyncio.gather(*races)

    accepted = [r for r in replies if r.status == "accepted"]
    assert len(accepted) == 1
    assert sorted(r.errors[0].code for r in replies if r.status == "rejected") == ["edition_full", "edition_full"]
    winner = accepted[0].ids["registration_id"]
    async with replicas[0].db.sessions() as session:
        placed = (await session.execute(select(func.count()).where(PlacementRow.edition == slug))).scalar_one()
        waiting = (
            await session.execute(
                select(WaitlistRow.registration_id, WaitlistRow.position)
                .where(WaitlistRow.edition == slug)
                .order_by(WaitlistRow.position)
            )
        ).all()
    assert placed == 8
    assert [tuple(w) for w in waiting] == [(rid, n) for n, rid in enumerate((r for r in rids[8:] if r != winner), 1)]


async def test_a_trio_placed_from_the_waitlist_renumbers_only_the_trios_behind_it(replicas: list[MessageStore]) -> None:
    store = replicas[0]
    clock = Clock(utcnow())
    slug, rids, consumers = await edition_after_its_first_session(store, 20, clock)  # 12 waiting
    cancel = RegistrationCancelled(registration_id=rids[0], edition=slug)
    await consumers[cancel.routing_key](envelope(cancel, "RegistrationCancelled"))

    writes = await _waitlist_writes_of(
        store, PlaceTrio(edition=slug, registration_id=rids[17], reason="Op verzoek"), clock()
    )

    # Position 10 of 12 leaves: one row deleted, the two behind it updated twice (negated, then moved up).
    assert writes == {"inserted": 0, "deleted": 1, "updated": 4}


async def test_a_trio_moved_ahead_rewrites_only_the_trios_it_passes(replicas: list[MessageStore]) -> None:
    store = replicas[0]
    clock = Clock(utcnow())
    slug, rids, _ = await edition_after_its_first_session(store, 20, clock)

    writes = await _waitlist_writes_of(
        store, MoveOnWaitlist(edition=slug, registration_id=rids[12], position=2, reason="x"), clock()
    )

    # From 5 to 2: the moved trio parked and placed (2 updates), the three it passes negated and moved (6).
    assert writes == {"inserted": 0, "deleted": 0, "updated": 8}
    async with store.db.sessions() as session:
        order = (
            await session.execute(
                select(WaitlistRow.registration_id).where(WaitlistRow.edition == slug).order_by(WaitlistRow.position)
            )
        ).scalars()
        assert list(order) == [rids[8], rids[12], rids[9], rids[10], rids[11], *rids[13:]]


async def _waiting_for_a_lock(store: MessageStore, count: int) -> bool:
    # A new transaction each time: within one, PostgreSQL shows the same snapshot of pg_stat_activity.
    async with store.db.sessions() as session:
        waiting = await session.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        return waiting.scalar_one() >= count


async def _waitlist_writes_of(store: MessageStore, cmd: PlaceTrio | MoveOnWaitlist, now: datetime) -> dict[str, int]:
    """The waitlist rows the command's handler inserted, deleted and updated in its transaction."""
    handler = handlers.place_trio if isinstance(cmd, PlaceTrio) else handlers.move_on_waitlist
    async with store.db.transaction() as session:
        # Read before and after: the backend's pending counts may still hold its earlier transactions' rows.
        before = await _waitlist_writes(session)
        seats = {"seats": SqlSeats(session)} if isinstance(cmd, PlaceTrio) else {}
        await handler(
            cmd,  # type: ignore[arg-type]
            editions=SqlEditions(session),
            registrations=SqlRegistrations(session),
            waitlist=SqlWaitlist(session),
            emit=[].append,
            now=now,
            **seats,
        )
        await session.flush()
        after = await _waitlist_writes(session)
    return {name: after[n] - before[n] for n, name in enumerate(("inserted", "deleted", "updated"))}


async def _waitlist_writes(session: AsyncSession) -> tuple[int, int, int]:
    row = (
        await session.execute(
            text("SELECT n_tup_ins, n_tup_del, n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'waitlist'")
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])
