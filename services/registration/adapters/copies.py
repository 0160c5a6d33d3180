"""Registration's copies of scheduling's facts (event-carried state): the editions and each session's seating."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import upsert

from ..domain import Edition
from ..seating import Seat, plan_change, trio_seat_change
from .tables import EditionRow, SeatingPlanRow, SeatRow

EDITION_FIELDS = (
    "title",
    "registration_closes_at",
    "registration_deadline",
    "fee",
    "priority_size_classes",
    "sessions",
    "scheduled_at",
)


class SqlEditions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None:
        query = select(EditionRow).where(EditionRow.slug == slug)
        if for_update:
            # Registrations of one edition take turns on PostgreSQL, so the check that a member is not
            # already registered sees every registration committed before. (SQLite ignores FOR UPDATE;
            # there the Database's write lock already serialises writers.)
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        if row is None:
            return None
        return Edition(slug=row.slug, **{f: getattr(row, f) for f in EDITION_FIELDS})

    async def all(self) -> list[Edition]:
        rows = (await self.session.execute(select(EditionRow).order_by(EditionRow.slug))).scalars()
        return [Edition(slug=row.slug, **{f: getattr(row, f) for f in EDITION_FIELDS}) for row in rows]

    async def save(self, edition: Edition) -> None:
        row = await self.session.get(EditionRow, edition.slug)
        if row is None:
            row = EditionRow(slug=edition.slug)
            self.session.add(row)
        for f in EDITION_FIELDS:
            setattr(row, f, getattr(edition, f))


class SqlSeating:
    """A seat per trio and session (seats) and when each session was last planned whole (seating_plans): a trio
    seated on its own writes its own rows, whatever the size of the edition."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def plan_session(
        self, edition: str, session_number: int, tables: Mapping[str, int], planned_at: datetime
    ) -> dict[str, int]:
        """Apply a session's whole plan (registration id -> table) unless a newer one was; the trios whose table
        is new or changed. Taking the session's row first makes plans of the session, and trios seated in it on
        their own, take turns: the seats read below are all there are until this commits."""
        plans = SeatingPlanRow.__table__
        newest = (
            upsert(self.session)(plans)
            .values(edition=edition, session_number=session_number, planned_at=planned_at)
            .on_conflict_do_update(
                index_elements=["edition", "session_number"],
                set_={"planned_at": planned_at},
                where=or_(plans.c.planned_at.is_(None), plans.c.planned_at < planned_at),
            )
        )
        if not cast(CursorResult[Any], await self.session.execute(newest)).rowcount:
            return {}  # a newer plan of the session was applied: this one, delivered late, changes nothing
        rows = await self.session.execute(
            select(SeatRow.registration_id, SeatRow.table_number, SeatRow.seated_at).where(
                SeatRow.edition == edition, SeatRow.session_number == session_number
            )
        )
        change = plan_change({rid: Seat(table, at) for rid, table, at in rows.all()}, tables, planned_at)
        await self._store(edition, [(rid, session_number, table) for rid, table in change.seats.items()], planned_at)
        for released in _chunks(change.released):
            await self.session.execute(
                delete(SeatRow).where(
                    SeatRow.edition == edition,
                    SeatRow.session_number == session_number,
                    SeatRow.registration_id.in_(released),
                    SeatRow.seated_at < planned_at,
                )
            )
        return change.seats

    async def seat_trio(
        self, edition: str, registration_id: str, tables: Mapping[int, int], seated_at: datetime
    ) -> dict[int, int]:
        """Apply one trio's seats (session number -> table); session number -> table for those new or changed.
        A few statements for the trio's own rows, whatever the size of the edition."""
        if not tables:
            return {}
        sessions = sorted(tables)
        # Each session's row, made if no plan came yet, taken shared: trios seated at once do not wait for each
        # other, a whole plan of the session waits for them (and they for it).
        await self.session.execute(
            upsert(self.session)(SeatingPlanRow.__table__)
            .values([{"edition": edition, "session_number": n, "planned_at": None} for n in sessions])
            .on_conflict_do_nothing(index_elements=["edition", "session_number"])
        )
        planned = await self.session.execute(
            select(SeatingPlanRow.session_number, SeatingPlanRow.planned_at)
            .where(SeatingPlanRow.edition == edition, SeatingPlanRow.session_number.in_(sessions))
            .order_by(SeatingPlanRow.session_number)
            .with_for_update(read=True)
        )
        stored = await self.session.execute(
            select(SeatRow.session_number, SeatRow.table_number, SeatRow.seated_at)
            .where(SeatRow.registration_id == registration_id, SeatRow.session_number.in_(sessions))
            .with_for_update()
        )
        change = trio_seat_change(
            {n: Seat(table, at) for n, table, at in stored.all()}, {n: at for n, at in planned.all()}, tables, seated_at
        )
        await self._store(edition, [(registration_id, n, table) for n, table in change.seats.items()], seated_at)
        return change.changed

    async def _store(self, edition: str, seats: Sequence[tuple[str, int, int]], seated_at: datetime) -> None:
        """Upsert seats (registration id, session number, table) decided at `seated_at`; a stored seat decided
        later stays. In batches, within the database's limit on parameters of one statement."""
        table = SeatRow.__table__
        for batch in _chunks(seats):
            insert = upsert(self.session)(table).values(
                [
                    {
                        "registration_id": rid,
                        "session_number": n,
                        "edition": edition,
                        "table_number": number,
                        "seated_at": seated_at,
                    }
                    for rid, n, number in batch
                ]
            )
            await self.session.execute(
                insert.on_conflict_do_update(
                    index_elements=["registration_id", "session_number"],
                    set_={"table_number": insert.excluded.table_number, "seated_at": insert.excluded.seated_at},
                    where=table.c.seated_at < insert.excluded.seated_at,
                )
            )

    async def tables_of(self, edition: str, registration_id: str) -> dict[int, int]:
        """Session number -> the trio's table, for the sessions where it has a seat."""
        rows = await self.session.execute(
            select(SeatRow.session_number, SeatRow.table_number).where(
                SeatRow.registration_id == registration_id, SeatRow.edition == edition
            )
        )
        return {number: table for number, table in rows.all()}


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = 1000) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
