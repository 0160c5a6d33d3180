"""Scheduling's waitlist is saved by difference: joining the end of a long list writes one row, not the list."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import consumes, entrypoints, handlers
from services.scheduling.adapters import SqlEditions, SqlRegistrations
from services.scheduling.domain import Trio
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


async def admit(store: MessageStore, slug: str, rid: str, registered_at: datetime) -> tuple[int, int, list[str]]:
    """Admit one approved trio; the waitlist rows this transaction inserted and deleted, and the list after it."""
    async with store.db.transaction() as session:
        # Read before and after: the backend's pending counts may still hold its earlier transactions' rows.
        before = await _waitlist_writes(session)
        editions = SqlEditions(session)
        edition = await editions.get(slug, for_update=True)
        assert edition is not None
        trio = Trio(
            registration_id=rid,
            priority=True,
            registered_at=registered_at,
            municipality="GM0345",
            size_class="middelgroot",
            domains=("fysiek", "sociaal", "veiligheid"),
        )
        edition.admit(trio, utcnow())
        await editions.save(edition)
        await session.flush()
        after = await _waitlist_writes(session)
    inserted, deleted = after[0] - before[0], after[1] - before[1]
    async with store.db.sessions() as session:
        saved = await SqlEditions(session).get(slug)
    assert saved is not None
    assert [w.position for w in saved.waitlist] == list(range(1, len(saved.waitlist) + 1))
    return inserted, deleted, [w.registration_id for w in saved.waitlist]


async def test_a_trio_joining_the_end_of_the_waitlist_writes_only_its_own_row(store: MessageStore) -> None:
    slug, rids = await waitlist_of_twenty(store)

    inserted, deleted, waiting = await admit(store, slug, "late", START + timedelta(hours=1))

    assert (inserted, deleted) == (1, 0)
    assert waiting == [*rids[8:], "late"]


async def test_a_trio_ranked_ahead_moves_everyone_behind_it_and_the_saved_list_matches(store: MessageStore) -> None:
    slug, rids = await waitlist_of_twenty(store)

    # Registered between the 10th and 11th trio: it goes ahead of the last ten on the waitlist.
    inserted, deleted, waiting = await admit(store, slug, "early", START + timedelta(minutes=9, seconds=30))

    assert (inserted, deleted) == (11, 10)
    assert waiting == [*rids[8:10], "early", *rids[10:]]


async def test_a_new_registration_reads_none_of_the_places_or_the_waitlist(store: MessageStore) -> None:
    slug, _ = await waitlist_of_twenty(store)
    event = Event[TrioRegistered].model_validate_json(registered(slug, "new", START + timedelta(hours=1)).body)

    async with store.db.transaction() as session:
        before = await _rows_read(session)
        await handlers.remember_registration(
            event.data,
            editions=SqlEditions(session),
            registrations=SqlRegistrations(session),
            emit=lambda _: None,
            now=utcnow(),
        )
        after = await _rows_read(session)

    assert after == before  # was 8 places and 12 waitlist entries for every TrioRegistered


async def _rows_read(session: AsyncSession) -> tuple[int, int]:
    """Rows of placements and waitlist read so far in this transaction (sequential and index scans)."""
    rows = (
        await session.execute(
            text(
                "SELECT relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables "
                "WHERE relname IN ('placements', 'waitlist') ORDER BY relname"
            )
        )
    ).all()
    return tuple(int(r[1]) for r in rows)  # type: ignore[return-value]


async def _waitlist_writes(session: AsyncSession) -> tuple[int, int]:
    row = (
        await session.execute(
            text("SELECT n_tup_ins, n_tup_del FROM pg_stat_xact_user_tables WHERE relname = 'waitlist'")
        )
    ).one()
    return int(row[0]), int(row[1])
