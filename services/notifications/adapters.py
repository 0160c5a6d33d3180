"""Notifications' store (declarative models and repositories) and the ways a mail leaves: SMTP or .eml files."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint, Uuid, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import InboxMixin, OutboxMixin, UtcDateTime

from .domain import EditionInfo, Mail, SessionInfo


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class MailRow(Base):
    __tablename__ = "mails"
    __table_args__ = (
        # A replayed event (or a bug that runs the handler twice) cannot queue a second mail.
        UniqueConstraint("caused_by", "kind", "recipient", name="uq_mails_caused_by_kind_recipient"),
        Index("ix_mails_due", "status", "next_attempt_at"),
    )

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
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class EditionRow(Base):
    """Notifications' copy of an edition (event-carried state from scheduling.EditionScheduled)."""

    __tablename__ = "editions"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    venue: Mapped[dict[str, Any]] = mapped_column(JSON)
    registration_deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    sessions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scheduled_at: Mapped[datetime] = mapped_column(UtcDateTime)


MAIL_FIELDS = ("kind", "caused_by", "correlation_id", "registration_id", "recipient", "language", "subject", "text",
               "html", "status", "attempts", "next_attempt_at", "last_error", "created_at", "sent_at")


def to_mail(row: MailRow) -> Mail:
    return Mail(notification_id=str(row.notification_id), **{f: getattr(row, f) for f in MAIL_FIELDS})


class SqlMails:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, mail: Mail) -> bool:
        table = MailRow.__table__
        insert = sqlite_insert if self.session.get_bind().dialect.name == "sqlite" else pg_insert
        values = {f: getattr(mail, f) for f in MAIL_FIELDS} | {"notification_id": uuid.UUID(mail.notification_id)}
        statement = (
            insert(table).values(**values)
            .on_conflict_do_nothing(index_elements=["caused_by", "kind", "recipient"])
            .returning(table.c.notification_id)
        )
        return (await self.session.execute(statement)).first() is not None


class SqlEditions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, slug: str) -> EditionInfo | None:
        row = await self.session.get(EditionRow, slug)
        if row is None:
            return None
        return EditionInfo(
            slug=row.slug, title=row.title, venue=row.venue, registration_deadline=row.registration_deadline,
            sessions=[SessionInfo(s["number"], s["title"], datetime.fromisoformat(s["starts_at"]),
                                  datetime.fromisoformat(s["ends_at"])) for s in row.sessions],
            scheduled_at=row.scheduled_at,
        )

    async def save(self, edition: EditionInfo) -> None:
        row = await self.session.get(EditionRow, edition.slug)
        if row is None:
            row = EditionRow(slug=edition.slug)
            self.session.add(row)
        row.title = edition.title
        row.venue = edition.venue
        row.registration_deadline = edition.registration_deadline
        row.sessions = [
            {"number": s.number, "title": s.title, "starts_at": s.starts_at.isoformat(),
             "ends_at": s.ends_at.isoformat()}
            for s in edition.sessions
        ]
        row.scheduled_at = edition.scheduled_at


async def newest_mails(session: AsyncSession, limit: int = 200) -> list[Mail]:
    rows = await session.execute(select(MailRow).order_by(MailRow.created_at.desc(), MailRow.recipient).limit(limit))
    return [to_mail(r) for r in rows.scalars()]


# Delivery


def compose(mail: Mail, mail_from: str) -> EmailMessage:
    """The message as sent. Built only from stored fields, so a retry sends the very same message."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at)
    # Deterministic, so a rare duplicate (see sender.py) carries the same Message-ID and mail clients can fold it.
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "werkplaatsen.invalid"
    message["Message-ID"] = f"<{mail.notification_id}@{domain}>"
    message["Content-Language"] = mail.language
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
        message.set_boundary(f"=={mail.notification_id}==")
    return message


class Delivery(Protocol):
    """One sender worker's way out; may keep a connection open between mails until closed."""

    async def send(self, notification_id: str, message: EmailMessage) -> None: ...
    async def close(self) -> None: ...


class SmtpDelivery:
    """Sends through WERKPLAATSEN_SMTP_URL (smtp://[user:password@]host:port, or smtps:// for TLS).

    The connection is opened on first use and reused for the next mails of the same burst; after a failure it
    is dropped, so the next mail starts on a fresh connection.
    """

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.use_tls = parts.scheme == "smtps"
        self.hostname = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.use_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self._client: aiosmtplib.SMTP | None = None

    async def send(self, notification_id: str, message: EmailMessage) -> None:
        if self._client is None or not self._client.is_connected:
            client = aiosmtplib.SMTP(hostname=self.hostname, port=self.port, use_tls=self.use_tls,
                                     username=self.username, password=self.password, timeout=self.timeout)
            await client.connect()
            self._client = client
        try:
            await self._client.send_message(message)
        except BaseException:
            self._client.close()
            self._client = None
            raise

    async def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.quit(), timeout=5)
            self._client.close()
            self._client = None


class EmlDelivery:
    """Without an SMTP server (dev mode) each mail becomes `<directory>/<notification_id>.eml`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, notification_id: str, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, notification_id, message.as_bytes())

    def _write(self, notification_id: str, content: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / f"{notification_id}.eml"
        partial = final.with_suffix(".eml.partial")
        partial.write_bytes(content)
        # Rename is atomic: a reader never sees half a mail, and a resend overwrites instead of duplicating.
        os.replace(partial, final)

    async def close(self) -> None:
        return None
