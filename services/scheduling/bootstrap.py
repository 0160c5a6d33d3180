"""Wires the scheduling service together."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from shared.contract.scheduling import SchedulingCommandRejected
from shared.db import Database, utcnow
from shared.messaging.dead_letters import OwnDeadLetters, broker_location
from shared.messaging.outbox import OutboxRelay
from shared.messaging.processing import MessageStore
from shared.messaging.wiring import Clock
from shared.metrics import PLACES_LEFT, WAITLIST_LENGTH, query_gauge
from shared.runtime import Service, Transport
from shared.settings import Settings

from . import consumes, entrypoints
from .adapters import EditionRow, Inbox, Outbox, waitlist_length

MIGRATIONS = Path(__file__).parent / "migrations"
# Work on one edition is serialised by its row lock anyway; a small pool keeps several replicas well inside
# PostgreSQL's connection limit when a burst of messages queues up behind that lock.
POOL_SIZE = 5
# /metrics: places left and waitlist length per edition (werkplaatsen_places_left, werkplaatsen_waitlist_length).
# Read off the edition's own count and its waitlist's last position (adapters.waitlist_length), not counted.
PLACES_LEFT_BY_EDITION = select(EditionRow.slug, EditionRow.max_trios - EditionRow.placed)
WAITLIST_BY_EDITION = select(EditionRow.slug, waitlist_length(EditionRow.slug))


def build(settings: Settings, transport: Transport, *, clock: Clock = utcnow, timer_interval: float = 1.0) -> Service:
    db = Database(settings.database_url("scheduling"), pool_size=POOL_SIZE)
    relay = OutboxRelay(db, Outbox, transport.publish)
    store = MessageStore(
        db,
        "scheduling",
        Outbox,
        Inbox,
        SchedulingCommandRejected,
        wake=relay.wake,
        actor_publishers=settings.console_publishers,
    )
    consumers = consumes.consumers(store, clock, OwnDeadLetters(broker_location(settings), "scheduling"))
    return Service(
        name="scheduling",
        store=store,
        relay=relay,
        transport=transport,
        migrations=MIGRATIONS,
        consumers=consumers,
        routes=entrypoints.routes(store, consumers, settings.werkplaatsen_organizer_token, clock),
        background=[entrypoints.deadline_timer(store, clock, timer_interval)],
        metrics=[
            query_gauge(db, PLACES_LEFT, PLACES_LEFT_BY_EDITION),
            query_gauge(db, WAITLIST_LENGTH, WAITLIST_BY_EDITION),
        ],
    )
