"""Prometheus metrics shared by every service (label `service` tells them apart in `werkplaatsen dev`).

Served on each service's `/metrics`, next to FastStream's own `faststream_*` metrics (RabbitMQ only). What each
one means and how to read it: docs/operations.md.

Counters count what this process did; gauges computed from a database (`query_gauge`) show the same value on
every replica of a service, so dashboards take `max` of them, not `sum`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Executable

log = structlog.get_logger()

MESSAGES = Counter(
    "werkplaatsen_messages_total",
    "Messages consumed, by outcome (ack, retry, dead_letter)",
    ["service", "routing_key", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "werkplaatsen_handler_seconds", "Time spent processing one message", ["service", "routing_key"]
)
DEAD_LETTERS = Counter(
    "werkplaatsen_dead_letters_total", "Messages this process sent to its dead-letter queue", ["service", "routing_key"]
)
INBOX_DUPLICATES = Counter(
    "werkplaatsen_inbox_duplicates_total",
    "Messages skipped because their id was already in the inbox",
    ["service", "message_type"],
)
OUTBOX_PENDING = Gauge("werkplaatsen_outbox_pending", "Outbox rows not yet confirmed by the broker", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "werkplaatsen_outbox_oldest_age_seconds",
    "Age of the oldest outbox row not yet confirmed (0 when empty)",
    ["service"],
)
OUTBOX_PUBLISHED = Counter(
    "werkplaatsen_outbox_published_total",
    "Outbox rows published and confirmed by the broker, by message type (events, replies)",
    ["service", "message_type"],
)
# Business gauges: each service fills its own through a `query_gauge` hook on its Service.
REGISTRATIONS = Gauge("werkplaatsen_registrations", "Registrations by edition and status", ["edition", "status"])
PLACES_LEFT = Gauge("werkplaatsen_places_left", "Places not (yet) taken in an edition", ["edition"])
WAITLIST_LENGTH = Gauge("werkplaatsen_waitlist_length", "Trios on an edition's waitlist", ["edition"])

MetricsHook = Callable[[], Awaitable[None]]
"""Runs when /metrics is scraped, to bring gauges up to date."""

HOOK_TIMEOUT_SECONDS = 3.0


def inbox_duplicate(service: str, message_type: str) -> None:
    INBOX_DUPLICATES.labels(service, message_type).inc()


def query_gauge(db: Any, gauge: Gauge, statement: Executable) -> MetricsHook:
    """A hook that sets `gauge` from `statement`: each row is the gauge's label values followed by the value.

    Label sets that no longer appear in the result disappear from the gauge.
    """

    async def update() -> None:
        async with db.sessions() as session:
            rows = (await session.execute(statement)).all()
        gauge.clear()
        for *labels, value in rows:
            gauge.labels(*(str(label) for label in labels)).set(float(value or 0))

    return update


async def run_hooks(hooks: list[MetricsHook]) -> None:
    """Each hook bounded in time; a failing one leaves its gauges as they were and does not break the scrape."""
    for hook in hooks:
        try:
            await asyncio.wait_for(hook(), timeout=HOOK_TIMEOUT_SECONDS)
        except Exception as exc:
            log.warning("metrics_hook_failed", hook=getattr(hook, "__qualname__", repr(hook)), error=repr(exc)[:200])
