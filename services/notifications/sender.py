"""The mail sender: a background loop that queues due reminders, delivers due mails and reports each outcome.

Exactly once, as far as SMTP allows: a two-phase send.

1. Claim. On PostgreSQL a due mail is claimed with SELECT ... FOR UPDATE SKIP LOCKED in transaction A, whose row
   lock is held until the outcome is recorded: competing replicas never work on the same mail at once. A mail
   that has a `mail_handoffs` row is not sent at all but recorded as sent (recovery, below).
2. Hand over. MAIL FROM, RCPT TO, DATA and the whole dot-stuffed message (aiosmtplib's own line-ending
   normalisation and dot-stuffing) are written, and we wait until the kernel has taken every byte: everything
   except the terminating "<CRLF>.<CRLF>". The server holds the message but discards it if the connection ends.
3. Record the handoff and terminate. Transaction B is one autocommit INSERT of the `mail_handoffs` row, sent
   with the simple query protocol on a connection of its own. Its bytes and the terminator's three bytes are
   written to their sockets by two consecutive callbacks of the event loop, nothing in between: the INSERT
   task's first step, then the terminator. We do not wait for the database's answer before terminating (on a
   busy loop that wait is milliseconds, not the round trip: the reply waits its turn behind other work).
4. Read the server's reply, then record in A: 250 -> `sent` and NotificationSent in the outbox; 4xx or a broken
   connection -> back to `pending` with backoff (NotificationFailed after MAX_ATTEMPTS); 5xx -> `failed` and
   NotificationFailed. The handoff row is deleted in A too; A commits and releases the row lock.

Recovery. A crash after step 3 rolls A back: the mail is `pending` and unlocked again, and its handoff row is
committed (PostgreSQL executes an INSERT it has received even when the client is gone; the kernel still sends
both sockets' written bytes after a SIGKILL, as neither has unread input at that moment). Whoever claims the
mail next (this process after a restart, or another replica at once) sends nothing and records it as sent with
its NotificationSent. A crash before step 3 leaves no handoff row and no terminator: the server drops the
message, and the mail is sent again in full.

The windows that remain, precisely:
- Lost mail: a crash between the INSERT's write and the terminator's write in step 3, i.e. between two
  adjacent callbacks of the loop (microseconds); or the terminator's bytes lost after they were written
  (the server's host fails before reading them).
- Duplicate mail: the terminator was written but the handoff row was not committed (the database refused or
  lost the INSERT) and this process dies before A records the outcome, or A cannot record it either (the
  database is gone) and another replica claims the mail before this one does (this one remembers what the
  server accepted: `_remember_unrecorded`); or the server accepted and its reply
  never reached us (connection cut, timeout): the mail goes back to `pending` and is sent again, with the same
  Message-ID. The latter is SMTP's own ambiguity; no client can close it. (If an earlier cancellation is still
  being acknowledged on the handoff connection, asyncpg may delay the INSERT's write past the terminator: then
  a crash in between duplicates rather than loses.)
- Mail recorded as sent though the server refused it: a crash after step 3 before A commits, when the server
  answered 4xx/5xx to the terminator.
The window of the earlier send-then-commit design (the server's 250 arrives, we die before the commit, the mail
goes out twice) is gone: that moment now lies after the handoff row.

SQLite (development, one process) has no row locks: there the claim is a plain read, B is a short transaction
awaited before the terminator, the outcome is recorded in a short transaction of its own, and recovery works
the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from shared.contract.notifications import NotificationFailed, NotificationSent
from shared.db import Database, OutboxMixin, utcnow
from shared.messaging.outbox import Cause, Outbox, wait_any

from .adapters import Delivery, Handoff, HandoffRow, MailRow, compose, message_id_for, to_mail
from .domain import FAILED, PENDING, SENT, Mail, after_attempt, is_permanent

log = structlog.get_logger()

# An SMTP connection left open after its worker ran out of mail is reused by the next worker for this long.
IDLE_CONNECTION_SECONDS = 10.0

# Mails accepted by the server whose outcome could not be recorded, remembered at most (see _remember_unrecorded).
UNRECORDED_LIMIT = 10_000

# Turns due reminders into pending mails (handlers.queue_due_reminders wired with a session); returns how many.
QueueReminders = Callable[[], Awaitable[int]]


class MailSender:
    """Delivers due mails with up to `concurrency` workers, each on its own transaction and SMTP connection.

    `run` keeps the workers going as mail arrives: every wake (a commit that queued mail) tops the pool up to
    min(due mails, concurrency), and a worker keeps taking due mails until there are none, so a mail starts
    being sent as soon as its row commits. Replicas share the table through SKIP LOCKED (see the module
    docstring): each runs its own pool, and each mail is worked on by one of them.
    """

    def __init__(self, db: Database, outbox_model: type[OutboxMixin], delivery: Callable[[], Delivery], *,
                 mail_from: str, on_commit: Callable[[], None] = lambda: None, concurrency: int = 8,
                 poll_interval: float = 1.0, clock: Callable[[], datetime] = utcnow,
                 queue_reminders: QueueReminders | None = None) -> None:
        self.db = db
        self.outbox_model = outbox_model
        self.delivery = delivery
        self.mail_from = mail_from
        self.on_commit = on_commit
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.clock = clock
        self.queue_reminders = queue_reminders
        self._wake = asyncio.Event()
        self._wakes = 0  # counts wakes, so a worker that found nothing knows whether mail may have come since
        self._stop = asyncio.Event()
        self._handoff_engine: AsyncEngine | None = None
        self._workers: set[asyncio.Task[int]] = set()
        self._idle: list[tuple[float, Delivery]] = []  # open SMTP connections between workers, with when they idled
        self._unrecorded: dict[str, None] = {}  # accepted by the server, outcome not recorded: _remember_unrecorded

    def wake(self) -> None:
        self._wakes += 1
        self._wake.set()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Send until `stop` is set (the service's stop event: a cooperative job, shared/runtime.py). Mails being
        handed over then are finished and recorded; no new one is started."""
        self._stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        reminders_at = 0.0
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    # Reminders fall due with the clock, not with commits: once per poll interval is soon enough,
                    # and spares a transaction on every wake of a busy sender.
                    if loop.time() >= reminders_at:
                        reminders_at = loop.time() + self.poll_interval
                        await self._queue_reminders()
                    await self._top_up()
                except Exception as exc:  # database unreachable: try again after the poll interval
                    log.warning("mail_sender_failed", error=type(exc).__name__)
                await self._close_idle(older_than=IDLE_CONNECTION_SECONDS)
                await wait_any(self._wake, self._stop, timeout=self.poll_interval)
        finally:
            # Cooperative stop: each worker finishes the mail in hand (they watch the stop event). When the run
            # itself is cancelled, so are they: their transactions roll back, as a crash would.
            if not self._stop.is_set():
                for worker in self._workers:
                    worker.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
            await self.close()

    async def _top_up(self) -> None:
        if len(self._workers) >= self.concurrency:
            return
        due = await self._count_due()
        limit = self.concurrency if self.db.is_postgres else 1  # SQLite: one worker (see _attempt_unlocked)
        for _ in range(min(due, limit) - len(self._workers)):
            worker = asyncio.create_task(self._work(until_idle=True))
            self._workers.add(worker)
            worker.add_done_callback(self._worker_done)

    def _worker_done(self, worker: asyncio.Task[int]) -> None:
        self._workers.discard(worker)
        if not worker.cancelled() and worker.exception() is not None:
            log.warning("mail_sender_failed", error=type(worker.exception()).__name__)
            self._wake.set()  # a pass of the run loop decides whether to start another worker

    async def close(self) -> None:
        await self._close_idle(older_than=0.0)
        if self._handoff_engine is not None:
            await self._handoff_engine.dispose()
            self._handoff_engine = None

    async def _queue_reminders(self) -> None:
        if self.queue_reminders is not None and await self.queue_reminders():
            self.on_commit()

    async def send_due(self) -> int:
        """Queue due reminders, then attempt every mail that is due now; returns the number of attempts made."""
        await self._queue_reminders()
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

    async def _work(self, *, until_idle: bool = False) -> int:
        """Attempt due mails one after the other until none is left. With `until_idle`, a worker that finds none
        looks once more if a wake came meanwhile: the mail that caused it may have committed just after its look."""
        delivery = self._idle.pop()[1] if self._idle else self.delivery()
        attempts = 0
        reusable = False
        try:
            while not self._stop.is_set():
                wakes = self._wakes
                if await self._attempt_next(delivery):
                    attempts += 1
                elif not until_idle or wakes == self._wakes:
                    break
            reusable = True
        finally:
            if reusable and not self._stop.is_set() and until_idle:
                self._idle.append((asyncio.get_running_loop().time(), delivery))
            else:
                await delivery.close()
        return attempts

    async def _close_idle(self, *, older_than: float) -> None:
        now = asyncio.get_running_loop().time()
        stale = [d for idled, d in self._idle if now - idled >= older_than]
        self._idle = [(idled, d) for idled, d in self._idle if now - idled < older_than]
        for delivery in stale:
            with contextlib.suppress(Exception):
                await delivery.close()

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
        accepted: str | None = None  # a mail the server took in this attempt
        try:
            async with self.db.transaction() as session:  # transaction A: holds the row lock to the end
                # The handoff row comes with the claim (an outer join, not a second round trip per mail).
                claim = (self._due().add_columns(HandoffRow.notification_id)
                         .outerjoin(HandoffRow, HandoffRow.notification_id == MailRow.notification_id)
                         .limit(1).with_for_update(of=MailRow, skip_locked=True))
                found = (await session.execute(claim)).first()
                if found is None:
                    return False
                row, handoff = found
                mail = to_mail(row)
                if handoff is not None or mail.notification_id in self._unrecorded:
                    _log_recovery(mail)
                    self._record(session, row, mail, None)
                else:
                    error, permanent = await self._deliver(delivery, mail)
                    accepted = mail.notification_id if error is None else None
                    self._record(session, row, mail, error, permanent=permanent)
                await _forget_handoff(session, mail)
        except Exception:
            if accepted is not None:
                self._remember_unrecorded(accepted)
            raise
        self._unrecorded.pop(mail.notification_id, None)
        self.on_commit()
        return True

    def _remember_unrecorded(self, notification_id: str) -> None:
        """The server took the mail, but A could not record it (the database went away in the middle).

        The handoff row would tell whoever claims the mail next, but when the database is what failed, its INSERT
        may be lost as well. This process remembers the mail then, and records it as sent without sending it when
        it claims the mail again. Another replica claiming it first would still send it twice: that narrower
        window is the one left during a database outage.
        """
        self._unrecorded[notification_id] = None
        while len(self._unrecorded) > UNRECORDED_LIMIT:  # recorded by another replica meanwhile: forget the oldest
            self._unrecorded.pop(next(iter(self._unrecorded)))
        log.warning("mail_sent_not_recorded", notification_id=notification_id)

    async def _attempt_unlocked(self, delivery: Delivery) -> bool:
        # SQLite has no row locks and is only used by a single process (dev mode), where this loop is the only
        # sender. Holding its one write lock while an SMTP server answers would stall every other writer, so the
        # mail is read, handed over, and then recorded in short transactions.
        async with self.db.sessions() as session:
            row = (await session.execute(self._due().limit(1))).scalar_one_or_none()
            mail = to_mail(row) if row is not None else None
            handed_over = mail is not None and await _handed_over(session, mail)
        if mail is None:
            return False
        error, permanent = (None, False) if handed_over else await self._deliver(delivery, mail)
        async with self.db.transaction() as session:
            row = await session.get(MailRow, uuid.UUID(mail.notification_id))
            if row is not None and row.status == PENDING:
                self._record(session, row, mail, error, permanent=permanent)
            await _forget_handoff(session, mail)
        self.on_commit()
        return True

    async def _deliver(self, delivery: Delivery, mail: Mail) -> tuple[str | None, bool]:
        """Send one mail in two phases (module docstring); the reason it failed and whether for good, or None."""
        try:
            handoff = await delivery.prepare(mail.notification_id, compose(mail, self.mail_from))
        except Exception as exc:  # nothing was handed over: an ordinary failed attempt
            return self._failure(mail, exc)
        try:
            await self._hand_over(mail, handoff)
        except BaseException:
            await handoff.abort()
            raise
        try:
            await handoff.reply()
        except Exception as exc:
            return self._failure(mail, exc)
        return None, False

    async def _hand_over(self, mail: Mail, handoff: Handoff) -> None:
        """Transaction B (the handoff row) and the terminator, as close together as two writes can be."""
        handoff.expect_reply()
        handed_at = self.clock()
        if not self.db.is_postgres:
            async with self.db.transaction() as session:
                await session.execute(insert(HandoffRow).values(
                    notification_id=uuid.UUID(mail.notification_id), handed_at=handed_at))
            handoff.terminate()
            return
        async with self._handoff_connection() as driver:
            loop = asyncio.get_running_loop()
            # An autocommit INSERT (the simple query protocol: no transaction, no round trip before it) whose
            # task's first step writes it to the socket; the terminator is the very next callback on the loop.
            statement = _HANDOFF_INSERT.format(notification_id=uuid.UUID(mail.notification_id),
                                               handed_at=handed_at.isoformat())
            inserting = loop.create_task(driver.execute(statement))
            terminated = loop.create_future()
            loop.call_soon(_terminate_after_write, inserting, handoff, terminated)
            try:
                # Shielded: a shutdown arriving now must not take back a handoff the server may already act on.
                await asyncio.shield(inserting)
            except Exception:
                if not (terminated.done() and terminated.result()):
                    raise  # neither row nor terminator: the caller aborts, the server discards the message
                # The server has the terminator but the row may be missing: A records the outcome all the same.
                log.warning("mail_handoff_not_recorded", notification_id=mail.notification_id, kind=mail.kind)

    @contextlib.asynccontextmanager
    async def _handoff_connection(self) -> AsyncIterator[Any]:
        # Its own pool, without reset on return and in autocommit: A stays open (and keeps its row lock) on its
        # connection, and B costs exactly one statement. B takes a millisecond of a mail's whole conversation, so
        # a few connections serve every worker (a worker waits for one before it writes anything).
        if self._handoff_engine is None:
            self._handoff_engine = create_async_engine(
                self.db.url, isolation_level="AUTOCOMMIT", pool_size=max(1, self.concurrency // 4), max_overflow=0,
                pool_reset_on_return=None)
        async with self._handoff_engine.connect() as connection:
            raw = await connection.get_raw_connection()
            try:
                yield raw.driver_connection
            except BaseException:
                # The driver's errors bypass SQLAlchemy, which therefore never learns that a connection died
                # (a database restart, a cut network): without this, a dead connection would go back to the
                # pool and fail every handoff after the outage.
                await connection.invalidate()
                raise

    def _failure(self, mail: Mail, exc: Exception) -> tuple[str, bool]:
        code = getattr(exc, "code", None)
        code = code if isinstance(code, int) else None
        # Logs carry no personal data: the exception's type and SMTP code, not its text (it may quote the address).
        log.warning("mail_attempt_failed", notification_id=mail.notification_id, kind=mail.kind,
                    error=type(exc).__name__, smtp_code=code)
        return _reason(exc, mail.recipient), is_permanent(code)

    def _record(self, session: AsyncSession, row: MailRow, mail: Mail, error: str | None, *,
                permanent: bool = False) -> None:
        outcome = after_attempt(mail, error, self.clock(), permanent=permanent)
        row.status = outcome.status
        row.attempts = outcome.attempts
        row.next_attempt_at = outcome.next_attempt_at
        row.last_error = outcome.last_error
        row.sent_at = outcome.sent_at
        outbox = Outbox(session, self.outbox_model, "notifications",
                        Cause(message_id=mail.caused_by, correlation_id=mail.correlation_id))
        if outcome.status == SENT:
            row.message_id = message_id_for(mail, self.mail_from)
            outbox.emit(NotificationSent(notification_id=mail.notification_id, kind=mail.kind, channel="email",
                                         caused_by=mail.caused_by))
            # Debug, not info: a line per mail costs the busiest process a write per mail; the mail's row and its
            # NotificationSent are the record (failures and retries stay at warning/info level).
            log.debug("mail_sent", notification_id=mail.notification_id, kind=mail.kind, attempts=outcome.attempts)
        elif outcome.status == FAILED:
            outbox.emit(NotificationFailed(notification_id=mail.notification_id, kind=mail.kind, channel="email",
                                           caused_by=mail.caused_by, reason=error or "unknown"))
            log.error("mail_failed", notification_id=mail.notification_id, kind=mail.kind, attempts=outcome.attempts)
        else:
            log.info("mail_retry_scheduled", notification_id=mail.notification_id, kind=mail.kind,
                     attempts=outcome.attempts, next_attempt_at=outcome.next_attempt_at.isoformat())


async def _handed_over(session: AsyncSession, mail: Mail) -> bool:
    found = await session.get(HandoffRow, uuid.UUID(mail.notification_id))
    if found is not None:
        _log_recovery(mail)
    return found is not None


def _log_recovery(mail: Mail) -> None:
    log.info("mail_handed_over_before_crash", notification_id=mail.notification_id, kind=mail.kind)


async def _forget_handoff(session: AsyncSession, mail: Mail) -> None:
    await session.execute(delete(HandoffRow).where(HandoffRow.notification_id == uuid.UUID(mail.notification_id)))


_HANDOFF_INSERT = ("INSERT INTO mail_handoffs (notification_id, handed_at) "
                   "VALUES ('{notification_id}'::uuid, '{handed_at}'::timestamptz)")


def _terminate_after_write(inserting: asyncio.Task[Any], handoff: Handoff, terminated: asyncio.Future[bool]) -> None:
    """Runs right after the INSERT task's first step. If that step failed, nothing is handed over."""
    if inserting.done() and (inserting.cancelled() or inserting.exception() is not None):
        terminated.set_result(False)
        return
    try:
        handoff.terminate()
    except Exception:
        terminated.set_result(False)
        return
    terminated.set_result(True)


def _reason(exc: Exception, recipient: str) -> str:
    """The failure as stored and published: the server's words, with the recipient's address blanked out."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return re.sub(re.escape(recipient), "<recipient>", text, flags=re.IGNORECASE)[:1000]
