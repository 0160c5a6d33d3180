"""The mails: queued by the handlers, claimed and recorded by the sender, read by the log and the mailbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import upsert

from ..domain import ERASED, PENDING, SUPERSEDED, Mail
from .tables import MailRow

MAIL_FIELDS = (
    "kind",
    "caused_by",
    "correlation_id",
    "registration_id",
    "recipient",
    "language",
    "subject",
    "text",
    "html",
    "calendar",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "sent_at",
    "message_id",
    "attachments",
)


def to_mail(row: MailRow) -> Mail:
    return Mail(notification_id=str(row.notification_id), **{f: getattr(row, f) for f in MAIL_FIELDS})


class SqlMails:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, mails: Sequence[Mail]) -> set[str]:
        if not mails:
            return set()
        table = MailRow.__table__
        rows = {
            m.notification_id: {f: getattr(m, f) for f in MAIL_FIELDS}
            | {"notification_id": uuid.UUID(m.notification_id)}
            for m in mails
        }
        # The rows as parameters, not in the statement: SQLAlchemy still sends one multi-row INSERT (a trio's three
        # mails cost one round trip, not three), and the statement is compiled once instead of for every event
        # (an INSERT with the rows in its VALUES cannot be cached: compiling it was a millisecond per event).
        statement = (
            upsert(self.session)(table)
            .on_conflict_do_nothing(index_elements=["notification_id"])
            .returning(table.c.notification_id)
        )
        found = await self.session.execute(statement, list(rows.values()))
        return {str(notification_id) for notification_id in found.scalars()}

    async def supersede(self, registration_id: str, kind: str) -> int:
        """Mark the registration's pending mails of `kind` superseded, except any a sender is handing over now."""
        pending = select(MailRow.notification_id).where(
            MailRow.registration_id == registration_id, MailRow.kind == kind, MailRow.status == PENDING
        )
        if self.session.get_bind().dialect.name == "postgresql":
            # A mail under a sender's row lock is being handed over: it is left to go out, not waited for.
            pending = pending.with_for_update(skip_locked=True)
        result = await self.session.execute(
            update(MailRow)
            .where(MailRow.notification_id.in_(pending.scalar_subquery()))
            .values(status=SUPERSEDED)
            .execution_options(synchronize_session=False)
        )
        return int(cast(CursorResult[Any], result).rowcount or 0)

    async def of_registration(self, registration_id: str) -> list[Mail]:
        rows = await self.session.execute(
            select(MailRow)
            .where(MailRow.registration_id == registration_id)
            .order_by(MailRow.created_at, MailRow.kind, MailRow.notification_id)
        )
        return [to_mail(r) for r in rows.scalars()]

    async def erase(self, registration_id: str) -> list[str]:
        """Blank the addresses and texts of a registration's mails; those not yet sent will not be. Their ids."""
        return await self._erase(MailRow.registration_id == registration_id)

    async def erase_recipient(self, registration_id: str, recipient: str) -> list[str]:
        return await self._erase(MailRow.registration_id == registration_id, MailRow.recipient == recipient)

    async def _erase(self, *which: ColumnElement[bool]) -> list[str]:
        blank = {
            "recipient": "",
            "subject": "",
            "text": "",
            "html": None,
            "calendar": None,
            "last_error": None,
            "attachments": None,
        }
        await self.session.execute(update(MailRow).where(*which, MailRow.status == PENDING).values(status=ERASED))
        result = await self.session.execute(
            update(MailRow).where(*which).values(**blank).returning(MailRow.notification_id)
        )
        return [str(notification_id) for notification_id in result.scalars()]


async def newest_mails(session: AsyncSession, limit: int = 200) -> list[Mail]:
    rows = await session.execute(select(MailRow).order_by(MailRow.created_at.desc(), MailRow.recipient).limit(limit))
    return [to_mail(r) for r in rows.scalars()]


def due_mails(now: datetime) -> Select[MailRow]:
    """Pending mails whose next attempt is due, the longest waiting first."""
    return (
        select(MailRow)
        .where(MailRow.status == PENDING, MailRow.next_attempt_at <= now)
        .order_by(MailRow.next_attempt_at)
    )
