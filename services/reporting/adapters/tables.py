"""Reporting's store: its declarative tables (one Alembic history, services/reporting/migrations)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import InboxMixin, OutboxMixin, UtcDateTime, utcnow


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
    publish_reports_at_once: Mapped[bool] = mapped_column(Boolean, default=False)


class SessionReportRow(Base):
    """A held session's report, already scrubbed of contact details: a draft until `published_at` is set. Pages
    are rendered from it on request."""

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
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Where the stored texts were changed (contact details, attributions), per section and item: the preview's.
    marks: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class RoundReportRow(Base):
    """The round's report of an edition: when it was published (it is rendered on request) or retracted."""

    __tablename__ = "round_reports"

    edition: Mapped[str] = mapped_column(String(64), primary_key=True)
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)
    retracted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class EditionLockRow(Base):
    """One row per edition that reporting has heard of, to serialise the decisions to publish its summaries (at once)
    and the round's report."""

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


INVOICE_FIELDS = (
    "registration_id",
    "edition",
    "buyer_name",
    "buyer_reference",
    "issue_date",
    "due_date",
    "net_cents",
    "vat_cents",
    "total_cents",
    "paid_cents",
    "overdue",
    "credit_note_number",
)

REPORT_FIELDS = (
    "title",
    "starts_at",
    "trios",
    "municipalities",
    "lessons",
    "quotes",
    "next_steps",
    "completed_at",
    "retracted_at",
    "published_at",
)

TRIO_FIELDS = (
    "edition",
    "registered_at",
    "member_domains",
    "member_roles",
    "fee_cents",
    "fee_waived",
    "fee_reason",
    "publish_municipality_name",
    "channel",
    "status",
    "waitlist_position",
    "placement_at",
    "erased_at",
)
