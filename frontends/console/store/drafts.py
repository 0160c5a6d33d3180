"""The console's drafts on one SQLAlchemy session (the caller's transaction): a session's check-in at the door
(every tap by its id, and where each trio stands) and a session's notes before and after they are sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import upsert

from .tables import CheckinMarkRow, CheckinTapRow, NotesDraftRow


class SqlCheckin:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, tap: CheckinTapRow) -> bool:
        """Record TAP; False when a tap with its id was recorded before (by this request's retry or another
        replica at the same moment: ON CONFLICT waits for that one's transaction, then reports the conflict)."""
        table = cast(Table, CheckinTapRow.__table__)
        values = {column.name: getattr(tap, column.key) for column in table.columns}
        statement = (
            upsert(self.session)(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(table.c.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def tap(self, tap_id: str) -> CheckinTapRow | None:
        return await self.session.get(CheckinTapRow, tap_id)

    async def apply(self, tap: CheckinTapRow) -> None:
        """Make TAP the trio's mark unless the mark comes from a later tap (ties: the larger tap id), in one
        statement, so two taps about one trio arriving together cannot both win."""
        table = cast(Table, CheckinMarkRow.__table__)
        insert = upsert(self.session)(table).values(
            edition=tap.edition,
            session_number=tap.session_number,
            registration_id=tap.registration_id,
            present=tap.present,
            tapped_at=tap.tapped_at,
            tap_id=tap.id,
        )
        later = or_(
            table.c.tapped_at < insert.excluded.tapped_at,
            and_(table.c.tapped_at == insert.excluded.tapped_at, table.c.tap_id < insert.excluded.tap_id),
        )
        statement = insert.on_conflict_do_update(
            index_elements=["edition", "session_number", "registration_id"],
            set_={
                "present": insert.excluded.present,
                "tapped_at": insert.excluded.tapped_at,
                "tap_id": insert.excluded.tap_id,
            },
            where=later,
        )
        await self.session.execute(statement)

    async def marks(self, edition: str, session_number: int) -> Sequence[CheckinMarkRow]:
        query = select(CheckinMarkRow).where(
            CheckinMarkRow.edition == edition, CheckinMarkRow.session_number == session_number
        )
        return (await self.session.execute(query)).scalars().all()

    async def present(self, edition: str, session_number: int) -> list[str]:
        """The registrations marked present, in a stable order."""
        return sorted(m.registration_id for m in await self.marks(edition, session_number) if m.present)


class SqlNotesDrafts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, edition: str, session_number: int) -> NotesDraftRow | None:
        return await self.session.get(NotesDraftRow, (edition, session_number))

    async def forget(self, edition: str, session_number: int) -> None:
        await self.session.execute(
            delete(NotesDraftRow).where(
                NotesDraftRow.edition == edition, NotesDraftRow.session_number == session_number
            )
        )

    async def save(
        self, edition: str, session_number: int, notes: dict[str, Any], *, by: str, now: datetime
    ) -> NotesDraftRow:
        row = await self.get(edition, session_number)
        if row is None:
            row = NotesDraftRow(
                edition=edition, session_number=session_number, notes=notes, updated_at=now, updated_by=by
            )
            self.session.add(row)
        else:
            row.notes, row.updated_at, row.updated_by = notes, now, by
        await self.session.flush()
        return row
