"""Scheduling against a real PostgreSQL: competing replicas on one edition, the deadline timer, the migration."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from services.scheduling import consumes, entrypoints, handlers
from services.scheduling.adapters import Inbox, Outbox, PlacementRow, SqlEditions, WaitlistRow
from services.scheduling.bootstrap import MIGRATIONS, POOL_SIZE
from services.scheduling.copies import SqlRegistrations
from services.scheduling.places import SqlPlaces
from services.scheduling.seats import SqlSeats
from services.scheduling.seed import load_programme, moved_into_future
from shared.contract import Event
from shared.contract.registration import RegistrationApproved, TrioRegistered
from shared.contract.scheduling import SchedulingCommandRejected
from shared.db import Database, alembic_config, migrate, utcnow
from shared.messaging.messages import Incoming
from shared.messaging.processing import MessageStore
from tests.support import database_url

pytestmark = pytest.mark.integration


@pytest.fixture
async def url(pg_database) -> str:
    return database_url(await pg_database("scheduling"))


@pytest.fixture
async def replicas(url: str) -> AsyncIterator[list[MessageStore]]:
    """Three replicas' stores: each its own engine (connection pool) on the one database."""
    stores = [
        MessageStore(Database(url, pool_size=POOL_SIZE), "scheduling", Outbox, Inbox, SchedulingCommandRejected)
        for _ in range(3)
    ]
    await migrate(stores[0].db, MIGRATIONS, "scheduling")
    yield stores
    for store in stores:
        await store.db.dispose()


def envelope(data: object, name: str) -> Incoming:
    event_id = str(uuid.uuid4())
    body = Event[type(data)](
        event_id=event_id,
        type=name,
        version=1,
        occurred_at=utcnow(),  # type: ignore[misc]
        producer="registration",
        correlation_id=event_id,
        causation_id=event_id,
        data=data,
    )
    return Incoming(
        body=body.model_dump_json().encode(), routing_key=data.routing_key, message_id=event_id, message_type=name
    )


def registered(edition: str, rid: str, at: datetime) -> Incoming:
    data = TrioRegistered.model_validate(
        {
            "registration_id": rid,
            "edition": edition,
            "registered_at": at.isoformat(),
            "municipality": {
                "code": "GM0345",
                "name": "Veenendaal",
                "province": "Utrecht",
                "inhabitants": 66000,
                "size_class": "middelgroot",
                "m50_member": True,
            },
            "members": [
                {
                    "member_id": f"{rid}-{i}",
                    "name": "Lid",
                    "email": f"lid{i}@veenendaal.example",
                    "role": "wijkambtenaar" if i == 0 else "sectorambtenaar",
                    "domain": ["sociaal", "fysiek", "veiligheid"][i],
                    "language": "nl",
                }
                for i in range(3)
            ],
            "case": {
                "title": "Casus",
                "neighbourhood": "Wijk",
                "summary": "Samenvatting",
                "domains": ["fysiek", "sociaal"],
            },
            "fee": {"amount_cents": 0, "waived": True, "reason": "middelgroot"},
            "priority": True,
            "preferred_domain_mix": True,
            "consent": {"privacy": True},
            "channel": "web",
        }
    )
    return envelope(data, "TrioRegistered")


def approved(edition: str, rid: str) -> Incoming:
    return envelope(
        RegistrationApproved(registration_id=rid, edition=edition, approved_at=utcnow(), by_organizer=True),
        "RegistrationApproved",
    )


async def schedule(store: MessageStore, *, deadline: datetime, max_trios: int | None = None) -> str:
    command_ = moved_into_future(load_programme(), utcnow())
    command_ = command_.model_copy(update={"edition": f"e-{uuid.uuid4().hex[:8]}", "registration_deadline": deadline})
    if max_trios is not None:
        capacity = command_.capacity.model_copy(update={"max_trios": max_trios})
        command_ = command_.model_copy(update={"capacity": capacity})
    async with store.db.transaction() as session:
        await handlers.schedule_edition(
            command_,
            editions=SqlEditions(session),
            registrations=SqlRegistrations(session),
            seats=SqlSeats(session),
            emit=[].append,
            now=utcnow(),
        )
    return command_.edition


async def outbox_types(store: MessageStore) -> list[str]:
    async with store.db.sessions() as session:
        return list((await session.execute(select(Outbox.message_type).order_by(Outbox.position))).scalars())


async def test_thirty_approvals_handled_at_once_by_three_replicas_fill_eight_places_and_number_the_rest(
    replicas: list[MessageStore],
) -> None:
    slug = await schedule(replicas[0], deadline=utcnow() - timedelta(minutes=1))
    assert await entrypoints.allocate_due(replicas[0], utcnow()) == [slug]
    consumers = [consumes.consumers(store) for store in replicas]
    start = utcnow() - timedelta(days=1)
    rids = [str(uuid.uuid4()) for _ in range(30)]
    for n, rid in enumerate(rids):
        await consumers[n % 3][TrioRegistered.routing_key](registered(slug, rid, start + timedelta(minutes=n)))

    await asyncio.gather(
        *(consumers[n % 3][RegistrationApproved.routing_key](approved(slug, rid)) for n, rid in enumerate(rids))
    )

    async with replicas[0].db.sessions() as session:
        edition = await SqlEditions(session).get(slug)
    assert edition is not None
    assert len(edition.placements) == 8 and sorted(p.slot for p in edition.placements) == list(range(1, 9))
    assert [w.position for w in edition.waitlist] == list(range(1, 23))
    order = {rid: n for n, rid in enumerate(rids)}
    assert [order[w.registration_id] for w in edition.waitlist] == sorted(
        order[w.registration_id] for w in edition.waitlist
    )
    assert (await outbox_types(replicas[0])).count("TrioPlaced") == 8


async def test_the_deadline_passing_in_three_replicas_at_once_allocates_once(replicas: list[MessageStore]) -> None:
    deadline = utcnow() + timedelta(minutes=5)
    slug = await schedule(replicas[0], deadline=deadline)
    consumers = consumes.consumers(replicas[0])
    for n in range(3):
        rid = str(uuid.uuid4())
        await consumers[TrioRegistered.routing_key](registered(slug, rid, utcnow() + timedelta(seconds=n)))
        await consumers[RegistrationApproved.routing_key](approved(slug, rid))
    assert await entrypoints.allocate_due(replicas[0], deadline - timedelta(seconds=1)) == []

    results = await asyncio.gather(
        *(entrypoints.allocate_due(store, deadline + timedelta(seconds=1)) for store in replicas for _ in range(3))
    )

    assert sum(len(r) for r in results) == 1
    types = await outbox_types(replicas[0])
    assert types.count("RegistrationClosed") == 1 and types.count("TrioPlaced") == 3
    assert types.count("SeatingPlanned") == 3


async def test_a_writer_that_skipped_the_lock_still_cannot_give_one_place_to_two_trios(
    replicas: list[MessageStore],
) -> None:
    slug = await schedule(replicas[0], deadline=utcnow() - timedelta(minutes=1))
    await entrypoints.allocate_due(replicas[0], utcnow())
    started = asyncio.Event()

    async def place(store: MessageStore, rid: str) -> None:
        async with store.db.transaction() as session:
            edition = await SqlEditions(session, lock=False).get(slug, for_update=True, places=False)
            assert edition is not None
            places = SqlPlaces(session)
            assert edition.has_room(await places.count(slug), utcnow())
            await places.add(slug, rid, "direct", True, utcnow(), utcnow())
            if not started.is_set():
                started.set()
                await asyncio.sleep(0.3)  # let the other writer read the same edition, its place not committed

    results = await asyncio.gather(place(replicas[0], "a"), place(replicas[1], "b"), return_exceptions=True)
    assert sum(isinstance(r, IntegrityError) for r in results) == 1
    async with replicas[0].db.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(PlacementRow))).scalar_one() == 1


async def test_places_kept_in_the_old_json_list_survive_the_migration(url: str) -> None:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            await conn.run_sync(_upgrade_to, "f83a3c43c2cd")
            await conn.execute(
                text(
                    "INSERT INTO editions VALUES ('e', 't', '{}', 6, 8, '2027-09-27 10:00+00', '2027-10-15 11:00+00', "
                    "'{}', '[\"middelgroot\"]', 2, '[\"r1\", \"r2\"]', now())"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO registrations VALUES ('r1', 'e', 'GM0345', 'middelgroot', true, '2027-09-01 08:00+00')"
                )
            )
            await conn.commit()
        await migrate(db, MIGRATIONS, "scheduling")
        async with db.sessions() as session:
            edition = await SqlEditions(session).get("e")
            waiting = (await session.execute(select(func.count()).select_from(WaitlistRow))).scalar_one()
        assert edition is not None and edition.placed_ids == ["r1", "r2"]
        assert [p.priority for p in edition.placements] == [True, False]
        assert edition.allocated_at == edition.registration_deadline and waiting == 0
    finally:
        await db.dispose()


def _upgrade_to(sync_connection, revision: str) -> None:
    cfg = alembic_config(MIGRATIONS)
    cfg.attributes["connection"] = sync_connection
    command.upgrade(cfg, revision)
