"""Registration's tables: the declarative SQLAlchemy models Alembic's migrations follow (migrations/env.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import InboxMixin, OutboxMixin, UtcDateTime


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
    # The organisers' list (GET /api/registrations): an edition's page in registration order, and the filters.
    __table_args__ = (
        Index("ix_registrations_edition_registered_at", "edition", "registered_at"),
        Index("ix_registrations_status", "status"),
    )

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
    """When scheduling last planned one session's seating as a whole (scheduling.SeatingPlanned): a trio's seat in
    the session decided before then is that plan's to change. Its row is also what a whole plan and a trio seated
    on its own (scheduling.TrioSeated) take turns on. planned_at None: no whole plan seen yet."""

    __tablename__ = "seating_plans"

    edition: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    planned_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class SeatRow(Base):
    """A trio's table in one session, from a whole plan or its own TrioSeated; seated_at: when scheduling decided it
    (the event's occurred_at), so a seating delivered late does not overwrite a newer one."""

    __tablename__ = "seats"
    __table_args__ = (Index("ix_seats_edition_session", "edition", "session_number"),)

    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    edition: Mapped[str] = mapped_column(String(64))
    table_number: Mapped[int] = mapped_column(Integer)
    seated_at: Mapped[datetime] = mapped_column(UtcDateTime)


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


class HistoryRow(Base):
    """A registration's history, one row per event about it (services/registration/history.py); append-only,
    written in the unit of work that emits or applies the event. Erasure blanks `reason` only."""

    __tablename__ = "registration_history"
    __table_args__ = (Index("ix_registration_history_registration", "registration_id", "at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    registration_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    event: Mapped[str] = mapped_column(String(80))  # routing key, e.g. scheduling.TrioPlaced
    summary: Mapped[str] = mapped_column(String(500))
    reason: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)  # Actor.account_id


class ApprovalRequestRow(Base):
    """Every approval request made (mailed or held), so that the requests to one approver address, and from one
    registering client, in the last day can be counted (domain.approval_held); one row per ApprovalRequested.
    Deleted with the registration's personal data."""

    __tablename__ = "approval_requests"
    __table_args__ = (
        Index("ix_approval_requests_approver_at", "approver_email", "requested_at"),
        Index("ix_approval_requests_client_at", "client", "requested_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    registration_id: Mapped[str] = mapped_column(String(36), index=True)
    approver_email: Mapped[str] = mapped_column(String(320))  # lower-cased
    client: Mapped[str | None] = mapped_column(String(320), nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    held: Mapped[bool] = mapped_column(Boolean)
    # When an organiser sent a held request after all (a new, mailed request); None while it is still held.
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
