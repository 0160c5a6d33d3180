"""A registration's history in registration's store: appended in the unit of work of the event it records."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..domain import ERASED
from ..history import HistoryEntry
from .tables import HistoryRow


class SqlHistory:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *entries: HistoryEntry) -> None:
        if not entries:
            return
        await self.session.execute(
            insert(HistoryRow),
            [
                {
                    "registration_id": e.registration_id,
                    "at": e.at,
                    "event": e.event,
                    "summary": e.summary,
                    "reason": e.reason,
                    "actor": e.actor,
                }
                for e in entries
            ],
        )

    async def erase(self, registration_id: str) -> None:
        """The reasons are free text someone typed (and may name people): they go with the personal data."""
        await self.session.execute(
            update(HistoryRow)
            .where(HistoryRow.registration_id == registration_id, HistoryRow.reason.is_not(None))
            .values(reason=ERASED)
        )

    async def of(self, registration_id: str) -> list[HistoryEntry]:
        rows = await self.session.execute(
            select(HistoryRow)
            .where(HistoryRow.registration_id == registration_id)
            .order_by(HistoryRow.at, HistoryRow.id)
        )
        return [_entry(row) for row in rows.scalars()]


def _entry(row: HistoryRow) -> HistoryEntry:
    return HistoryEntry(
        registration_id=row.registration_id,
        at=row.at,
        event=row.event,
        summary=row.summary,
        reason=row.reason,
        actor=row.actor,
    )
