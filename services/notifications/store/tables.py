"""Notifications' tables: the mails, their handoffs, the copies of editions and registrations, the reminders.

Alembic's env (migrations/env.py) reads `Base.metadata` from here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import InboxMixin, OutboxMixin, UtcDateTime


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class MailRow(Base):
    """One notification by mail. The primary key is derived from what makes it unique (domain.notification_id),
    so a replayed event, or two events that mean the same thing, cannot queue a second mail."""

    __tablename__ = "mails"
    __table_args__ = (Index("ix_mails_due", "status", "next_attempt_at"),)

    notification_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    caused_by: Mapped[str] = mapped_column(String(200))
    correlation_id: Mapped[str] = mapped_column(String(200))
    # Kept so a privacy request (registration.ParticipantDataErased) can find a registration's mails.
    registration_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The .ics attached (TrioPlaced, SessionRescheduled): stored, so a retry sends the very same invitation.
    calendar: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # An invoice's PDF and UBL (registration.InvoiceIssued, CreditNoteIssued): stored like the calendar.
    attachments: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, nullable=True)


class HandoffRow(Base):
    """A mail whose complete message the SMTP server holds, waiting only for the final '.': see sender/."""

    __tablename__ = "mail_handoffs"

    notification_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    handed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EditionRow(Base):
    """Notifications' copy of an edition (event-carried state from scheduling.EditionScheduled)."""

    __tablename__ = "editions"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    venue: Mapped[dict[str, Any]] = mapped_column(JSON)
    registration_deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    sessions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scheduled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    capacity: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class RegistrationRow(Base):
    """Notifications' copy of a registration: registration.TrioRegistered plus what later events changed."""

    __tablename__ = "registrations"

    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    edition: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    approval: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    waitlist_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    waitlisted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    erased: Mapped[bool] = mapped_column(Boolean, default=False)


class ReminderRow(Base):
    """A reminder to send at due_at; queued into a mail once (per generation) by whichever replica claims it."""

    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_due", "queued_at", "due_at"),)

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    edition: Mapped[str] = mapped_column(String(64))
    session_number: Mapped[int] = mapped_column(Integer)
    registration_id: Mapped[str] = mapped_column(String(64), index=True)
    offset: Mapped[str] = mapped_column(String(20))
    table_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    caused_by: Mapped[str] = mapped_column(String(200))
    correlation_id: Mapped[str] = mapped_column(String(200))
    generation: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    seated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
