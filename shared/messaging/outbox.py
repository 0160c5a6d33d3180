"""Transactional outbox: events are rows written with the state change; a relay publishes them until confirmed."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contract import EVENTS_EXCHANGE, EventData, Reply, message_name
from shared.db import Database, OutboxMixin, utcnow
from shared.messaging.messages import Outgoing
from shared.metrics import OUTBOX_PUBLISHED
from shared.tracing import continued_from, current_trace_headers

log = structlog.get_logger()

Publish = Callable[[Outgoing], Awaitable[None]]


@dataclass(frozen=True)
class Cause:
    """What caused the work in progress: every event it emits carries these ids."""

    message_id: str
    correlation_id: str


class Outbox:
    """Writes outgoing messages into the current transaction."""

    def __init__(self, session: AsyncSession, model: type[OutboxMixin], producer: str, cause: Cause) -> None:
        self.session = session
        self.model = model
        self.producer = producer
        self.cause = cause
        self.emitted: list[EventData] = []

    def emit(self, data: EventData) -> str:
        values = self.row(data)
        self.session.add(self.model(**values))
        return str(values["message_id"])

    def row(self, data: EventData) -> dict[str, Any]:
        """The outbox row `emit` adds, for a caller that writes it into this transaction in a statement of its own
        (one that does more at once: notifications' sender records a mail's outcome and its event together)."""
        event_id = str(uuid.uuid4())
        name = message_name(data.routing_key)
        envelope = {
            "event_id": event_id,
            "type": name,
            "version": data.version,
            "occurred_at": utcnow().isoformat(),
            "producer": self.producer,
            "correlation_id": self.cause.correlation_id,
            "causation_id": self.cause.message_id,
            "data": data.model_dump(mode="json"),
        }
        self.emitted.append(data)
        return self._values(EVENTS_EXCHANGE, data.routing_key, event_id, name, envelope)

    def reply(self, reply_to: str, reply: Reply) -> None:
        # Replies go through the default exchange straight to the front end's queue.
        self.session.add(
            self.model(**self._values("", reply_to, str(uuid.uuid4()), "Reply", reply.model_dump(mode="json")))
        )

    def _values(
        self, exchange: str, routing_key: str, message_id: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "message_id": message_id,
            "exchange": exchange,
            "routing_key": routing_key,
            "message_type": name,
            "correlation_id": self.cause.correlation_id,
            "body": json.dumps(body, ensure_ascii=False).encode(),
            # The trace of the work in progress, so the relay's publish continues it (shared/tracing.py).
            "headers": current_trace_headers(),
        }


RELAY_BACKOFF_SECONDS = (0.5, 1, 2, 5, 10, 30)
# How long a relay holds the rows it is publishing (see publish_pending). Publishing takes
# milliseconds; rows of a relay that died are published by another, or after a restart, once it has passed.
LEASE_SECONDS = 10
ROW_COLUMNS = (
    "position",
    "message_id",
    "exchange",
    "routing_key",
    "message_type",
    "correlation_id",
    "body",
    "headers",
    "attempts",
)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=RELAY_BACKOFF_SECONDS[min(attempts, len(RELAY_BACKOFF_SECONDS)) - 1])


class OutboxRelay:
    """Publishes outbox rows in order and deletes them once the broker has confirmed them.

    Replicas share the table safely: rows are claimed with a short lease (FOR UPDATE SKIP LOCKED on
    PostgreSQL, then next_attempt_at moved ahead), so each row is published by one relay at a time. A crash after
    the broker's confirm and before the delete republishes the row with the same message_id; consumers
    deduplicate on it (inbox).
    """

    def __init__(
        self,
        db: Database,
        model: type[OutboxMixin],
        publish: Publish,
        *,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        service: str = "",
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.db = db
        self.lease = timedelta(seconds=lease_seconds)
        self.model = model
        self.publish = publish
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.service = service  # the metrics label; Service fills it in when left empty
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Publish until `stop` is set; a batch in progress is finished first, so no confirmed row is left behind."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            # Cleared before the batch is read: a commit during the batch wakes the next one at once instead of
            # waiting out the poll interval.
            self._wake.clear()
            try:
                published = await self.publish_pending()
            except Exception as exc:  # database unreachable: try again after the poll interval
                log.warning("outbox_relay_failed", error=str(exc)[:300])
                published = 0
            if published < self.batch_size:
                await wait_any(self._wake, stop, timeout=self.poll_interval)

    async def flush(self, timeout: float) -> int:
        """Publish every due row, batch after batch, for at most `timeout` seconds; returns how many were confirmed.

        Rows waiting out a backoff after a failed publish are left for the next start.
        """
        total = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            try:
                published = await asyncio.wait_for(self.publish_pending(), timeout=remaining)
            except Exception as exc:
                log.warning("outbox_flush_incomplete", error=repr(exc)[:300])
                break
            total += published
            if published == 0:
                break
        return total

    async def publish_pending(self) -> int:
        """Publish one batch of due rows; returns how many were confirmed.

        Two autocommit statements per batch instead of a transaction's four round trips. The claim pushes the
        rows' next_attempt_at a lease ahead (LEASE_SECONDS), so no other relay takes them meanwhile (on
        PostgreSQL FOR UPDATE SKIP LOCKED lets competing relays pass each other's rows; SQLite has one writer);
        once the broker has confirmed, they are deleted. A relay that dies in between leaves its rows leased:
        they are due again when the lease runs out and are published again with the same message_id, which
        consumers deduplicate (inbox). A lease that runs out during a slow publish does the same, no worse.
        """
        table = cast(Table, self.model.__table__)  # the outbox is always a plain table
        due = (
            select(table.c.position)
            .where(table.c.next_attempt_at <= utcnow())
            .order_by(table.c.position)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(table)
            .where(table.c.position.in_(due.scalar_subquery()))
            .values(next_attempt_at=utcnow() + self.lease)
            .returning(*(table.c[c] for c in ROW_COLUMNS))
        )
        async with self.db.autocommit() as conn:
            rows = sorted((await conn.execute(claim)).all(), key=lambda r: r.position)
        if not rows:
            return 0
        results = await self._publish_all(rows)
        confirmed = [row.position for row, result in zip(rows, results, strict=True) if result is None]
        async with self.db.autocommit() as conn:
            if confirmed:
                await conn.execute(delete(table).where(table.c.position.in_(confirmed)))
            for row, result in zip(rows, results, strict=True):
                if result is not None:
                    attempts = row.attempts + 1
                    await conn.execute(
                        update(table)
                        .where(table.c.position == row.position)
                        .values(
                            attempts=attempts,
                            next_attempt_at=utcnow() + _backoff(attempts),
                            last_error=repr(result)[:1000],
                        )
                    )
        return len(confirmed)

    async def _publish_all(self, rows: Sequence[Any]) -> list[BaseException | None]:
        """Publish rows concurrently; each one's error, or None once confirmed."""
        outgoing = [
            Outgoing(
                exchange=row.exchange,
                routing_key=row.routing_key,
                body=row.body,
                message_id=row.message_id,
                message_type=row.message_type,
                correlation_id=row.correlation_id,
                headers=row.headers or {},
            )
            for row in rows
        ]
        # Publishing concurrently pipelines the broker's confirms instead of waiting one round trip each.
        results = await asyncio.gather(*(self._publish(o) for o in outgoing), return_exceptions=True)
        for out, result in zip(outgoing, results, strict=True):
            if result is None:
                OUTBOX_PUBLISHED.labels(self.service, out.message_type).inc()
            else:
                log.warning("outbox_publish_failed", message_id=out.message_id, error=repr(result)[:300])
        return results

    async def _publish(self, out: Outgoing) -> None:
        # Each publish runs in its own task (gather), so attaching the row's trace context here stays local to it.
        with continued_from(out.headers):
            await self.publish(out)

    async def pending(self) -> int:
        async with self.db.sessions() as session:
            return int((await session.execute(select(func.count()).select_from(self.model))).scalar_one())

    async def backlog(self) -> tuple[int, float]:
        """How many rows wait to be published, and the age in seconds of the oldest (0 when none)."""
        async with self.db.sessions() as session:
            count, oldest = (
                await session.execute(select(func.count(), func.min(self.model.created_at)).select_from(self.model))
            ).one()
        if oldest is not None and oldest.tzinfo is None:  # SQLite returns min() without the column's type
            oldest = oldest.replace(tzinfo=UTC)
        age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
        return int(count), max(age, 0.0)


async def wait_any(*events: asyncio.Event, timeout: float) -> None:
    """Wait until one of `events` is set, or `timeout` passes (a loop's wake-up and its stop event, say)."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
