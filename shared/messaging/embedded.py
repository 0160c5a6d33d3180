"""The embedded broker of `werkplaatsen dev`: the RabbitMQ topology in one process, kept in a SQLite file.

What it guarantees (and what it does not):
- Same routing as production: topic exchanges `werkplaatsen.commands` / `werkplaatsen.events`, one queue
  per service bound to the same routing keys, the default exchange for reply queues.
- Durable: a published message is a row in `var/broker.sqlite3` before `publish` returns (the equivalent
  of a publisher confirm), so the outbox relay deletes its row only after that. A message stays in the
  queue until its consumer returns (ack); a crash or restart redelivers it. At-least-once, like RabbitMQ;
  consumers' inboxes turn that into one effect.
- Failures: the same retry delays and dead-lettering as production (`shared.messaging.delivery`);
  dead letters are kept in the `dead_letters` table with their reason.
- Not: several processes. One process owns the file; it is for development, not for scaling. (The operator
  tools, `werkplaatsen dlq` through `EmbeddedDeadLetters`, may open the file beside it: SQLite serialises them.)
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import aiosqlite
import structlog

from shared.messaging.delivery import DeadLetter, deliver, letter_id
from shared.messaging.messages import (
    FIRST_RECEIVED_HEADER,
    Consumer,
    Incoming,
    Outgoing,
    bindings,
    first_received,
    parked_first_received,
    queue_name,
)

# As long as RabbitTransport: a stopping service waits this long for the messages it is handling.
CONSUMER_GRACE_SECONDS = 10.0

log = structlog.get_logger()

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL, routing_key TEXT NOT NULL, message_id TEXT, message_type TEXT,
    correlation_id TEXT, body BLOB NOT NULL, headers TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1, available_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue, available_at, id);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL, routing_key TEXT NOT NULL, message_id TEXT, message_type TEXT,
    correlation_id TEXT, body BLOB NOT NULL, headers TEXT NOT NULL, reason TEXT NOT NULL, dead_at REAL NOT NULL
);
"""


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: `*` is one word, `#` zero or more."""
    regex = re.escape(pattern).replace(r"\#", "__HASH__").replace(r"\*", r"[^.]+")
    regex = regex.replace(r"\.__HASH__", r"(\..*)?").replace("__HASH__", ".*")
    return re.fullmatch(regex, routing_key) is not None


class EmbeddedBroker:
    def __init__(self, path: Path, *, concurrency: int = 8) -> None:
        self.path = path
        self.concurrency = concurrency
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._bindings: list[tuple[str, str, str]] = []  # (exchange, pattern, queue)
        self._queues: dict[str, tuple[str, Mapping[str, Consumer]]] = {}  # queue -> (service, consumers)
        self._signals: dict[str, asyncio.Event] = {}
        self._in_flight: set[int] = set()
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}  # queue -> its workers
        self._stopping: dict[str, asyncio.Event] = {}

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.executescript(SCHEMA)
        await self._db.commit()

    async def close(self) -> None:
        for queue in list(self._tasks):
            await self.unsubscribe(queue)
        if self._db is not None:
            await self._db.close()

    def transport(self, service: str) -> EmbeddedTransport:
        return EmbeddedTransport(self, service)

    async def subscribe(self, service: str, consumers: Mapping[str, Consumer]) -> None:
        queue = queue_name(service)
        self._bindings += [(exchange, key, queue) for exchange, key in bindings(consumers)]
        self._consume(queue, service, consumers)

    async def subscribe_replies(self, service: str, queue: str, consumer: Consumer) -> None:
        """A reply queue: bound to nothing, reached through the default exchange by its name (like RabbitMQ's)."""
        self._consume(queue, service, {queue: consumer})

    def _consume(self, queue: str, service: str, consumers: Mapping[str, Consumer]) -> None:
        self._queues[queue] = (service, consumers)
        self._signals[queue] = asyncio.Event()
        self._signals[queue].set()  # deliver what a previous run left behind
        self._stopping[queue] = asyncio.Event()
        self._tasks[queue] = [asyncio.create_task(self._worker(queue)) for _ in range(self.concurrency)]

    async def unsubscribe(self, queue: str, grace: float = 0.0) -> None:
        """Stop consuming. Messages being handled get `grace` seconds to finish; after that they are abandoned
        unacked and delivered again next time."""
        tasks = self._tasks.pop(queue, [])
        if queue in self._stopping:
            self._stopping[queue].set()
            self._signals[queue].set()
        if tasks and grace > 0:
            await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def publish(self, out: Outgoing) -> None:
        if out.exchange:
            queues = {
                q
                for (ex, pattern, q) in self._bindings
                if ex == out.exchange and topic_matches(pattern, out.routing_key)
            }
        else:
            queues = {out.routing_key} if out.routing_key in self._queues else set()
        if not queues:
            return  # unroutable, as with RabbitMQ: nobody listens for it
        now = time.time()
        async with self._lock:
            assert self._db is not None
            await self._db.executemany(
                "INSERT INTO messages (queue, routing_key, message_id, message_type, correlation_id, body, headers,"
                " attempt, available_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
                [
                    (
                        q,
                        out.routing_key,
                        out.message_id,
                        out.message_type,
                        out.correlation_id,
                        out.body,
                        json.dumps(
                            {
                                **{k: v for k, v in out.headers.items() if k != FIRST_RECEIVED_HEADER},
                                **({"x-published-by": out.user_id} if out.user_id else {}),
                            }
                        ),
                        now,
                    )
                    for q in sorted(queues)
                ],
            )
            await self._db.commit()
        for q in queues:
            self._signals[q].set()

    async def _next(self, queue: str) -> tuple[int, Incoming] | None:
        async with self._lock:
            assert self._db is not None
            params: list[object] = [queue, time.time(), *self._in_flight]
            # `NOT IN (NULL)` is never true in SQL; row ids are positive, so -1 excludes nothing.
            placeholders = ",".join("?" * len(self._in_flight)) or "-1"
            cursor = await self._db.execute(
                "SELECT id, routing_key, message_id, message_type, correlation_id, body, headers, attempt FROM messages"  # nosec B608  # placeholders are only "?"s
                f" WHERE queue = ? AND available_at <= ? AND id NOT IN ({placeholders}) ORDER BY id LIMIT 1",
                params,
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            self._in_flight.add(row[0])
        headers = json.loads(row[6])
        return row[0], Incoming(
            body=row[5],
            routing_key=row[1],
            message_id=row[2],
            message_type=row[3],
            correlation_id=row[4],
            reply_to=headers.get("x-reply-to"),
            content_type="application/json",
            headers=headers,
            attempt=row[7],
            retryable=True,
            user_id=headers.get("x-published-by"),
            first_received_at=first_received(headers.get(FIRST_RECEIVED_HEADER)),
        )

    async def _worker(self, queue: str) -> None:
        service, consumers = self._queues[queue]
        signal = self._signals[queue]
        stopping = self._stopping[queue]
        while not stopping.is_set():
            item = await self._next(queue)
            if item is None:
                signal.clear()
                if stopping.is_set():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(signal.wait(), timeout=0.5)  # also picks up due retries
                continue
            row_id, msg = item
            try:
                verdict = await deliver(service, consumers, msg)
                await self._settle(row_id, queue, msg, verdict.action, verdict.reason, verdict.delay)
            finally:
                self._in_flight.discard(row_id)

    async def _settle(self, row_id: int, queue: str, msg: Incoming, action: str, reason: str, delay: float) -> None:
        async with self._lock:
            assert self._db is not None
            if action in ("retry", "wait"):
                headers = json.dumps({**msg.headers, FIRST_RECEIVED_HEADER: parked_first_received(msg)})
                await self._db.execute(
                    "UPDATE messages SET attempt = attempt + ?, available_at = ?, headers = ? WHERE id = ?",
                    (1 if action == "retry" else 0, time.time() + delay, headers, row_id),
                )
            else:
                if action == "dead_letter":
                    await self._db.execute(
                        "INSERT INTO dead_letters (queue, routing_key, message_id, message_type, correlation_id, body,"
                        " headers, reason, dead_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            queue,
                            msg.routing_key,
                            msg.message_id,
                            msg.message_type,
                            msg.correlation_id,
                            msg.body,
                            json.dumps(dict(msg.headers)),
                            reason,
                            time.time(),
                        ),
                    )
                await self._db.execute("DELETE FROM messages WHERE id = ?", (row_id,))
            await self._db.commit()

    async def dead_letters(self) -> list[dict[str, object]]:
        async with self._lock:
            assert self._db is not None
            cursor = await self._db.execute(
                "SELECT queue, routing_key, message_id, reason, dead_at FROM dead_letters ORDER BY id DESC LIMIT 200"
            )
            return [
                dict(zip(("queue", "routing_key", "message_id", "reason", "dead_at"), row, strict=True))
                for row in await cursor.fetchall()
            ]


class EmbeddedTransport:
    """One service's view of the embedded broker: the same three operations as RabbitTransport."""

    def __init__(self, broker: EmbeddedBroker, service: str) -> None:
        self.broker = broker
        self.service = service

    async def start(self, consumers: Mapping[str, Consumer]) -> None:
        await self.broker.subscribe(self.service, consumers)

    async def stop_consuming(self) -> None:
        await self.broker.unsubscribe(queue_name(self.service), grace=CONSUMER_GRACE_SECONDS)

    async def stop(self) -> None:
        await self.broker.unsubscribe(queue_name(self.service))

    async def ping(self) -> bool:
        return self.broker._db is not None

    async def publish(self, out: Outgoing) -> None:
        await self.broker.publish(out)


class EmbeddedDeadLetters:
    """One service's dead letters in the embedded broker's file, for `werkplaatsen dlq` in development.

    Replaying moves the letter back into the service's queue as a fresh message (attempt 1) in one SQLite
    transaction; the running `werkplaatsen dev` process picks it up within half a second.
    """

    def __init__(self, path: Path, service: str) -> None:
        self.path = path
        self.queue = queue_name(service)

    async def __aenter__(self) -> EmbeddedDeadLetters:
        if not self.path.exists():
            raise LookupError(f"no embedded broker at {self.path} (has `werkplaatsen dev` run with this data dir?)")
        self._db = await aiosqlite.connect(self.path, timeout=30)
        await self._db.executescript(SCHEMA)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._db.close()

    async def list(self, limit: int | None = None) -> builtins.list[DeadLetter]:
        return [letter for _, letter in await self._rows(limit)]

    async def replay(self, select: Callable[[DeadLetter], bool]) -> builtins.list[DeadLetter]:
        chosen = [(row_id, letter) for row_id, letter in await self._rows() if select(letter)]
        now = time.time()
        await self._db.executemany(
            "INSERT INTO messages (queue, routing_key, message_id, message_type, correlation_id, body, headers,"
            " attempt, available_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
            [
                (
                    self.queue,
                    letter.routing_key,
                    letter.message_id,
                    letter.message_type,
                    letter.correlation_id,
                    letter.body,
                    json.dumps(dict(letter.headers)),
                    now,
                )
                for _, letter in chosen
            ],
        )
        await self._delete([row_id for row_id, _ in chosen])  # commits the inserts with it
        return [letter for _, letter in chosen]

    async def purge(self, select: Callable[[DeadLetter], bool]) -> builtins.list[DeadLetter]:
        chosen = [(row_id, letter) for row_id, letter in await self._rows() if select(letter)]
        await self._delete([row_id for row_id, _ in chosen])
        return [letter for _, letter in chosen]

    async def _delete(self, row_ids: builtins.list[int]) -> None:
        await self._db.executemany("DELETE FROM dead_letters WHERE id = ?", [(row_id,) for row_id in row_ids])
        await self._db.commit()

    async def _rows(self, limit: int | None = None) -> builtins.list[tuple[int, DeadLetter]]:
        cursor = await self._db.execute(
            "SELECT id, routing_key, message_id, message_type, correlation_id, body, headers, reason, dead_at"
            " FROM dead_letters WHERE queue = ? ORDER BY id LIMIT ?",
            (self.queue, -1 if limit is None else limit),
        )
        found = []
        for (
            row_id,
            routing_key,
            message_id,
            message_type,
            correlation_id,
            body,
            headers,
            reason,
            dead_at,
        ) in await cursor.fetchall():
            found.append(
                (
                    row_id,
                    DeadLetter(
                        id=letter_id(message_id, body),
                        routing_key=routing_key,
                        reason=reason,
                        body=body,
                        message_id=message_id,
                        message_type=message_type,
                        correlation_id=correlation_id,
                        dead_at=time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(dead_at)),
                        headers=json.loads(headers),
                    ),
                )
            )
        return found

    async def depths(self) -> dict[str, int]:
        """Messages waiting in the service's queue (due or retrying) and dead letters."""
        counts = {}
        for name, sql in (
            ("queue", "SELECT count(*) FROM messages WHERE queue = ? AND attempt = 1"),
            ("retrying", "SELECT count(*) FROM messages WHERE queue = ? AND attempt > 1"),
            ("dead_letters", "SELECT count(*) FROM dead_letters WHERE queue = ?"),
        ):
            cursor = await self._db.execute(sql, (self.queue,))
            counts[name] = int((await cursor.fetchone() or (0,))[0])  # count(*) always has a row
        return counts
