"""Registration's store (declarative models and repositories) and the municipality files."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from decimal import Decimal
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, LargeBinary, String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.contract import EVENTS_EXCHANGE
from shared.contract.registration import Approver, Case, Fee
from shared.db import InboxMixin, OutboxMixin, UtcDateTime, upsert
from shared.messaging.processing import MessageStore
from shared.settings import SettingsError

from .billing import (
    Amounts,
    BillingPolicy,
    Buyer,
    CreditNote,
    Invoice,
    InvoiceFacts,
    Recipient,
    Seller,
    VatRule,
)
from .config import MUNICIPALITIES_FILE, RegistrationConfig
from .domain import (
    ACTIVE_STATUSES,
    ERASED,
    Edition,
    Municipality,
    MunicipalityRegister,
    Registration,
    RegistrationState,
    RegistrationView,
    SessionView,
    erased_case,
    erased_event_data,
    sessions_of,
)
from .invoices import Documents
from .tokens import ApprovalLinks, InvoiceLinks


@dataclass(kw_only=True)
class RegistrationStore(MessageStore):
    """Registration's message store, with what its command paths need besides the database."""

    approvals: ApprovalLinks
    retention: timedelta = timedelta(days=365)
    # Where dead letters are (services.ops.dead_letters.broker_location); erasure scrubs them. None: not scrubbed.
    dead_letters: str | Path | None = None
    # Invoicing; None: the fee is not invoiced (tests of other use cases).
    billing: BillingPolicy | None = None
    invoice_links: InvoiceLinks | None = None


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class EditionRow(Base):
    """Registration's copy of an edition (event-carried state from scheduling.EditionScheduled)."""

    __tablename__ = "editions"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    registration_closes_at: Mapped[datetime] = mapped_column(UtcDateTime)
    registration_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    fee: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority_size_classes: Mapped[list[str]] = mapped_column(JSON)
    sessions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scheduled_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RegistrationRow(Base):
    __tablename__ = "registrations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    edition: Mapped[str] = mapped_column(String(64), index=True)
    municipality_code: Mapped[str] = mapped_column(String(6))
    municipality_name: Mapped[str] = mapped_column(String(200))
    size_class: Mapped[str] = mapped_column(String(20))
    case: Mapped[dict[str, Any]] = mapped_column(JSON)
    approver: Mapped[dict[str, Any]] = mapped_column(JSON)
    consent: Mapped[dict[str, Any]] = mapped_column(JSON)
    invoice: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    fee: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[bool]
    preferred_domain_mix: Mapped[bool]
    status: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(10))
    chat_id: Mapped[str | None] = mapped_column(String(300), nullable=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    waitlist_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    approval_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    decided_by_organizer: Mapped[bool | None] = mapped_column(nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    placement_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class MemberRow(Base):
    __tablename__ = "members"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    registration_id: Mapped[str] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[str] = mapped_column(String(20))
    domain: Mapped[str] = mapped_column(String(20))
    job_title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    language: Mapped[str] = mapped_column(String(2))
    position: Mapped[int] = mapped_column(Integer)


class SeatingPlanRow(Base):
    """Scheduling's latest seating plan of one session (from scheduling.SeatingPlanned)."""

    __tablename__ = "seating_plans"

    edition: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    tables: Mapped[dict[str, int]] = mapped_column(JSON)  # registration id -> table number
    planned_at: Mapped[datetime] = mapped_column(UtcDateTime)


class InvoiceCounterRow(Base):
    """The last number issued in a series (invoices, credit notes) and calendar year. Taking a number updates this
    row, which locks it until the transaction that also stores the invoice and its event ends: numbers are handed
    out one at a time across replicas, and a rolled-back invoice gives its number back."""

    __tablename__ = "invoice_counters"

    series: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)


class InvoiceRow(Base):
    """An invoice as issued (a fiscal record, kept 7 years: docs/invoicing.md), with what happened to it since."""

    __tablename__ = "invoices"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    registration_id: Mapped[str] = mapped_column(String(36), unique=True)  # one invoice per registration
    edition: Mapped[str] = mapped_column(String(64), index=True)
    description: Mapped[str] = mapped_column(String(300))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    issue_date: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    due_date: Mapped[date] = mapped_column(Date)
    seller: Mapped[dict[str, Any]] = mapped_column(JSON)
    buyer: Mapped[dict[str, Any]] = mapped_column(JSON)
    vat: Mapped[dict[str, Any]] = mapped_column(JSON)
    net_cents: Mapped[int] = mapped_column(Integer)
    vat_cents: Mapped[int] = mapped_column(Integer)
    total_cents: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[dict[str, Any]] = mapped_column(JSON)
    paid_cents: Mapped[int] = mapped_column(Integer, default=0)
    overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    credit_note_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    ubl: Mapped[bytes] = mapped_column(LargeBinary)


class CreditNoteRow(Base):
    __tablename__ = "credit_notes"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    invoice_number: Mapped[str] = mapped_column(ForeignKey("invoices.number"), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    issue_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(300))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    ubl: Mapped[bytes] = mapped_column(LargeBinary)


class PaymentRow(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_number: Mapped[str] = mapped_column(ForeignKey("invoices.number"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    paid_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


STATE_FIELDS = ("approval_expires_at", "waitlist_position", "decided_at", "decided_by_organizer", "decision_reason",
                "cancelled_at", "cancel_reason", "placement_updated_at", "erased_at")
EDITION_FIELDS = ("title", "registration_closes_at", "registration_deadline", "fee", "priority_size_classes", "sessions",
                  "scheduled_at")


class SqlEditions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None:
        query = select(EditionRow).where(EditionRow.slug == slug)
        if for_update:
            # Registrations of one edition take turns on PostgreSQL, so the check that a member is not
            # already registered sees every registration committed before. (SQLite ignores FOR UPDATE;
            # there the Database's write lock already serialises writers.)
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        if row is None:
            return None
        return Edition(slug=row.slug, **{f: getattr(row, f) for f in EDITION_FIELDS})

    async def all(self) -> list[Edition]:
        rows = (await self.session.execute(select(EditionRow).order_by(EditionRow.slug))).scalars()
        return [Edition(slug=row.slug, **{f: getattr(row, f) for f in EDITION_FIELDS}) for row in rows]

    async def save(self, edition: Edition) -> None:
        row = await self.session.get(EditionRow, edition.slug)
        if row is None:
            row = EditionRow(slug=edition.slug)
            self.session.add(row)
        for f in EDITION_FIELDS:
            setattr(row, f, getattr(edition, f))


class SqlSeating:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, edition: str, session_number: int, tables: dict[str, int], planned_at: datetime) -> bool:
        """Keep the plan unless a newer one is stored; False when this one was older. One statement, so two
        replicas applying two replans of the same session cannot interleave."""
        table = SeatingPlanRow.__table__
        statement = (
            upsert(self.session)(table)
            .values(edition=edition, session_number=session_number, tables=tables, planned_at=planned_at)
            .on_conflict_do_update(
                index_elements=["edition", "session_number"],
                set_={"tables": tables, "planned_at": planned_at},
                where=table.c.planned_at < planned_at,
            )
        )
        return bool((await self.session.execute(statement)).rowcount)

    async def tables_of(self, edition: str, registration_id: str) -> dict[int, int]:
        """Session number -> the trio's table, for the sessions whose seating is planned."""
        plans = (await self.session.execute(
            select(SeatingPlanRow).where(SeatingPlanRow.edition == edition))).scalars()
        return {plan.session_number: plan.tables[registration_id] for plan in plans if registration_id in plan.tables}


class SqlRegistrations:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, registration: Registration) -> None:
        r = registration
        self.session.add(RegistrationRow(
            id=r.registration_id, edition=r.edition, municipality_code=r.municipality.code,
            municipality_name=r.municipality.name, size_class=r.municipality.size_class,
            case=r.case.model_dump(mode="json"), approver=r.approver.model_dump(mode="json"),
            consent=r.consent.model_dump(mode="json"),
            invoice=r.invoice.model_dump(mode="json") if r.invoice else None, fee=r.fee.model_dump(mode="json"),
            priority=r.priority, preferred_domain_mix=r.preferred_domain_mix, status=r.status,
            channel=str(r.channel), chat_id=r.chat_id, registered_at=r.registered_at,
            approval_expires_at=r.approval_expires_at,
        ))
        # Flush the parent first: the members' foreign key needs it, and the unit of work does not
        # order rows of unrelated mappers (there is no relationship() between the two).
        await self.session.flush()
        self.session.add_all(
            MemberRow(id=m.member_id, registration_id=r.registration_id, name=m.name, email=m.email,
                      role=str(m.role), domain=str(m.domain), job_title=m.job_title, language=str(m.language),
                      position=index)
            for index, m in enumerate(r.members)
        )

    async def overview(self, edition: str | None) -> list[dict[str, Any]]:
        """Registrations with their members, oldest first, for organisers."""
        query = select(RegistrationRow).order_by(RegistrationRow.registered_at)
        if edition:
            query = query.where(RegistrationRow.edition == edition)
        registrations = list((await self.session.execute(query)).scalars())
        members: dict[str, list[MemberRow]] = {}
        if registrations:
            rows = await self.session.execute(
                select(MemberRow).where(MemberRow.registration_id.in_([r.id for r in registrations]))
                .order_by(MemberRow.position))
            for m in rows.scalars():
                members.setdefault(m.registration_id, []).append(m)
        return [{
            "registration_id": r.id, "edition": r.edition, "status": r.status,
            "waitlist_position": r.waitlist_position, "registered_at": r.registered_at.isoformat(),
            "approval_expires_at": _iso(r.approval_expires_at), "decided_at": _iso(r.decided_at),
            "decided_by_organizer": r.decided_by_organizer, "decision_reason": r.decision_reason,
            "cancelled_at": _iso(r.cancelled_at), "cancel_reason": r.cancel_reason,
            "erased": r.erased_at is not None, "invoice": r.invoice,
            "municipality": {"code": r.municipality_code, "name": r.municipality_name, "size_class": r.size_class},
            "case": r.case, "fee": r.fee, "priority": r.priority, "preferred_domain_mix": r.preferred_domain_mix,
            "approver": r.approver, "channel": r.channel,
            "members": [{"name": m.name, "email": m.email, "role": m.role, "domain": m.domain,
                         "job_title": m.job_title, "language": m.language} for m in members.get(r.id, [])],
        } for r in registrations]

    async def view(self, registration_id: str) -> RegistrationView | None:
        """The registration as its status and approval pages show it; None if there is no such registration."""
        row = await self.session.get(RegistrationRow, registration_id)
        if row is None:
            return None
        edition = await self.session.get(EditionRow, row.edition)
        members = (await self.session.execute(
            select(MemberRow).where(MemberRow.registration_id == registration_id).order_by(MemberRow.position)
        )).scalars()
        return RegistrationView(
            registration_id=row.id, edition=row.edition, edition_title=edition.title if edition else row.edition,
            status=row.status, waitlist_position=row.waitlist_position,  # type: ignore[arg-type]
            municipality_name=row.municipality_name, size_class=row.size_class,  # type: ignore[arg-type]
            case=Case.model_validate(row.case), fee=Fee.model_validate(row.fee),
            members=[(m.name, m.role, m.domain) for m in members], approver_name=row.approver["name"],
            approval_expires_at=row.approval_expires_at, registered_at=row.registered_at,
            erased=row.erased_at is not None,
            sessions=await self._sessions(row) if edition is not None and row.status == "placed" else [],
        )

    async def _sessions(self, row: RegistrationRow) -> list[SessionView]:
        edition = await SqlEditions(self.session).get(row.edition)
        assert edition is not None  # the caller saw it
        return sessions_of(edition, await SqlSeating(self.session).tables_of(row.edition, row.id))

    async def get_state(self, registration_id: str, *, for_update: bool = False) -> RegistrationState | None:
        query = select(RegistrationRow).where(RegistrationRow.id == registration_id)
        if for_update:
            # Decisions, cancellation, scheduling's events and erasure of one registration take turns.
            query = query.with_for_update()
        row = (await self.session.execute(query)).scalar_one_or_none()
        if row is None:
            return None
        return RegistrationState(
            registration_id=row.id, edition=row.edition, status=row.status,  # type: ignore[arg-type]
            approver=Approver.model_construct(**row.approver),  # erased: no longer a valid address
            **{f: getattr(row, f) for f in STATE_FIELDS},
        )

    async def save_state(self, state: RegistrationState) -> None:
        await self.session.execute(
            update(RegistrationRow).where(RegistrationRow.id == state.registration_id)
            .values(status=state.status, **{f: getattr(state, f) for f in STATE_FIELDS})
        )

    async def erase(self, registration_id: str, now: datetime) -> None:
        """Replace the registration's personal data and free text, also in its messages not yet published."""
        row = await self.session.get(RegistrationRow, registration_id)
        assert row is not None
        row.erased_at = now
        row.case = erased_case(row.case)
        row.approver = {"name": ERASED, "email": ERASED}
        row.invoice = {"address": ERASED, "reference": ERASED} if row.invoice else None
        row.chat_id = None
        row.decision_reason = ERASED if row.decision_reason else None
        row.cancel_reason = ERASED if row.cancel_reason else None
        await self.session.execute(
            update(MemberRow).where(MemberRow.registration_id == registration_id)
            .values(name=ERASED, email=ERASED, job_title=None)
        )
        await SqlBilling(self.session).erase_recipient(registration_id)
        await self._erase_outbox(registration_id)

    async def _erase_outbox(self, registration_id: str) -> None:
        # The outbox is nearly always empty (the relay publishes within milliseconds), so reading our events in
        # it is cheap. FOR UPDATE waits for a relay that is publishing a row right now; it then finds it gone.
        # Locking in position order, as the relay does, keeps two erasures from deadlocking on each other's rows.
        rows = (await self.session.execute(
            select(Outbox).where(Outbox.exchange == EVENTS_EXCHANGE, Outbox.routing_key.like("registration.%"))
            .order_by(Outbox.position).with_for_update()
        )).scalars().all()
        for row in rows:
            envelope = json.loads(row.body)
            if envelope.get("data", {}).get("registration_id") != registration_id:
                continue
            data = erased_event_data(row.message_type, envelope["data"])
            if data is None:
                await self.session.execute(delete(Outbox).where(Outbox.position == row.position))
            else:
                row.body = json.dumps({**envelope, "data": data}, ensure_ascii=False).encode()

    async def unerased_of_editions(self, editions: list[str]) -> list[str]:
        if not editions:
            return []
        rows = await self.session.execute(
            select(RegistrationRow.id).where(RegistrationRow.edition.in_(editions), RegistrationRow.erased_at.is_(None))
            .order_by(RegistrationRow.registered_at))
        return list(rows.scalars())

    async def active_member_emails(self, edition: str, emails: list[str]) -> set[str]:
        rows = await self.session.execute(
            select(MemberRow.email)
            .join(RegistrationRow, RegistrationRow.id == MemberRow.registration_id)
            .where(RegistrationRow.edition == edition, RegistrationRow.status.in_(ACTIVE_STATUSES),
                   MemberRow.email.in_(emails))
        )
        return set(rows.scalars())


class SqlBilling:
    """Invoices, credit notes, payments and the number counters."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def next_number(self, series: str, year: int) -> int:
        """The next number of the series in `year`, without gaps: one statement that creates or increments the
        year's counter row and keeps it locked until this transaction ends (a competing replica waits, then
        reads the number after ours; a rollback undoes the increment)."""
        table = InvoiceCounterRow.__table__
        statement = (
            upsert(self.session)(table).values(series=series, year=year, last_number=1)
            .on_conflict_do_update(index_elements=["series", "year"],
                                   set_={"last_number": table.c.last_number + 1})
            .returning(table.c.last_number)
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def facts(self, registration_id: str) -> InvoiceFacts | None:
        row = await self.session.get(RegistrationRow, registration_id)
        if row is None or row.invoice is None:
            return None
        edition = await self.session.get(EditionRow, row.edition)
        members = (await self.session.execute(
            select(MemberRow).where(MemberRow.registration_id == registration_id).order_by(MemberRow.position)
        )).scalars()
        return InvoiceFacts(
            registration_id=row.id, edition=row.edition, edition_title=edition.title if edition else row.edition,
            municipality_code=row.municipality_code, municipality_name=row.municipality_name,
            fee=Fee.model_validate(row.fee), invoice_address=row.invoice["address"],
            invoice_reference=row.invoice["reference"], invoice_email=row.invoice.get("email"),
            members=[(m.email, m.role, m.language) for m in members],  # type: ignore[misc]
        )

    async def of_registration(self, registration_id: str, *, for_update: bool = False) -> Invoice | None:
        query = select(InvoiceRow).where(InvoiceRow.registration_id == registration_id)
        row = (await self.session.execute(query.with_for_update() if for_update else query)).scalar_one_or_none()
        return _invoice(row) if row else None

    async def get(self, number: str, *, for_update: bool = False) -> Invoice | None:
        query = select(InvoiceRow).where(InvoiceRow.number == number)
        row = (await self.session.execute(query.with_for_update() if for_update else query)).scalar_one_or_none()
        return _invoice(row) if row else None

    async def add(self, invoice: Invoice, documents: Documents) -> None:
        i = invoice
        self.session.add(InvoiceRow(
            number=i.number, registration_id=i.registration_id, edition=i.edition, description=i.description,
            issued_at=i.issued_at, issue_date=i.issue_date, due_at=i.due_at, due_date=i.due_date,
            seller=_plain(i.seller), buyer={**_plain(i.buyer), "address_lines": list(i.buyer.address_lines)},
            vat={"rate": str(i.vat.rate), "exemption_reason": i.vat.exemption_reason},
            net_cents=i.amounts.net_cents, vat_cents=i.amounts.vat_cents, total_cents=i.amounts.total_cents,
            recipient={"email": i.recipient.email, "language": str(i.recipient.language)}, paid_cents=i.paid_cents,
            pdf=documents.pdf, ubl=documents.ubl,
        ))
        await self.session.flush()  # payments and credit notes refer to it within the same transaction

    async def save(self, invoice: Invoice) -> None:
        await self.session.execute(
            update(InvoiceRow).where(InvoiceRow.number == invoice.number)
            .values(paid_cents=invoice.paid_cents, overdue_at=invoice.overdue_at,
                    credit_note_number=invoice.credit_note_number))

    async def add_credit_note(self, note: CreditNote, documents: Documents) -> None:
        self.session.add(CreditNoteRow(number=note.number, invoice_number=note.invoice.number,
                                       issued_at=note.issued_at, issue_date=note.issue_date, reason=note.reason,
                                       pdf=documents.pdf, ubl=documents.ubl))

    async def add_payment(self, number: str, amount_cents: int, paid_at: datetime, reference: str | None,
                          now: datetime) -> None:
        self.session.add(PaymentRow(invoice_number=number, amount_cents=amount_cents, paid_at=paid_at,
                                    reference=reference, recorded_at=now))

    async def overdue_candidates(self, now: datetime) -> list[str]:
        rows = await self.session.execute(
            select(InvoiceRow.number).where(InvoiceRow.due_at <= now, InvoiceRow.overdue_at.is_(None),
                                            InvoiceRow.credit_note_number.is_(None),
                                            InvoiceRow.paid_cents < InvoiceRow.total_cents)
            .order_by(InvoiceRow.due_at))
        return list(rows.scalars())

    async def document(self, number: str, kind: str, *, credit_note: bool = False) -> bytes | None:
        """The PDF (`pdf`) or UBL (`xml`) as issued."""
        model: type[InvoiceRow] | type[CreditNoteRow] = CreditNoteRow if credit_note else InvoiceRow
        column = model.pdf if kind == "pdf" else model.ubl
        return (await self.session.execute(select(column).where(model.number == number))).scalar_one_or_none()

    async def listing(self, edition: str | None) -> list[dict[str, Any]]:
        """Every invoice with its state, oldest first, for organisers and the bookkeeping."""
        query = select(InvoiceRow).order_by(InvoiceRow.issued_at, InvoiceRow.number)
        if edition:
            query = query.where(InvoiceRow.edition == edition)
        return [{
            "invoice_number": r.number, "registration_id": r.registration_id, "edition": r.edition,
            "buyer": r.buyer["name"], "buyer_reference": r.buyer["reference"], "issue_date": r.issue_date.isoformat(),
            "due_date": r.due_date.isoformat(), "amount_cents": r.net_cents, "vat_cents": r.vat_cents,
            "total_cents": r.total_cents, "paid_cents": r.paid_cents,
            "open_cents": 0 if r.credit_note_number else max(r.total_cents - r.paid_cents, 0),
            "overdue": r.overdue_at is not None, "credit_note_number": r.credit_note_number,
        } for r in (await self.session.execute(query)).scalars()]

    async def erase_recipient(self, registration_id: str) -> None:
        """The mailbox invoice mails went to may be a participant's own address: it goes with the personal data.
        The documents as issued stay unchanged (fiscal retention, docs/invoicing.md)."""
        await self.session.execute(
            update(InvoiceRow).where(InvoiceRow.registration_id == registration_id)
            .values(recipient={"email": ERASED, "language": "nl"}))


def _plain(value: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(value).items()}


def _invoice(row: InvoiceRow) -> Invoice:
    buyer = {**row.buyer, "address_lines": tuple(row.buyer["address_lines"])}
    return Invoice(
        number=row.number, registration_id=row.registration_id, edition=row.edition, description=row.description,
        issued_at=row.issued_at, due_at=row.due_at, seller=Seller(**row.seller), buyer=Buyer(**buyer),
        vat=VatRule(rate=Decimal(row.vat["rate"]), exemption_reason=row.vat["exemption_reason"]),
        amounts=Amounts(net_cents=row.net_cents, vat_cents=row.vat_cents),
        recipient=Recipient(email=row.recipient["email"], language=row.recipient["language"]),
        paid_cents=row.paid_cents, overdue_at=row.overdue_at, credit_note_number=row.credit_note_number,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def load_municipalities(config: RegistrationConfig, path: Path = MUNICIPALITIES_FILE) -> MunicipalityRegister:
    """The CBS municipalities, classified with the configured band and M50 member list."""
    m50 = _read_codes(config.m50_file)
    with path.open(encoding="utf-8", newline="") as f:
        return MunicipalityRegister(
            Municipality.classified(row["gm_code"], row["naam"], row["provincie"], int(row["inwoners"]),
                                    row["gm_code"] in m50, config.band)
            for row in csv.DictReader(f)
        )


def _read_codes(path: Path) -> set[str]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if "gm_code" not in (reader.fieldnames or []):
            raise SettingsError(f"REGISTRATION_M50_FILE: {path} has no gm_code column")
        return {row["gm_code"].strip() for row in reader}
