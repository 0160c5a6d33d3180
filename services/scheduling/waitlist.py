"""The waitlist changed in place, with set-based statements: one trio joining, leaving or moving renumbers the
trios behind it in two UPDATEs, whatever the waitlist's length, instead of loading and rewriting the list.

A trio admitted after the allocation joins in the allocation order (domain.rank) among the trios nobody moved
by hand: just before the first of them that ranks after it, or at the end. Those trios keep that order among
themselves (the allocation lists them so, joining keeps it, a move by hand takes the moved trio out of it), so
the first one ranking after it is one step down the rank index, not a search of the list.

Positions are unique per edition (uq_waitlist_edition_position) and both PostgreSQL and SQLite check that
constraint row by row during an UPDATE, so `position = position - 1` could collide midway. The rows that move are
therefore first turned negative (still unique) and then given their new positions; the trio that moves itself
waits at position 0 in between. The edition's row lock (taken by the handler) keeps every other writer out.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import BindParameter, ColumnElement, Table, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from .adapters import WAIT_FIELDS, WaitlistRow, waitlist_length
from .domain import Shift, WaitEntry, Waitlisted, shift_for_leaving, shift_for_move

TABLE = cast(Table, WaitlistRow.__table__)


def bindparam_like(column: ColumnElement[Any], value: object) -> BindParameter[Any]:
    """A value bound with its column's type (a tuple comparison does not take it from the column)."""
    return bindparam(None, value, type_=column.type)


PARKED = 0  # no trio ever holds position 0: the moving trio's place while the others make room


class SqlWaitlist:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def entry(self, edition: str, registration_id: str) -> WaitEntry | None:
        row = (
            await self.session.execute(
                select(TABLE).where(TABLE.c.edition == edition, TABLE.c.registration_id == registration_id)
            )
        ).one_or_none()
        return WaitEntry(**{f: getattr(row, f) for f in WAIT_FIELDS}) if row else None

    async def length(self, edition: str) -> int:
        return int((await self.session.execute(select(waitlist_length(edition)))).scalar_one())

    async def join(self, edition: str, entry: WaitEntry) -> list[Waitlisted]:
        """Add an admitted trio at its place in the order; it and every trio that made room, by position."""
        position = await self._first_ranking_after(edition, entry)
        others = await self._shift(edition, Shift(position, None, 1)) if position is not None else []
        if position is None:
            position = await self.length(edition) + 1
        values = {f: getattr(entry, f) for f in WAIT_FIELDS} | {"edition": edition, "position": position}
        await self.session.execute(insert(TABLE).values(values))
        return sorted([Waitlisted(entry.registration_id, position, None), *others], key=lambda w: w.position)

    async def _first_ranking_after(self, edition: str, entry: WaitEntry) -> int | None:
        later = tuple_(TABLE.c.registered_at, TABLE.c.registration_id) > tuple_(
            bindparam_like(TABLE.c.registered_at, entry.registered_at),
            bindparam_like(TABLE.c.registration_id, entry.registration_id),
        )
        # A priority trio ranks before every other trio; among its own group, by registration time.
        groups = [(entry.priority, later)] + ([(False, None)] if entry.priority else [])
        for priority, after in groups:
            query = select(TABLE.c.position).where(
                TABLE.c.edition == edition, TABLE.c.priority == priority, TABLE.c.hand_reason.is_(None)
            )
            if after is not None:
                query = query.where(after)
            query = query.order_by(TABLE.c.registered_at, TABLE.c.registration_id).limit(1)
            found = (await self.session.execute(query)).scalar_one_or_none()
            if found is not None:
                return int(found)
        return None

    async def leave(self, edition: str, entry: WaitEntry) -> list[Waitlisted]:
        """Take the trio off the waitlist; the trios behind it move up one (their moves are returned)."""
        await self.session.execute(
            delete(TABLE).where(TABLE.c.edition == edition, TABLE.c.registration_id == entry.registration_id)
        )
        return await self._shift(edition, shift_for_leaving(entry.position))

    async def move(self, edition: str, entry: WaitEntry, position: int, reason: str) -> list[Waitlisted]:
        """Move the trio to `position`; the moved trio first, then every trio that made room, in position order."""
        mine = (TABLE.c.edition == edition) & (TABLE.c.registration_id == entry.registration_id)
        await self.session.execute(update(TABLE).where(mine).values(position=PARKED))
        others = await self._shift(edition, shift_for_move(entry.position, position))
        await self.session.execute(update(TABLE).where(mine).values(position=position, hand_reason=reason))
        return [Waitlisted(entry.registration_id, position, entry.position, reason), *others]

    async def _shift(self, edition: str, shift: Shift) -> list[Waitlisted]:
        moving = (TABLE.c.edition == edition) & (TABLE.c.position >= shift.lo)
        if shift.hi is not None:
            moving &= TABLE.c.position <= shift.hi
        await self.session.execute(update(TABLE).where(moving).values(position=-TABLE.c.position))
        moved = await self.session.execute(
            update(TABLE)
            .where(TABLE.c.edition == edition, TABLE.c.position < 0)
            .values(position=shift.delta - TABLE.c.position)
            .returning(TABLE.c.registration_id, TABLE.c.position)
        )
        return sorted(
            (Waitlisted(rid, position, position - shift.delta) for rid, position in moved.all()),
            key=lambda w: w.position,
        )
