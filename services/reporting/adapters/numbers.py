"""The organiser overview's numbers, counted by the database: a handful of grouped queries over all editions
(or one), whatever the number of trios and invoices."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..numbers import EditionNumbers, InvoiceCount, TrioCount, fold
from .tables import EditionRow, InvoiceRow, RoundReportRow, TrioRow


class SqlNumbers:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def editions(self, edition: str | None = None) -> list[EditionNumbers]:
        """The numbers of every edition reporting knows, or of EDITION only (empty when it knows nothing of it)."""
        return fold(
            await self._editions(edition),
            await self._trios(edition),
            await self._invoices(edition),
            await self._published(edition),
        )

    async def _editions(self, edition: str | None) -> list[tuple[str, str, int | None]]:
        query = select(EditionRow.slug, EditionRow.title, EditionRow.capacity)
        if edition is not None:
            query = query.where(EditionRow.slug == edition)
        rows = (await self.session.execute(query)).all()
        return [(slug, title, (capacity or {}).get("max_trios")) for slug, title, capacity in rows]

    async def _trios(self, edition: str | None) -> list[TrioCount]:
        size_class = TrioRow.municipality["size_class"].as_string().label("size_class")
        registered = TrioRow.registered_at.is_not(None).label("registered")
        query = (
            select(TrioRow.edition, TrioRow.status, size_class, registered, TrioRow.fee_waived, func.count())
            .where(TrioRow.edition.is_not(None) if edition is None else TrioRow.edition == edition)
            .group_by(TrioRow.edition, TrioRow.status, size_class, registered, TrioRow.fee_waived)
        )
        return [
            TrioCount(slug, status, size, bool(known), bool(waived), count)
            for slug, status, size, known, waived, count in (await self.session.execute(query)).all()
        ]

    async def _invoices(self, edition: str | None) -> list[InvoiceCount]:
        credited = InvoiceRow.credit_note_number.is_not(None)
        standing = InvoiceRow.credit_note_number.is_(None)
        open_cents = InvoiceRow.total_cents - InvoiceRow.paid_cents
        unpaid = and_(standing, InvoiceRow.paid_cents < InvoiceRow.total_cents)

        def number(condition: ColumnElement[bool]) -> ColumnElement[int]:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        query = select(
            InvoiceRow.edition,
            func.count(),
            number(credited),
            number(and_(standing, InvoiceRow.paid_cents >= InvoiceRow.total_cents)),
            number(unpaid),
            number(and_(unpaid, InvoiceRow.overdue.is_(True))),
            func.coalesce(func.sum(InvoiceRow.total_cents), 0),
            func.coalesce(func.sum(InvoiceRow.paid_cents), 0),
            func.coalesce(func.sum(case((unpaid, open_cents), else_=0)), 0),
        ).group_by(InvoiceRow.edition)
        if edition is not None:
            query = query.where(InvoiceRow.edition == edition)
        return [
            InvoiceCount(str(slug), *(int(value) for value in counts))
            for slug, *counts in (await self.session.execute(query)).all()
        ]

    async def _published(self, edition: str | None) -> list[str]:
        query = select(RoundReportRow.edition).where(RoundReportRow.retracted_at.is_(None))
        if edition is not None:
            query = query.where(RoundReportRow.edition == edition)
        return list((await self.session.execute(query)).scalars())
