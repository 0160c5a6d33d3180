"""Reporting's store: declarative models and the repositories the handlers and pages use."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import JSON, Boolean, Date, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import InboxMixin, OutboxMixin, UtcDateTime, upsert, utcnow

from .anonymise import NameKind
from .domain import (
    Attendance,
    Case,
    Edition,
    EventSource,
    Instrument,
    InvoiceCopy,
    Municipality,
    NotificationFailure,
    PlannedSession,
    RoundPublication,
    SessionReport,
    Trio,
)


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class EditionRow(Base):
    """Reporting's copy of an edition (event-carried state from scheduling.EditionScheduled)."""

    __tablename__ = "editions"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    venue: Mapped[dict[str, Any]] = mapped_column(JSON)
    sessions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scheduled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    capacity: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)


class SessionReportRow(Base):
    """A held session's public report data, already anonymised. Pages are rendered from it on request."""

    __tablename__ = "session_reports"

    edition: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    trios: Mapped[int] = mapped_column(Integer)
    municipalities: Mapped[int] = mapped_column(Integer)
    lessons: Mapped[list[str]] = mapped_column(JSON)
    instruments: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    quotes: Mapped[list[str]] = mapped_column(JSON)
    next_steps: Mapped[list[str]] = mapped_column(JSON)
    completed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    retracted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class RoundReportRow(Base):
    """The round's report of an edition: when it was published (it is rendered on request) or retracted."""

    __tablename__ = "round_reports"

    edition: Mapped[str] = mapped_column(String(64), primary_key=True)
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)
    retracted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class EditionLockRow(Base):
    """One row per edition that reporting has heard of, to serialise the decision to publish the round's report."""

    __tablename__ = "edition_locks"

    edition: Mapped[str] = mapped_column(String(64), primary_key=True)


class TrioRow(Base):
    """Reporting's copy of a registration, from registration's and scheduling's events. No names, no addresses."""

    __tablename__ = "trios"

    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    edition: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    municipality: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    member_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    member_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    case: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    fee_cents: Mapped[int] = mapped_column(Integer, default=0)
    fee_waived: Mapped[bool] = mapped_column(Boolean, default=False)
    fee_reason: Mapped[str | None] = mapped_column(String(100), nullable=True)
    publish_municipality_name: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str | None] = mapped_column(String(20), nullable=True)
    status: Mapped[str | None] = mapped_column(String(30), nullable=True)
    waitlist_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    placement_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class NameDigestRow(Base):
    """A keyed hash of a word sequence of a participant's or approver's name (see anonymise.py)."""

    __tablename__ = "name_digests"

    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))


class AttendanceRow(Base):
    __tablename__ = "attendance"

    edition: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    present: Mapped[list[str]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NotificationFailureRow(Base):
    __tablename__ = "notification_failures"

    notification_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))
    caused_by: Mapped[str] = mapped_column(String(200), index=True)
    reason: Mapped[str] = mapped_column(String(1000))
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EventSourceRow(Base):
    """Which trio and edition an event was about, so a failed notification it caused can be placed."""

    __tablename__ = "event_sources"

    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    registration_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    edition: Mapped[str | None] = mapped_column(String(64), nullable=True)


class InvoiceRow(Base):
    """Reporting's copy of an invoice (amounts and state; the documents stay with registration)."""

    __tablename__ = "invoices"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    registration_id: Mapped[str] = mapped_column(String(64))
    edition: Mapped[str] = mapped_column(String(64), index=True)
    buyer_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    buyer_reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    issue_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    net_cents: Mapped[int] = mapped_column(Integer, default=0)
    vat_cents: Mapped[int] = mapped_column(Integer, default=0)
    total_cents: Mapped[int] = mapped_column(Integer, default=0)
    paid_cents: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    credit_note_number: Mapped[str | None] = mapped_column(String(32), nullable=True)


INVOICE_FIELDS = ("registration_id", "edition", "buyer_name", "buyer_reference", "issue_date", "due_date", "net_cents",
                  "vat_cents", "total_cents", "paid_cents", "overdue", "credit_note_number")


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
        rows = (await self.session.execute(
            select(InvoiceRow).where(InvoiceRow.edition == edition).order_by(InvoiceRow.number))).scalars()
        return [InvoiceCopy(number=r.number, **{f: getattr(r, f) for f in INVOICE_FIELDS}) for r in rows]


REPORT_FIELDS = ("title", "starts_at", "trios", "municipalities", "lessons", "quotes", "next_steps", "completed_at",
                 "retracted_at")


def report_from_row(row: SessionReportRow) -> SessionReport:
    return SessionReport(
        edition=row.edition, session_number=row.session_number, **{f: getattr(row, f) for f in REPORT_FIELDS},
        instruments=[Instrument(i["name"], i["description"]) for i in row.instruments],
    )


def edition_from_row(row: EditionRow) -> Edition:
    return Edition(
        slug=row.slug, title=row.title, venue=row.venue, scheduled_at=row.scheduled_at, capacity=row.capacity,
        sessions=[PlannedSession(number=s["number"], title=s["title"], outcome=s["outcome"],
                                 starts_at=datetime.fromisoformat(s["starts_at"])) for s in row.sessions],
    )


class SqlReports:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, edition: str, session_number: int, *, for_update: bool = False) -> SessionReport | None:
        query = select(SessionReportRow).where(SessionReportRow.edition == edition,
                                               SessionReportRow.session_number == session_number)
        if for_update:
            # Two versions of one session's report, handled by competing replicas, are applied one after the other.
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        return report_from_row(row) if row else None

    async def save(self, report: SessionReport) -> None:
        row = await self.session.get(SessionReportRow, (report.edition, report.session_number))
        if row is None:
            row = SessionReportRow(edition=report.edition, session_number=report.session_number)
            self.session.add(row)
        for f in REPORT_FIELDS:
            setattr(row, f, getattr(report, f))
        row.instruments = [{"name": i.name, "description": i.description} for i in report.instruments]

    async def newest_first(self) -> list[SessionReport]:
        """The published reports (not retracted)."""
        rows = await self.session.execute(
            select(SessionReportRow).where(SessionReportRow.retracted_at.is_(None))
            .order_by(SessionReportRow.starts_at.desc(), SessionReportRow.session_number.desc())
        )
        return [report_from_row(r) for r in rows.scalars()]

    async def of_edition(self, edition: str) -> list[SessionReport]:
        rows = await self.session.execute(
            select(SessionReportRow).where(SessionReportRow.edition == edition)
            .order_by(SessionReportRow.session_number)
        )
        return [report_from_row(r) for r in rows.scalars()]

    async def every(self, *, for_update: bool = False) -> list[SessionReport]:
        query = select(SessionReportRow).order_by(SessionReportRow.edition, SessionReportRow.session_number)
        if for_update:
            query = query.with_for_update()
        return [report_from_row(r) for r in (await self.session.execute(query)).scalars()]


class SqlEditions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None:
        query = select(EditionRow).where(EditionRow.slug == slug)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        return edition_from_row(row) if row else None

    async def save(self, edition: Edition) -> None:
        row = await self.session.get(EditionRow, edition.slug)
        if row is None:
            row = EditionRow(slug=edition.slug)
            self.session.add(row)
        row.title = edition.title
        row.venue = edition.venue
        row.scheduled_at = edition.scheduled_at
        row.capacity = edition.capacity
        row.sessions = [{"number": s.number, "title": s.title, "outcome": s.outcome,
                         "starts_at": s.starts_at.isoformat()} for s in edition.sessions]

    async def by_slug(self, slugs: set[str]) -> dict[str, Edition]:
        if not slugs:
            return {}
        rows = await self.session.execute(select(EditionRow).where(EditionRow.slug.in_(slugs)))
        return {r.slug: edition_from_row(r) for r in rows.scalars()}

    async def every(self) -> list[Edition]:
        rows = await self.session.execute(select(EditionRow))
        return sorted((edition_from_row(r) for r in rows.scalars()), key=_first_session, reverse=True)


def _first_session(edition: Edition) -> datetime:
    return min((s.starts_at for s in edition.sessions), default=edition.scheduled_at)


class SqlRounds:
    """When each edition's round report was published or retracted."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, edition: str) -> None:
        """Take the edition's lock row (creating it if needed) until the transaction ends.

        The last session's report and the edition itself may be handled at the same moment by two replicas;
        without a common lock neither would see the other's uncommitted row and nobody would publish the round.
        Inserting waits for a competing insert to commit; the row lock then orders the two.
        """
        table = EditionLockRow.__table__
        await self.session.execute(upsert(self.session)(table).values(edition=edition).on_conflict_do_nothing())
        await self.session.execute(select(EditionLockRow).where(EditionLockRow.edition == edition).with_for_update())

    async def get(self, edition: str, *, for_update: bool = False) -> RoundPublication | None:
        row = await self._row(edition, for_update=for_update)
        return RoundPublication(row.edition, row.published_at, row.retracted_at) if row else None

    async def _row(self, edition: str, *, for_update: bool = False) -> RoundReportRow | None:
        query = select(RoundReportRow).where(RoundReportRow.edition == edition)
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def save(self, publication: RoundPublication) -> None:
        row = await self._row(publication.edition)
        if row is None:
            row = RoundReportRow(edition=publication.edition)
            self.session.add(row)
        row.published_at, row.retracted_at = publication.published_at, publication.retracted_at

    async def published(self) -> list[RoundPublication]:
        rows = await self.session.execute(select(RoundReportRow).where(RoundReportRow.retracted_at.is_(None))
                                          .order_by(RoundReportRow.published_at.desc()))
        return [RoundPublication(r.edition, r.published_at, r.retracted_at) for r in rows.scalars()]


TRIO_FIELDS = ("edition", "registered_at", "member_domains", "member_roles", "fee_cents", "fee_waived", "fee_reason",
               "publish_municipality_name", "channel", "status", "waitlist_position", "placement_at", "erased_at")


def trio_from_row(row: TrioRow) -> Trio:
    return Trio(
        registration_id=row.registration_id, **{f: getattr(row, f) for f in TRIO_FIELDS},
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
                upsert(self.session)(TrioRow).values(registration_id=registration_id, member_domains=[], member_roles=[],
                                       fee_cents=0, fee_waived=False, publish_municipality_name=False)
                .on_conflict_do_nothing(index_elements=["registration_id"]))
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
            [{"registration_id": registration_id, "digest": digest, "kind": kind} for digest, kind in digests.items()])
        await self.session.execute(insert.on_conflict_do_update(
            index_elements=["registration_id", "digest"], set_={"kind": insert.excluded.kind},
            where=insert.excluded.kind == "always"))

    async def of(self, registration_id: str) -> dict[str, NameKind]:
        rows = await self.session.execute(select(NameDigestRow).where(NameDigestRow.registration_id == registration_id))
        return {r.digest: r.kind for r in rows.scalars()}  # type: ignore[misc]

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
        query = select(AttendanceRow).where(AttendanceRow.edition == edition,
                                            AttendanceRow.session_number == session_number)
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
        rows = await self.session.execute(select(NotificationFailureRow)
                                          .order_by(NotificationFailureRow.failed_at.desc()))
        return [NotificationFailure(r.notification_id, r.kind, r.channel, r.caused_by, r.reason, r.failed_at)
                for r in rows.scalars()]


class SqlEventSources:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, source: EventSource) -> None:
        await self.session.execute(upsert(self.session)(EventSourceRow.__table__).values(**vars(source))
                                   .on_conflict_do_nothing(index_elements=["event_id"]))

    async def lookup(self, event_ids: set[str]) -> dict[str, EventSource]:
        if not event_ids:
            return {}
        rows = await self.session.execute(select(EventSourceRow).where(EventSourceRow.event_id.in_(event_ids)))
        return {r.event_id: EventSource(r.event_id, r.registration_id, r.edition) for r in rows.scalars()}
