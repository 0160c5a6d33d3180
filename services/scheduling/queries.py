"""What organisers read about one edition over HTTP: its trios a page at a time, and one session.

Read-only; the trios are paged in SQL so a long waitlist is never loaded whole for one page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .adapters import PlacementRow, RegistrationCopy, RegistrationStatusRow, WaitlistRow
from .domain import Edition, reason_text

# In this order: the placed trios by place, the waitlist by position, then the approved trios without either
# (before the allocation: the pool, in rank order).
STATUSES = ("placed", "waitlisted", "approved")
MAX_LIMIT = 500
MAX_OFFSET = 1_000_000  # far beyond any edition; keeps the number a database integer
DEFAULT_LIMIT = 100


class SqlTrioList:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def counts(self, edition: str) -> dict[str, int]:
        return {status: await self._count(self._query(edition, status)) for status in STATUSES}

    async def page(
        self, edition: str, statuses: tuple[str, ...], limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Up to `limit` trios from `offset` on, over the chosen statuses in STATUSES order; and how many there
        are in all."""
        trios: list[dict[str, Any]] = []
        total = 0
        for status in STATUSES:
            if status not in statuses:
                continue
            query = self._query(edition, status)
            count = await self._count(query)
            skip = max(offset - total, 0)
            room = limit - len(trios)
            if room > 0 and skip < count:
                rows = (await self.session.execute(query.offset(skip).limit(room))).all()
                trios += [_trio(status, row) for row in rows]
            total += count
        return trios, total

    async def _count(self, query: Select[*tuple[Any, ...]]) -> int:
        return (await self.session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()

    def _query(self, edition: str, status: str) -> Select[*tuple[Any, ...]]:
        copy = (RegistrationCopy.municipality, RegistrationCopy.size_class)
        if status == "placed":
            return (
                select(PlacementRow, *copy)
                .outerjoin(RegistrationCopy, RegistrationCopy.registration_id == PlacementRow.registration_id)
                .where(PlacementRow.edition == edition)
                .order_by(PlacementRow.slot)
            )
        if status == "waitlisted":
            return (
                select(WaitlistRow, *copy)
                .outerjoin(RegistrationCopy, RegistrationCopy.registration_id == WaitlistRow.registration_id)
                .where(WaitlistRow.edition == edition)
                .order_by(WaitlistRow.position)
            )
        rid = RegistrationCopy.registration_id
        return (
            select(RegistrationCopy, RegistrationStatusRow.changed_at)
            .join(RegistrationStatusRow, RegistrationStatusRow.registration_id == rid)
            .where(
                RegistrationStatusRow.edition == edition,
                RegistrationStatusRow.status == "approved",
                ~exists().where(and_(PlacementRow.edition == edition, PlacementRow.registration_id == rid)),
                ~exists().where(and_(WaitlistRow.edition == edition, WaitlistRow.registration_id == rid)),
            )
            .order_by(RegistrationCopy.priority.desc(), RegistrationCopy.registered_at, rid)
        )


def _trio(status: str, row: Any) -> dict[str, Any]:
    if status == "approved":
        copy: RegistrationCopy = row[0]
        return _shape(
            copy.registration_id,
            status,
            priority=copy.priority,
            registered_at=copy.registered_at,
            since=row[1],
            municipality=copy.municipality,
            size_class=copy.size_class,
        )
    held, municipality, size_class = row
    common = {
        "hand_reason": held.hand_reason,
        "priority": held.priority,
        "registered_at": held.registered_at,
        "municipality": municipality,
        "size_class": size_class,
    }
    if isinstance(held, PlacementRow):
        return _shape(held.registration_id, status, place=held.slot, via=held.via, since=held.placed_at, **common)
    return _shape(held.registration_id, status, position=held.position, since=held.since, **common)


def _shape(
    registration_id: str,
    status: str,
    *,
    priority: bool,
    registered_at: datetime,
    since: datetime,
    municipality: str | None,
    size_class: str | None,
    place: int | None = None,
    position: int | None = None,
    via: str | None = None,
    hand_reason: str | None = None,
) -> dict[str, Any]:
    return {
        "registration_id": registration_id,
        "status": status,
        "place": place,
        "position": position,
        "via": via,
        "by_hand": hand_reason is not None,
        # The organiser's own words for a place or position given by hand, otherwise the order's reason.
        "reason": hand_reason or reason_text(priority, registered_at),
        "since": since.isoformat(),
        "priority": priority,
        "registered_at": registered_at.isoformat(),
        "municipality": municipality,
        "size_class": size_class,
    }


def tables_view(tables: dict[int, list[str]]) -> list[dict[str, Any]]:
    return [{"table": number, "registration_ids": ids} for number, ids in sorted(tables.items()) if ids]


def session_view(
    edition: Edition, number: int, municipalities: dict[str, str], tables: dict[int, list[str]], now: datetime
) -> dict[str, Any]:
    session = edition.session(number)
    assert session is not None
    return {
        "edition": edition.slug,
        "number": session.number,
        "title": session.title,
        "outcome": session.outcome,
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat(),
        "sequence": session.sequence,
        "started": session.starts_at <= now,
        "completed": session.completed_at is not None,
        "completed_at": session.completed_at.isoformat() if session.completed_at else None,
        "present": session.present,
        "attendance": {"trios": len(session.present), "municipalities": len(set(municipalities.values()))},
        "placed": edition.placed_ids,
        "tables": tables_view(tables),
        "notes": session.notes,
    }
