"""The sender's loop: workers that take due mails as they commit, and the SMTP connections they leave open."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog
from sqlalchemy import func, select

from shared.db import utcnow
from shared.messaging.outbox import wait_any
from shared.messaging.processing import MessageStore

from ..delivery import Delivery
from ..store import due_mails
from .attempt import Attempts

log = structlog.get_logger()

# An SMTP connection left open after its worker ran out of mail is reused by the next worker for this long.
IDLE_CONNECTION_SECONDS = 10.0
# On stop, how long the workers get to finish the mails in hand before they are given up. Giving one up is safe at
# any step (package docstring, Recovery): before the handoff the server discards it and it is sent again in full,
# after it the handoff row records it as sent. A server slow to answer must not hold the stop for its timeout.
STOP_GRACE_SECONDS = 3.0

# Turns due reminders into pending mails (handlers.queue_due_reminders in a unit of work); returns how many.
QueueReminders = Callable[[], Awaitable[int]]


class MailSender:
    """Delivers due mails with up to `concurrency` workers, each on its own transaction and SMTP connection.

    `run` keeps the workers going as mail arrives: every wake (a commit that queued mail) tops the pool up to
    min(due mails, concurrency), and a worker keeps taking due mails until there are none, so a mail starts
    being sent as soon as its row commits. Replicas share the table through SKIP LOCKED (see the package
    docstring): each runs its own pool, and each mail is worked on by one of them.

    Every outcome is recorded in a unit of work of `store`, whose wake follows each commit: it should wake the
    relay (the mail's NotificationSent leaves at once), not this sender, which would then look for mail forever.
    """

    def __init__(
        self,
        store: MessageStore,
        delivery: Callable[[], Delivery],
        *,
        mail_from: str,
        concurrency: int = 8,
        poll_interval: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        queue_reminders: QueueReminders | None = None,
    ) -> None:
        self.store = store
        self.db = store.db
        self.delivery = delivery
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.clock = clock
        self.queue_reminders = queue_reminders
        # B takes a millisecond of a mail's whole conversation: a few handoff connections serve every worker.
        self.attempts = Attempts(store, mail_from=mail_from, clock=clock, handoff_pool_size=max(1, concurrency // 4))
        self._wake = asyncio.Event()
        self._wakes = 0  # counts wakes, so a worker that found nothing knows whether mail may have come since
        self._stop = asyncio.Event()
        self._workers: set[asyncio.Task[int]] = set()
        self._idle: list[tuple[float, Delivery]] = []  # open SMTP connections between workers, with when they idled

    def wake(self) -> None:
        self._wakes += 1
        self._wake.set()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Send until `stop` is set (the service's stop event: a cooperative job, shared/runtime.py). No new mail is
        started then; those being handed over are finished and recorded, or given up after STOP_GRACE_SECONDS (each
        is sent exactly once all the same: the package docstring's Recovery)."""
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
            # Cooperative stop: each worker finishes the mail in hand (they watch the stop event), for at most
            # STOP_GRACE_SECONDS. Then, or at once when the run itself is cancelled, the workers are cancelled:
            # their transactions roll back, as a crash would.
            workers = list(self._workers)
            late = set(workers)
            if workers and self._stop.is_set():
                _, late = await asyncio.wait(workers, timeout=STOP_GRACE_SECONDS)
                if late:
                    log.info("mail_sender_gave_up_in_flight", mails=len(late))
            for worker in late:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self.close()

    async def _top_up(self) -> None:
        if len(self._workers) >= self.concurrency:
            return
        due = await self._count_due()
        limit = self.concurrency if self.db.is_postgres else 1  # SQLite: one worker (see Attempts._unlocked)
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
        await self.attempts.close()

    async def _queue_reminders(self) -> None:
        # The reminders' mails and chat messages commit in a unit of work, which wakes the relay itself.
        if self.queue_reminders is not None:
            await self.queue_reminders()

    async def send_due(self) -> int:
        """Queue due reminders, then attempt every mail that is due now; returns the number of attempts made."""
        await self._queue_reminders()
        due = await self._count_due()
        if due == 0:
            return 0
        # SQLite serves one process with one writer: a single worker (see Attempts._unlocked).
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
                if await self.attempts.next(delivery):
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
        # All at once: one after the other, each server's QUIT would add its wait to a stop.
        await asyncio.gather(*(delivery.close() for delivery in stale), return_exceptions=True)

    async def _count_due(self) -> int:
        query = select(func.count()).select_from(due_mails(self.clock()).order_by(None).subquery())
        if self.db.is_postgres:
            # One statement in autocommit: a session's BEGIN and ROLLBACK would triple the round trips of a count
            # made on every wake (each commit of a consumer's mails).
            async with self.db.autocommit() as connection:
                return int((await connection.execute(query)).scalar_one())
        async with self.db.sessions() as session:
            return int((await session.execute(query)).scalar_one())
