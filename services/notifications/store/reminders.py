"""The reminders planned for each session, claimed by whichever replica queues them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import upsert

from ..domain import Reminder
from .tables import ReminderRow

# Reminders per upsert: 13 parameters each stay under PostgreSQL's (asyncpg's) 32,767 per statement.
PLAN_BATCH = 2000


def _to_reminder(row: ReminderRow) -> Reminder:
    return Reminder(
        key=row.key,
        edition=row.edition,
        session_number=row.session_number,
        registration_id=row.registration_id,
        offset=row.offset,
        table=row.table_number,
        due_at=row.due_at,
        caused_by=row.caused_by,
        correlation_id=row.correlation_id,
        generation=row.generation,
        queued_at=row.queued_at,
        skipped=row.skipped,
        seated_at=row.seated_at,
    )


class SqlReminders:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str) -> Reminder | None:
        row = await self.session.get(ReminderRow, key, with_for_update=True, populate_existing=True)
        return _to_reminder(row) if row is not None else None

    async def save(self, reminder: Reminder) -> None:
        row = await self.session.get(ReminderRow, reminder.key)
        if row is None:
            row = ReminderRow(key=reminder.key)
            self.session.add(row)
        row.edition = reminder.edition
        row.session_number = reminder.session_number
        row.registration_id = reminder.registration_id
        row.offset = reminder.offset
        row.table_number = reminder.table
        row.due_at = reminder.due_at
        row.caused_by = reminder.caused_by
        row.correlation_id = reminder.correlation_id
        row.generation = reminder.generation
        row.queued_at = reminder.queued_at
        row.skipped = reminder.skipped
        row.seated_at = reminder.seated_at

    async def plan(self, reminders: Sequence[Reminder]) -> None:
        """One statement for a seating plan or one trio's seats (a batch per PLAN_BATCH reminders, within the
        database's limit on a statement's parameters): new reminders are added, those planned before keep their due
        time and state and only take their trio's new table, unless a newer seating gave them theirs (one delivered
        late changes nothing)."""
        table = ReminderRow.__table__
        # In key order: two statements locking some of the same reminders (a plan and a trio's seats) lock them
        # in the same order, so they wait for each other instead of deadlocking.
        ordered = sorted(reminders, key=lambda r: r.key)
        for start in range(0, len(ordered), PLAN_BATCH):
            insert = upsert(self.session)(table).values(
                [
                    {
                        "key": r.key,
                        "edition": r.edition,
                        "session_number": r.session_number,
                        "registration_id": r.registration_id,
                        "offset": r.offset,
                        "table_number": r.table,
                        "due_at": r.due_at,
                        "caused_by": r.caused_by,
                        "correlation_id": r.correlation_id,
                        "generation": r.generation,
                        "queued_at": r.queued_at,
                        "skipped": r.skipped,
                        "seated_at": r.seated_at,
                    }
                    for r in ordered[start : start + PLAN_BATCH]
                ]
            )
            await self.session.execute(
                insert.on_conflict_do_update(
                    index_elements=["key"],
                    set_={"table_number": insert.excluded.table_number, "seated_at": insert.excluded.seated_at},
                    where=or_(table.c.seated_at.is_(None), table.c.seated_at < insert.excluded.seated_at),
                )
            )

    async def of_session(self, edition: str, session_number: int) -> list[Reminder]:
        rows = await self.session.execute(
            select(ReminderRow)
            .where(ReminderRow.edition == edition, ReminderRow.session_number == session_number)
            .order_by(ReminderRow.key)
            .with_for_update()
        )
        return [_to_reminder(r) for r in rows.scalars()]

    async def due(self, now: datetime, limit: int = 100) -> list[Reminder]:
        """Due reminders nobody has queued yet; locked (SKIP LOCKED) so competing replicas take different ones."""
        query = (
            select(ReminderRow)
            .where(ReminderRow.queued_at.is_(None), ~ReminderRow.skipped, ReminderRow.due_at <= now)
            .order_by(ReminderRow.due_at)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name != "sqlite":
            query = query.with_for_update(skip_locked=True)
        return [_to_reminder(r) for r in (await self.session.execute(query)).scalars()]
