"""Registration's copies of scheduling's facts (event-carried state): the editions and each session's seating."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import upsert

from ..domain import Edition
from .tables import EditionRow, SeatingPlanRow

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
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, edition: str, session_number: int, tables: dict[str, int], planned_at: datetime) -> bool:
        """Keep the plan unless a newer one is stored; False when this one was older. One statement, so two
        replicas applying two replans of the same session cannot interleave."""
        table = SeatingPlanRow.__table__
        statement = (
            upsert(self.session)(table)
            .values(edition=edition, session_number=session_number, tables=tables, planned_at=planned_at)
            .on_conflict_do_update(
                index_elements=["edition", "session_number"],
                set_={"tables": tables, "planned_at": planned_at},
                where=table.c.planned_at < planned_at,
            )
        )
        return bool(cast(CursorResult[Any], await self.session.execute(statement)).rowcount)

    async def plan(self, edition: str, session_number: int) -> dict[str, int] | None:
        """The session's latest plan (registration id -> table), None before the first."""
        row = await self.session.get(SeatingPlanRow, (edition, session_number))
        return dict(row.tables) if row is not None else None

    async def tables_of(self, edition: str, registration_id: str) -> dict[int, int]:
        """Session number -> the trio's table, for the sessions whose seating is planned."""
        plans = (await self.session.execute(select(SeatingPlanRow).where(SeatingPlanRow.edition == edition))).scalars()
        return {plan.session_number: plan.tables[registration_id] for plan in plans if registration_id in plan.tables}
