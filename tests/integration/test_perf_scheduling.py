"""Admitting a trio costs the same whatever the edition's size: joining the end of a long waitlist writes one row,
a direct place reads and writes the same rows for the tenth trio as for the two-hundredth."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import consumes, entrypoints, handlers
from services.scheduling.adapters import SqlEditions
from services.scheduling.copies import SqlRegistrations
from services.scheduling.places import SqlPlaces
from services.scheduling.seats import SqlSeats
from services.scheduling.waitlist import SqlWaitlist
from shared.contract import Event
from shared.contract.registration import RegistrationApproved, TrioRegistered
from shared.db import utcnow
from shared.messaging.processing import MessageStore
from tests.integration.test_scheduling_store import approved, registered, replicas, schedule, url

pytestmark = pytest.mark.integration
__all__ = ["replicas", "url"]  # the fixtures, shared with test_scheduling_store

START = utcnow() - timedelta(days=1)


@pytest.fixture
async def store(replicas: list[MessageStore]) -> AsyncIterator[MessageStore]:
    yield replicas[0]


async def waitlist_of_twenty(store: MessageStore) -> tuple[str, list[str]]:
    """An allocated edition with its 8 places taken and 12 trios waiting, registered a minute apart."""
    slug = await schedule(store, deadline=utcnow() - timedelta(minutes=1))
    assert await entrypoints.allocate_due(store, utcnow()) == [slug]
    consumers = consumes.consumers(store)
    rids = [f"r{n:02d}-{uuid.uuid4().hex[:6]}" for n in range(20)]
    for n, rid in enumerate(rids):
        await consumers[TrioRegistered.routing_key](registered(slug, rid, START + timedelta(minutes=n)))
        await consumers[RegistrationApproved.routing_key](approved(slug, rid))
    return slug, rids


def admitting(session: AsyncSession) -> dict[str, Any]:
    """The repositories admitting a trio takes, on one transaction's session."""
    return {
        "editions": SqlEditions(session),
        "registrations": SqlRegistrations(session),
        "places": SqlPlaces(session),
        "waitlist": SqlWaitlist(session),
        "seats": SqlSeats(session),
    }


async def approve_late(
    store: MessageStore, slug: str, rid: str, registered_at: datetime
) -> dict[str, tuple[int, int, int]]:
    """Register and approve one trio after the allocation; per table, the rows the approval's transaction read
    (sequential and index scans), inserted and updated."""
    consumers = consumes.consumers(store)
    await consumers[TrioRegistered.routing_key](registered(slug, rid, registered_at))
    event = Event[RegistrationApproved].model_validate_json(approved(slug, rid).body)
    async with store.db.transaction() as session:
        # What autovacuum does for a table that grew: without statistics the planner takes every table for empty.
        await session.execute(text("ANALYZE placements, waitlist, seats, seating_tables, editions, registrations"))
    async with store.db.transaction() as session:
        # On tables this small the planner would scan them whole, as cheap as any index; the test asks what the
        # statements need through their indexes, which is what the planner does once the tables are large.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        # Read before and after: the backend's pending counts may still hold its earlier transactions' rows.
        before = await _table_stats(session)
        await handlers.registration_approved(event.data, **admitting(session), emit=lambda _: None, now=utcnow())
        await session.flush()
        after = await _table_stats(session)
    return {
        name: tuple(a - b for a, b in zip(after[name], before.get(name, (0, 0, 0)), strict=True))  # type: ignore[misc]
        for name in after
    }


async def waitlist_after(store: MessageStore, slug: str) -> list[str]:
    async with store.db.sessions() as session:
        saved = await SqlEditions(session).get(slug)
    assert saved is not None
    assert [w.position for w in saved.waitlist] == list(range(1, len(saved.waitlist) + 1))
    return [w.registration_id for w in saved.waitlist]


async def test_a_trio_joining_the_end_of_the_waitlist_writes_only_its_own_row(store: MessageStore) -> None:
    slug, rids = await waitlist_of_twenty(store)

    costs = await approve_late(store, slug, "late", START + timedelta(hours=1))

    assert costs["waitlist"][1:] == (1, 0)  # one row inserted, none renumbered
    assert await waitlist_after(store, slug) == [*rids[8:], "late"]


async def test_a_trio_ranked_ahead_renumbers_only_the_trios_behind_it(store: MessageStore) -> None:
    slug, rids = await waitlist_of_twenty(store)

    # Registered between the 10th and 11th trio: it goes ahead of the last ten on the waitlist.
    costs = await approve_late(store, slug, "early", START + timedelta(minutes=9, seconds=30))

    assert costs["waitlist"][1:] == (1, 20)  # its row; the ten behind it moved (twice: out of the way, then back)
    assert await waitlist_after(store, slug) == [*rids[8:10], "early", *rids[10:]]


async def test_placing_a_trio_directly_costs_the_same_rows_in_an_edition_of_ten_as_in_one_of_two_hundred(
    store: MessageStore,
) -> None:
    costs = []
    for size in (10, 200):
        slug = await schedule(store, deadline=utcnow() - timedelta(minutes=1), max_trios=size + 5)
        assert await entrypoints.allocate_due(store, utcnow()) == [slug]
        consumers = consumes.consumers(store)
        for n in range(size):
            rid = f"p{n:03d}-{uuid.uuid4().hex[:6]}"
            await consumers[TrioRegistered.routing_key](registered(slug, rid, START + timedelta(minutes=n)))
            await consumers[RegistrationApproved.routing_key](approved(slug, rid))
        costs.append(await approve_late(store, slug, f"late-{uuid.uuid4().hex[:6]}", START + timedelta(hours=9)))
    small, large = costs
    # Rows read, inserted and updated per table: nothing that grows with the edition.
    assert small == large, (small, large)
    assert small["placements"][1] == 1 and small["seats"][1] == 3  # its place, and a seat per session


async def test_a_new_registration_reads_none_of_the_places_or_the_waitlist(store: MessageStore) -> None:
    slug, _ = await waitlist_of_twenty(store)
    event = Event[TrioRegistered].model_validate_json(registered(slug, "new", START + timedelta(hours=1)).body)

    async with store.db.transaction() as session:
        before = await _table_stats(session)
        await handlers.remember_registration(event.data, **admitting(session), emit=lambda _: None, now=utcnow())
        after = await _table_stats(session)

    for table in ("placements", "waitlist", "seats"):
        assert after.get(table, (0,))[0] == before.get(table, (0,))[0]  # was every place and entry, each time


async def _table_stats(session: AsyncSession) -> dict[str, tuple[int, int, int]]:
    """Per table of places and seating: rows read so far in this transaction (sequential and index scans),
    inserted and updated."""
    rows = (
        await session.execute(
            text(
                "SELECT relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0), n_tup_ins, n_tup_upd "
                "FROM pg_stat_xact_user_tables "
                "WHERE relname IN ('placements', 'waitlist', 'seats', 'seating_tables', 'editions')"
            )
        )
    ).all()
    return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}
