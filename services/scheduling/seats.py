"""Scheduling's seating store: a row per trio and session (SeatRow), and per table how many sit there
(SeatingTableRow), so that seating one more trio reads the tables with room and writes its own rows.

Every writer holds the edition's row lock (taken by the handler), so the counts never race."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import upsert

from .adapters import SeatingTableRow, SeatRow

SEATS = cast(Table, SeatRow.__table__)
TABLES = cast(Table, SeatingTableRow.__table__)

Tables = list[list[str]]


class SqlSeats:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def plan(self, edition: str, session_number: int) -> dict[int, list[str]]:
        """The session's tables by number (none before its seating is planned), each in registration_id order."""
        rows = await self.session.execute(
            select(SEATS.c.table_number, SEATS.c.registration_id)
            .where(SEATS.c.edition == edition, SEATS.c.session_number == session_number)
            .order_by(SEATS.c.table_number, SEATS.c.registration_id)
        )
        tables: dict[int, list[str]] = defaultdict(list)
        for number, registration_id in rows.all():
            tables[number].append(registration_id)
        return dict(tables)

    async def with_room(
        self, edition: str, sessions: Sequence[int], table_size: int
    ) -> dict[int, tuple[dict[int, list[str]], int]]:
        """Per session: the tables with room for another trio (empty ones included) with who sits there, and the
        number a new table would get. Two statements whatever the number of sessions or tables."""
        if not sessions:
            return {}
        rows = await self.session.execute(
            select(TABLES.c.session_number, TABLES.c.table_number, SEATS.c.registration_id)
            .outerjoin(
                SEATS,
                (SEATS.c.edition == TABLES.c.edition)
                & (SEATS.c.session_number == TABLES.c.session_number)
                & (SEATS.c.table_number == TABLES.c.table_number),
            )
            .where(
                TABLES.c.edition == edition, TABLES.c.session_number.in_(list(sessions)), TABLES.c.seated < table_size
            )
        )
        room: dict[int, dict[int, list[str]]] = {number: {} for number in sessions}
        for session_number, number, registration_id in rows.all():
            seated = room[session_number].setdefault(number, [])
            if registration_id is not None:
                seated.append(registration_id)
        # One index step per session (the highest table number), in one statement.
        highest = [
            select(func.max(TABLES.c.table_number))
            .where(TABLES.c.edition == edition, TABLES.c.session_number == number)
            .scalar_subquery()
            for number in sessions
        ]
        news = (await self.session.execute(select(*highest))).one()
        return {number: (room[number], int(new or 0) + 1) for number, new in zip(sessions, news, strict=True)}

    async def seat(self, edition: str, registration_id: str, seats: Sequence[tuple[int, int]]) -> None:
        """The trio sits at (session_number, table_number) for each pair given."""
        if not seats:
            return
        await self.session.execute(
            insert(SEATS),
            [
                {"edition": edition, "session_number": n, "registration_id": registration_id, "table_number": t}
                for n, t in seats
            ],
        )
        counts = upsert(self.session)(TABLES).values(
            [{"edition": edition, "session_number": n, "table_number": t, "seated": 1} for n, t in seats]
        )
        await self.session.execute(
            counts.on_conflict_do_update(
                index_elements=["edition", "session_number", "table_number"], set_={"seated": TABLES.c.seated + 1}
            )
        )

    async def unseat(self, edition: str, registration_id: str, sessions: Sequence[int]) -> None:
        """The trio leaves its table at each of these sessions; the table keeps its number."""
        if not sessions:
            return
        left = await self.session.execute(
            delete(SEATS)
            .where(
                SEATS.c.edition == edition,
                SEATS.c.registration_id == registration_id,
                SEATS.c.session_number.in_(list(sessions)),
            )
            .returning(SEATS.c.session_number, SEATS.c.table_number)
        )
        for session_number, number in left.all():
            await self.session.execute(
                update(TABLES)
                .where(
                    TABLES.c.edition == edition,
                    TABLES.c.session_number == session_number,
                    TABLES.c.table_number == number,
                )
                .values(seated=TABLES.c.seated - 1)
            )

    async def replace(self, edition: str, session_number: int, tables: Tables) -> None:
        """A whole new plan of the session: tables numbered from 1 in the order given."""
        await self.forget(edition, [session_number])
        seats = [
            {"edition": edition, "session_number": session_number, "registration_id": rid, "table_number": number}
            for number, table in enumerate(tables, start=1)
            for rid in table
        ]
        if seats:
            await self.session.execute(insert(SEATS), seats)
            await self.session.execute(
                insert(TABLES),
                [
                    {"edition": edition, "session_number": session_number, "table_number": number, "seated": len(t)}
                    for number, t in enumerate(tables, start=1)
                ],
            )

    async def forget(self, edition: str, sessions: Sequence[int]) -> None:
        """No seating at these sessions (a session an edition no longer has, or before a new plan)."""
        for table in (SEATS, TABLES):
            await self.session.execute(
                delete(table).where(table.c.edition == edition, table.c.session_number.in_(list(sessions)))
            )

    async def sessions(self, edition: str) -> set[int]:
        """The sessions whose seating is planned."""
        rows = await self.session.execute(select(TABLES.c.session_number).where(TABLES.c.edition == edition).distinct())
        return set(rows.scalars())
