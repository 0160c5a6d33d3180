"""Scheduling's copy of registrations and their decisions (event-carried state from registration's events)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .adapters import RegistrationCopy, RegistrationStatusRow
from .domain import Trio


class SqlRegistrations:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, edition: str, trio: Trio) -> None:
        if await self.session.get(RegistrationCopy, trio.registration_id) is None:
            self.session.add(
                RegistrationCopy(
                    registration_id=trio.registration_id,
                    edition=edition,
                    municipality=trio.municipality,
                    size_class=trio.size_class,
                    priority=trio.priority,
                    registered_at=trio.registered_at,
                    domains=list(trio.domains),
                )
            )
            await self.session.flush()

    async def trio(self, registration_id: str) -> Trio | None:
        row = await self.session.get(RegistrationCopy, registration_id)
        return _trio(row) if row else None

    async def trios(self, registration_ids: list[str]) -> dict[str, Trio]:
        if not registration_ids:
            return {}
        rows = (
            await self.session.execute(
                select(RegistrationCopy).where(RegistrationCopy.registration_id.in_(registration_ids))
            )
        ).scalars()
        return {r.registration_id: _trio(r) for r in rows}

    async def status(self, registration_id: str) -> str | None:
        row = await self.session.get(RegistrationStatusRow, registration_id)
        return row.status if row else None

    async def set_status(self, registration_id: str, edition: str, status: str, at: datetime) -> None:
        row = await self.session.get(RegistrationStatusRow, registration_id)
        if row is None:
            self.session.add(
                RegistrationStatusRow(registration_id=registration_id, edition=edition, status=status, changed_at=at)
            )
        else:
            row.status, row.changed_at = status, at
        await self.session.flush()

    async def pool(self, edition: str) -> list[Trio]:
        """Approved registrations of the edition whose details scheduling has."""
        rows = (
            await self.session.execute(
                select(RegistrationCopy)
                .join(RegistrationStatusRow, RegistrationStatusRow.registration_id == RegistrationCopy.registration_id)
                .where(RegistrationStatusRow.edition == edition, RegistrationStatusRow.status == "approved")
            )
        ).scalars()
        return [_trio(r) for r in rows]

    async def edition(self, registration_id: str) -> str | None:
        """The edition of a registration scheduling has a copy of."""
        return (
            await self.session.execute(
                select(RegistrationCopy.edition).where(RegistrationCopy.registration_id == registration_id)
            )
        ).scalar_one_or_none()

    async def of_edition(self, edition: str) -> set[str]:
        rows = await self.session.execute(
            select(RegistrationCopy.registration_id).where(RegistrationCopy.edition == edition)
        )
        return set(rows.scalars())

    async def municipalities(self, registration_ids: list[str]) -> dict[str, str]:
        return {rid: t.municipality for rid, t in (await self.trios(registration_ids)).items()}


def _trio(row: RegistrationCopy) -> Trio:
    return Trio(
        registration_id=row.registration_id,
        priority=row.priority,
        registered_at=row.registered_at,
        municipality=row.municipality,
        size_class=row.size_class,
        domains=tuple(row.domains or ()),
    )
