"""Reporting's read model of other services' facts: trios, names (as keyed digests), attendance, failed
notifications, invoices, and which event each fact came from."""

from __future__ import annotations

from typing import cast

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import upsert

from ..anonymise import NameKind
from ..domain import Attendance, Case, EventSource, InvoiceCopy, Municipality, NotificationFailure, Trio
from .tables import (
    INVOICE_FIELDS,
    TRIO_FIELDS,
    AttendanceRow,
    EventSourceRow,
    InvoiceRow,
    NameDigestRow,
    NotificationFailureRow,
    TrioRow,
)


class SqlInvoices:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, number: str, *, for_update: bool = False) -> InvoiceCopy | None:
        query = select(InvoiceRow).where(InvoiceRow.number == number)
        row = (await self.session.execute(query.with_for_update() if for_update else query)).scalar_one_or_none()
        return InvoiceCopy(number=row.number, **{f: getattr(row, f) for f in INVOICE_FIELDS}) if row else None

    async def save(self, invoice: InvoiceCopy) -> None:
        row = await self.session.get(InvoiceRow, invoice.number)
        if row is None:
            row = InvoiceRow(number=invoice.number)
            self.session.add(row)
        for f in INVOICE_FIELDS:
            setattr(row, f, getattr(invoice, f))

    async def of_edition(self, edition: str) -> list[InvoiceCopy]:
        rows = (
            await self.session.execute(
                select(InvoiceRow).where(InvoiceRow.edition == edition).order_by(InvoiceRow.number)
            )
        ).scalars()
        return [InvoiceCopy(number=r.number, **{f: getattr(r, f) for f in INVOICE_FIELDS}) for r in rows]


def trio_from_row(row: TrioRow) -> Trio:
    return Trio(
        registration_id=row.registration_id,
        **{f: getattr(row, f) for f in TRIO_FIELDS},
        municipality=Municipality(**row.municipality) if row.municipality else None,
        case=Case(**row.case) if row.case else None,
    )


class SqlTrios:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # The rows get() loaded, for save(): the session holds them only weakly, so without this they are gone by
        # then and save() would read each one again (a round trip per message).
        self._rows: dict[str, TrioRow] = {}

    async def get(self, registration_id: str, *, for_update: bool = False) -> Trio | None:
        query = select(TrioRow).where(TrioRow.registration_id == registration_id)
        if for_update:
            # A trio's first events (TrioRegistered, TrioPlaced...) can arrive at once on two replicas: a row
            # that does not exist yet cannot be locked, so create it empty first; the second waits on its lock
            # and then reads what the first wrote, instead of both inserting and one losing its update.
            await self.session.execute(
                upsert(self.session)(TrioRow)
                .values(
                    registration_id=registration_id,
                    member_domains=[],
                    member_roles=[],
                    fee_cents=0,
                    fee_waived=False,
                    publish_municipality_name=False,
                )
                .on_conflict_do_nothing(index_elements=["registration_id"])
            )
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        if row is None:
            return None
        self._rows[registration_id] = row
        return trio_from_row(row)

    async def save(self, trio: Trio) -> None:
        row = self._rows.get(trio.registration_id) or await self.session.get(TrioRow, trio.registration_id)
        if row is None:
            row = TrioRow(registration_id=trio.registration_id)
            self.session.add(row)
        for f in TRIO_FIELDS:
            setattr(row, f, getattr(trio, f))
        row.municipality = dict(vars(trio.municipality)) if trio.municipality else None
        row.case = dict(vars(trio.case)) if trio.case else None

    async def of_edition(self, edition: str) -> list[Trio]:
        rows = await self.session.execute(select(TrioRow).where(TrioRow.edition == edition))
        return [trio_from_row(r) for r in rows.scalars()]


class SqlNames:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, registration_id: str, digests: dict[str, NameKind]) -> None:
        """One statement: new digests are added, and "always" wins over what a digest was before."""
        if not digests:
            return
        table = NameDigestRow.__table__
        insert = upsert(self.session)(table).values(
            [{"registration_id": registration_id, "digest": digest, "kind": kind} for digest, kind in digests.items()]
        )
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=["registration_id", "digest"],
                set_={"kind": insert.excluded.kind},
                where=insert.excluded.kind == "always",
            )
        )

    async def of(self, registration_id: str) -> dict[str, NameKind]:
        rows = await self.session.execute(select(NameDigestRow).where(NameDigestRow.registration_id == registration_id))
        return {r.digest: r.kind for r in rows.scalars()}  # type: ignore[misc]

    async def forget(self, registration_id: str) -> None:
        await self.session.execute(delete(NameDigestRow).where(NameDigestRow.registration_id == registration_id))

    async def every(self) -> dict[str, NameKind]:
        """Every known digest; "always" wins when two people's names share a word."""
        digests: dict[str, NameKind] = {}
        for digest, kind in (await self.session.execute(select(NameDigestRow.digest, NameDigestRow.kind))).all():
            if digests.get(digest) != "always":
                digests[digest] = cast(NameKind, kind)
        return digests


class SqlAttendance:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, edition: str, session_number: int, *, for_update: bool = False) -> Attendance | None:
        row = await self._row(edition, session_number, for_update=for_update)
        return Attendance(row.edition, row.session_number, list(row.present), row.recorded_at) if row else None

    async def _row(self, edition: str, session_number: int, *, for_update: bool = False) -> AttendanceRow | None:
        query = select(AttendanceRow).where(
            AttendanceRow.edition == edition, AttendanceRow.session_number == session_number
        )
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def save(self, attendance: Attendance) -> None:
        row = await self._row(attendance.edition, attendance.session_number)
        if row is None:
            row = AttendanceRow(edition=attendance.edition, session_number=attendance.session_number)
            self.session.add(row)
        row.present, row.recorded_at = list(attendance.present), attendance.recorded_at

    async def of_edition(self, edition: str) -> dict[int, list[str]]:
        rows = await self.session.execute(select(AttendanceRow).where(AttendanceRow.edition == edition))
        return {r.session_number: list(r.present) for r in rows.scalars()}


class SqlFailures:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, failure: NotificationFailure) -> None:
        if await self.session.get(NotificationFailureRow, failure.notification_id) is None:
            self.session.add(NotificationFailureRow(**vars(failure)))

    async def every(self) -> list[NotificationFailure]:
        rows = await self.session.execute(
            select(NotificationFailureRow).order_by(NotificationFailureRow.failed_at.desc())
        )
        return [
            NotificationFailure(r.notification_id, r.kind, r.channel, r.caused_by, r.reason, r.failed_at)
            for r in rows.scalars()
        ]


class SqlEventSources:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, source: EventSource) -> None:
        await self.session.execute(
            upsert(self.session)(EventSourceRow.__table__)
            .values(**vars(source))
            .on_conflict_do_nothing(index_elements=["event_id"])
        )

    async def lookup(self, event_ids: set[str]) -> dict[str, EventSource]:
        if not event_ids:
            return {}
        rows = await self.session.execute(select(EventSourceRow).where(EventSourceRow.event_id.in_(event_ids)))
        return {r.event_id: EventSource(r.event_id, r.registration_id, r.edition) for r in rows.scalars()}
