"""Reminders follow the seating on real PostgreSQL: a trio seated after the plan (scheduling.TrioSeated) costs the
same whatever the size of the edition, and the newer of its seats and a whole plan gives its reminders their table
in whichever order they arrive."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event as sql_events
from sqlalchemy import select

from services.notifications import bootstrap
from services.notifications.store import Inbox, Outbox, ReminderRow
from shared.contract import Event, EventData
from shared.contract.common import CommandRejected
from shared.contract.scheduling import SeatingPlanned, TrioSeated
from shared.db import Database, migrate, utcnow
from shared.messaging.messages import Incoming
from shared.messaging.processing import MessageStore
from tests.integration.test_notifications_exactly_once import EDITION, edition_scheduled, receive
from tests.support import database_url

pytestmark = pytest.mark.integration

T0 = utcnow()


def at(minutes: int, data: EventData) -> Incoming:
    """The event as scheduling published it `minutes` after T0."""
    name = data.routing_key.split(".", 1)[1]
    event = Event[type(data)](  # type: ignore[misc]
        event_id=str(uuid.uuid4()),
        type=name,
        version=1,
        occurred_at=T0 + timedelta(minutes=minutes),
        producer="scheduling",
        correlation_id="corr-1",
        causation_id="cmd-1",
        data=data,
    )
    return Incoming(
        body=event.model_dump_json().encode(),
        routing_key=data.routing_key,
        message_id=event.event_id,
        message_type=name,
        correlation_id="corr-1",
    )


def plan(*tables: list[str]) -> SeatingPlanned:
    return SeatingPlanned(
        edition=EDITION,
        session_number=1,
        tables=[{"table": n, "registration_ids": ids} for n, ids in enumerate(tables, 1)],
    )


def seated(registration_id: str, table: int) -> TrioSeated:
    return TrioSeated(edition=EDITION, registration_id=registration_id, seats=[{"session_number": 1, "table": table}])


async def new_store(pg_database: Callable[..., Any]) -> MessageStore:
    db = Database(database_url(await pg_database("notifications")))
    await migrate(db, bootstrap.MIGRATIONS, "notifications")
    store = MessageStore(db, "notifications", Outbox, Inbox, CommandRejected)
    await receive(store, edition_scheduled(utcnow() + timedelta(days=30)))
    return store


async def tables(store: MessageStore) -> dict[tuple[str, str], int | None]:
    async with store.db.sessions() as session:
        rows = await session.execute(select(ReminderRow.registration_id, ReminderRow.offset, ReminderRow.table_number))
        return {(rid, offset): table for rid, offset, table in rows.all()}


@pytest.mark.parametrize("trios", [3, 300])
async def test_a_trio_seated_after_the_plan_gets_its_reminders_in_one_write_whatever_the_editions_size(
    pg_database: Callable[..., Any], trios: int
) -> None:
    store = await new_store(pg_database)
    ids = [f"reg-{i}" for i in range(trios)]
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    try:
        await receive(store, at(0, plan(*(ids[i : i + 3] for i in range(0, trios, 3)))))
        before = await tables(store)
        sql_events.listen(store.db.engine.sync_engine, "before_cursor_execute", count)
        await receive(store, at(1, seated("reg-new", 7)))
        sql_events.remove(store.db.engine.sync_engine, "before_cursor_execute", count)
        after = await tables(store)
    finally:
        await store.db.dispose()
    reminder_writes = [
        s for s in statements if "reminders" in s and s.lstrip().upper().startswith(("INSERT", "UPDATE"))
    ]
    assert len(reminder_writes) == 1
    assert {key: table for key, table in after.items() if key[0] != "reg-new"} == before  # the others untouched
    assert {key: table for key, table in after.items() if key[0] == "reg-new"} == {
        ("reg-new", "7d"): 7,
        ("reg-new", "1d"): 7,
    }
    assert len(statements) == 3  # the inbox claim, the edition, the upsert: for 3 trios as for 300


@pytest.mark.parametrize("plan_first", [True, False])
async def test_the_newer_of_a_trios_seats_and_a_whole_plan_wins_in_either_order(
    pg_database: Callable[..., Any], plan_first: bool
) -> None:
    store = await new_store(pg_database)
    try:
        await receive(store, at(0, plan(["reg-1", "reg-2"])))
        late_seat, newer_plan = at(1, seated("reg-1", 5)), at(2, plan(["reg-2"], ["reg-1"]))
        for message in (newer_plan, late_seat) if plan_first else (late_seat, newer_plan):
            await receive(store, message)
        settled = await tables(store)
        await receive(store, at(3, seated("reg-1", 6)))
        moved = await tables(store)
    finally:
        await store.db.dispose()
    assert settled == {("reg-1", "7d"): 2, ("reg-1", "1d"): 2, ("reg-2", "7d"): 1, ("reg-2", "1d"): 1}
    assert moved == settled | {("reg-1", "7d"): 6, ("reg-1", "1d"): 6}


async def test_a_plan_with_more_reminders_than_one_statement_takes_parameters_plans_them_all(
    pg_database: Callable[..., Any],
) -> None:
    store = await new_store(pg_database)
    ids = [f"reg-{i}" for i in range(1500)]  # 3,000 reminders of 13 columns: more than 32,767 parameters
    try:
        await receive(store, at(0, plan(*(ids[i : i + 3] for i in range(0, len(ids), 3)))))
        planned = await tables(store)
    finally:
        await store.db.dispose()
    assert len(planned) == 3000 and planned[("reg-1499", "1d")] == 500


async def test_trios_seated_and_whole_plans_on_two_replicas_at_once_apply_at_the_first_attempt_newest_winning(
    pg_database: Callable[..., Any],
) -> None:
    name = await pg_database("notifications")
    replicas = [Database(database_url(name)) for _ in range(2)]
    await migrate(replicas[0], bootstrap.MIGRATIONS, "notifications")
    stores = [MessageStore(db, "notifications", Outbox, Inbox, CommandRejected) for db in replicas]
    trios = [f"reg-{i}" for i in range(24)]
    try:
        await receive(stores[0], edition_scheduled(utcnow() + timedelta(days=30)))
        # Plans at even minutes seat every trio; at odd minutes each trio is seated on its own at table 100 + minute.
        messages = [
            at(minute, plan(*(trios[i : i + 3] for i in range(0, 24, 3))))
            if minute % 2 == 0
            else at(minute, seated(rid, 100 + minute))
            for minute in range(8, -1, -1)
            for rid in (trios if minute % 2 else trios[:1])
        ]
        random.Random(19).shuffle(messages)
        # A consumer raises when its message must be retried: gather fails the test on the first retry.
        await asyncio.gather(*(receive(stores[i % 2], message) for i, message in enumerate(messages)))
        planned = await tables(stores[0])
    finally:
        for db in replicas:
            await db.dispose()
    assert planned == {(rid, offset): i // 3 + 1 for i, rid in enumerate(trios) for offset in ("7d", "1d")}
