"""What happens to a delivered message: the same decision for RabbitMQ and the embedded broker."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg
import sqlalchemy.exc
import structlog

from shared.messaging.messages import Consumer, Incoming, NotYetKnown, PermanentFailure, outage_delay, retry_delay
from shared.metrics import DEAD_LETTERS, HANDLER_SECONDS, MESSAGES

log = structlog.get_logger()


@dataclass(frozen=True)
class Verdict:
    # "wait": retry after an outage without counting the attempt (see OUTAGE_RETRY_STEP).
    action: Literal["ack", "retry", "wait", "dead_letter"]
    reason: str = ""
    delay: float = 0.0


@dataclass(frozen=True)
class DeadLetter:
    """A message in a service's dead-letter queue, as the operator tools (`werkplaatsen dlq`) show it."""

    id: str
    routing_key: str
    reason: str
    body: bytes
    message_id: str | None = None
    message_type: str | None = None
    correlation_id: str | None = None
    exchange: str = ""
    dead_at: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)


def letter_id(message_id: str | None, body: bytes) -> str:
    """How an operator names a dead letter: its message_id, or a digest of its body when it has none."""
    return message_id or "sha256:" + hashlib.sha256(body).hexdigest()[:16]


async def deliver(service: str, consumers: Mapping[str, Consumer], msg: Incoming) -> Verdict:
    structlog.contextvars.bind_contextvars(
        service=service,
        message_type=msg.message_type,
        message_id=msg.message_id,
        correlation_id=msg.correlation_id,
        routing_key=msg.routing_key,
    )
    try:
        verdict = await _run(consumers, msg)
    finally:
        structlog.contextvars.unbind_contextvars("message_type", "message_id", "correlation_id", "routing_key")
    MESSAGES.labels(service, msg.routing_key, verdict.action).inc()
    if verdict.action == "dead_letter":
        DEAD_LETTERS.labels(service, msg.routing_key).inc()
    return verdict


# Errors that say the database cannot be reached right now, not that this message is wrong.
_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
)


def is_outage(exc: BaseException) -> bool:
    """Whether the failure is an unreachable dependency: then retrying later is certain to be right."""
    seen: BaseException | None = exc
    for _ in range(10):  # the cause chain SQLAlchemy builds around a driver error is short
        if seen is None:
            return False
        if isinstance(seen, _OUTAGE_ERRORS):
            return True
        if isinstance(seen, sqlalchemy.exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _run(consumers: Mapping[str, Consumer], msg: Incoming) -> Verdict:
    consumer = consumers.get(msg.routing_key)
    if consumer is None:
        log.error("message_dead_lettered", reason="no consumer for this routing key")
        return Verdict("dead_letter", f"no consumer for routing key {msg.routing_key!r}")
    started = time.perf_counter()
    try:
        await consumer(msg)
    except PermanentFailure as exc:
        log.error("message_dead_lettered", reason=str(exc)[:500])
        return Verdict("dead_letter", str(exc)[:1000])
    except NotYetKnown as exc:
        # Not an error: what the message names is still on its way (run_command decides how long to wait).
        delay = retry_delay(msg.attempt)
        if delay is None:
            log.error("message_dead_lettered", attempt=msg.attempt, reason=str(exc)[:500])
            return Verdict("dead_letter", f"gave up after {msg.attempt} attempts: {exc}"[:1000])
        log.info("message_waits_for_announcement", attempt=msg.attempt, delay=delay, reason=str(exc)[:500])
        return Verdict("retry", str(exc)[:1000], delay)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"[:1000]
        if is_outage(exc):
            log.warning("message_waits_for_outage", attempt=msg.attempt, reason=reason)
            return Verdict("wait", reason, outage_delay())
        delay = retry_delay(msg.attempt)
        if delay is None:
            log.error("message_dead_lettered", attempt=msg.attempt, reason=reason, exc_info=True)
            return Verdict("dead_letter", f"gave up after {msg.attempt} attempts: {reason}")
        log.warning("message_retry", attempt=msg.attempt, delay=delay, reason=reason)
        return Verdict("retry", reason, delay)
    finally:
        HANDLER_SECONDS.labels(
            service=structlog.contextvars.get_contextvars().get("service", ""), routing_key=msg.routing_key
        ).observe(time.perf_counter() - started)
    return Verdict("ack")
