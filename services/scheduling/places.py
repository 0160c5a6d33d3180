"""Admitting one trio to an edition's places without reading them all: how many there are, whether the trio
holds one (or waits), and a place for it.

The count is the edition row's own (`placed`, kept by every writer of places), and the next place number one
step down the unique index on (edition, slot) while places are numbered without gaps; only after a release
left a gap is the lowest free number looked for. The edition's row lock (taken by the handler) keeps every
other writer out, and the unique slot still refuses a place given twice should a writer run without it.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from .adapters import EditionRow, PlacementRow, WaitlistRow
from .domain import Via

EDITIONS = cast(Table, EditionRow.__table__)
PLACES = cast(Table, PlacementRow.__table__)
WAITING = cast(Table, WaitlistRow.__table__)


class SqlPlaces:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count(self, edition: str) -> int:
        return (await self.session.execute(select(EDITIONS.c.placed).where(EDITIONS.c.slug == edition))).scalar_one()

    async def holds(self, edition: str, registration_id: str) -> bool:
        """Placed or waitlisted in this edition."""
        placed = exists().where(PLACES.c.edition == edition, PLACES.c.registration_id == registration_id)
        waiting = exists().where(WAITING.c.edition == edition, WAITING.c.registration_id == registration_id)
        return bool((await self.session.execute(select(placed | waiting))).scalar_one())

    async def add(
        self, edition: str, registration_id: str, via: Via, priority: bool, registered_at: datetime, now: datetime
    ) -> int:
        """Give the trio the lowest free place number; returns it."""
        slot = await self._free_slot(edition)
        await self.session.execute(
            update(EDITIONS).where(EDITIONS.c.slug == edition).values(placed=EDITIONS.c.placed + 1)
        )
        await self.session.execute(
            insert(PLACES).values(
                edition=edition,
                registration_id=registration_id,
                slot=slot,
                via=via,
                priority=priority,
                registered_at=registered_at,
                placed_at=now,
            )
        )
        return slot

    async def _free_slot(self, edition: str) -> int:
        mine = PLACES.c.edition == edition
        highest = (await self.session.execute(select(func.max(PLACES.c.slot)).where(mine))).scalar_one()
        if not highest or highest == await self.count(edition):
            return (highest or 0) + 1
        if not (await self.session.execute(select(exists().where(mine, PLACES.c.slot == 1)))).scalar_one():
            return 1
        following = aliased(PLACES)
        gap = select(func.min(PLACES.c.slot) + 1).where(
            mine, ~exists().where(and_(following.c.edition == edition, following.c.slot == PLACES.c.slot + 1))
        )
        return int((await self.session.execute(gap)).scalar_one())
