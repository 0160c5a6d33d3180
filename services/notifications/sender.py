"""The mail sender: a background loop that delivers queued mails and reports each outcome as an event.

Exactly once, as far as SMTP allows. On PostgreSQL a mail is claimed with SELECT ... FOR UPDATE SKIP LOCKED
and its row lock is held while the SMTP conversation runs; the outcome (status, NotificationSent or
NotificationFailed in the outbox) is committed in that same transaction. Competing replicas therefore never
send the same mail at the same time, and a mail marked sent is never sent again.

The one window for a duplicate: the SMTP server has answered 250 to our DATA (it owns the mail now) and we
crash, lose the database connection or are cancelled before the commit. The row is still pending, the lock
dies with the connection, and the mail is sent again later (with the same Message-ID, so mail clients can
fold the two). The other order, committing "sent" first and then talking to SMTP, closes that window but
opens a worse one: a crash in between loses the mail without a trace. A rare duplicate acknowledgement is
better than a participant who never hears from us, so we send first and commit second.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contract.notifications import NotificationFailed, NotificationSent
from shared.db import Database, OutboxMixin, utcnow
from shared.messaging.outbox import Cause, Outbox

from .adapters import Delivery, MailRow, compose, to_mail
from .domain import FAILED, PENDING, SENT, Mail, after_attempt

log = structlog.get_logger()


class MailSender:
    """Delivers due mails with up to `concurrency` workers, each on its own transaction and SMTP connection."""

    def __init__(self, db: Database, outbox_model: type[OutboxMixin], delivery: Callable[[], Delivery], *,
                 mail_from: str, on_commit: Callable[[], None] = lambda: None, concurrency: int = 8,
                 poll_interval: float = 1.0, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.outbox_model = outbox_model
        self.delivery = delivery
        self.mail_from = mail_from
        self.on_commit = on_commit
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.clock = clock
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            # Cleared before the pass, so a wake during it (new mails committed meanwhile) starts another at once.
            self._wake.clear()
            try:
                await self.send_due()
            except Exception as exc:  # database unreachable: try again after the poll interval
                log.warning("mail_sender_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)

    async def send_due(self) -> int:
        """Attempt every mail that is due now; returns the number of attempts made."""
        due = await self._count_due()
        if due == 0:
            return 0
        # SQLite serves one process with one writer: a single worker (see _attempt_unlocked).
        workers = min(due, self.concurrency) if self.db.is_postgres else 1
        results = await asyncio.gather(*(self._work() for _ in range(workers)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        return sum(r for r in results if isinstance(r, int))

    async def _work(self) -> int:
        delivery = self.delivery()
        attempts = 0
        try:
            while await self._attempt_next(delivery):
                attempts += 1
        finally:
            await delivery.close()
        return attempts

    def _due(self) -> Select[tuple[MailRow]]:
        return (
            select(MailRow)
            .where(MailRow.status == PENDING, MailRow.next_attempt_at <= self.clock())
            .order_by(MailRow.next_attempt_at)
        )

    async def _count_due(self) -> int:
        async with self.db.sessions() as session:
            query = select(func.count()).select_from(self._due().order_by(None).subquery())
            return int((await session.execute(query)).scalar_one())

    async def _attempt_next(self, delivery: Delivery) -> bool:
        if self.db.is_postgres:
            return await self._attempt_locked(delivery)
        return await self._attempt_unlocked(delivery)

    async def _attempt_locked(self, delivery: Delivery) -> bool:
        async with self.db.transaction() as session:
            row = (await session.execute(self._due().limit(1).with_for_update(skip_locked=True))).scalar_one_or_none()
            if row is None:
                return False
            mail = to_mail(row)
            error = await self._deliver(delivery, mail)
            self._record(session, row, mail, error)
        self.on_commit()
        return True

    async def _attempt_unlocked(self, delivery: Delivery) -> bool:
        # SQLite has no row locks and is only used by a single process (dev mode), where this loop is the only
        # sender. Holding its one write lock while an SMTP server answers would stall every other writer, so the
        # mail is read, sent, and then recorded in a short transaction.
        async with self.db.sessions() as session:
            row = (await session.execute(self._due().limit(1))).scalar_one_or_none()
            mail = to_mail(row) if row is not None else None
        if mail is None:
            return False
        error = await self._deliver(delivery, mail)
        async with self.db.transaction() as session:
            row = await session.get(MailRow, uuid.UUID(mail.notification_id))
            if row is not None and row.status == PENDING:
                self._record(session, row, mail, error)
        self.on_commit()
        return True

    async def _deliver(self, delivery: Delivery, mail: Mail) -> str | None:
        """Send one mail; the reason it failed, or None."""
        try:
            await delivery.send(mail.notification_id, compose(mail, self.mail_from))
        except Exception as exc:  # every failure of an attempt is retried with backoff, up to MAX_ATTEMPTS
            # Logs carry no personal data: the exception's type and SMTP code, not its text (it may quote the address).
            log.warning("mail_attempt_failed", notification_id=mail.notification_id, kind=mail.kind,
                        error=type(exc).__name__, smtp_code=getattr(exc, "code", None))
            return _reason(exc, mail.recipient)
        return None

    def _record(self, session: AsyncSession, row: MailRow, mail: Mail, error: str | None) -> None:
        outcome = after_attempt(mail, error, self.clock())
        row.status = outcome.status
        row.attempts = outcome.attempts
        row.next_attempt_at = outcome.next_attempt_at
        row.last_error = outcome.last_error
        row.sent_at = outcome.sent_at
        outbox = Outbox(session, self.outbox_model, "notifications",
                        Cause(message_id=mail.caused_by, correlation_id=mail.correlation_id))
        if outcome.status == SENT:
            outbox.emit(NotificationSent(notification_id=mail.notification_id, kind=mail.kind, channel="email",
                                         caused_by=mail.caused_by))
            log.info("mail_sent", notification_id=mail.notification_id, kind=mail.kind, attempts=outcome.attempts)
        elif outcome.status == FAILED:
            outbox.emit(NotificationFailed(notification_id=mail.notification_id, kind=mail.kind, channel="email",
                                           caused_by=mail.caused_by, reason=error or "unknown"))
            log.error("mail_failed", notification_id=mail.notification_id, kind=mail.kind, attempts=outcome.attempts)
        else:
            log.info("mail_retry_scheduled", notification_id=mail.notification_id, kind=mail.kind,
                     attempts=outcome.attempts, next_attempt_at=outcome.next_attempt_at.isoformat())


def _reason(exc: Exception, recipient: str) -> str:
    """The failure as stored and published: the server's words, with the recipient's address blanked out."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return re.sub(re.escape(recipient), "<recipient>", text, flags=re.IGNORECASE)[:1000]
