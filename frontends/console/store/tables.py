"""The console's tables: the declarative SQLAlchemy models its Alembic history follows (../migrations/env.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, utcnow


class Base(DeclarativeBase):
    pass


class AccountRow(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised (domain.normalise_email)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)  # Argon2id, None until invited
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The editions (slugs) a facilitator is assigned to.
    editions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The TOTP time step of the last code that signed in: a code is good once, not for its whole window.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # In every session cookie; raising it ends all the account's sessions at once (sign out everywhere,
    # disabling, a new password).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AccessTokenRow(Base):
    """A personal access token: only its SHA-256 is kept, the token itself is shown once when it is made."""

    __tablename__ = "access_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuditRow(Base):
    """One organiser action or sign-in attempt. Append-only: the migration adds triggers that refuse UPDATE and
    DELETE, so not even a bug in the console can rewrite who did what."""

    __tablename__ = "audit_log"
    # Each filter of the log's page is an equality that an index answers in the page's order (newest id first),
    # so a filtered page reads its own rows, never the whole log.
    __table_args__ = (
        Index("ix_audit_log_actor_id", "actor", "id"),
        Index("ix_audit_log_action_id", "action", "id"),
        Index("ix_audit_log_subject_id", "subject", "id"),
        Index("ix_audit_log_outcome_id", "outcome", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))  # an account id, or the email a sign-in named
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(100), default="")
    outcome: Mapped[str] = mapped_column(String(20))  # accepted | rejected | pending
    reason: Mapped[str] = mapped_column(String(300), default="")


class CheckinTapRow(Base):
    """One tap at the door, by the id the phone gave it: a tap sent again (a retry after a lost answer, a queue
    replayed after the network came back) finds its row and changes nothing."""

    __tablename__ = "checkin_taps"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # client-generated
    edition: Mapped[str] = mapped_column(String(64))
    session_number: Mapped[int] = mapped_column(Integer)
    registration_id: Mapped[str] = mapped_column(String(64))
    present: Mapped[bool] = mapped_column(Boolean)
    tapped_at: Mapped[datetime] = mapped_column(UtcDateTime)  # on the phone's clock, no later than its arrival
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    account_id: Mapped[str] = mapped_column(String(36))


class CheckinMarkRow(Base):
    """Where a trio stands in a session's check-in draft: the latest tap about it (by when it was tapped)."""

    __tablename__ = "checkin_marks"

    edition: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    present: Mapped[bool] = mapped_column(Boolean)
    tapped_at: Mapped[datetime] = mapped_column(UtcDateTime)
    tap_id: Mapped[str] = mapped_column(String(64))


class NotesDraftRow(Base):
    """A session's notes as the console last saved them (SessionNotes as JSON), before and after they were sent."""

    __tablename__ = "notes_drafts"

    edition: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    notes: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(36))
