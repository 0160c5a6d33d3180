"""Wires the scheduling service together."""

from __future__ import annotations

from pathlib import Path

from shared.contract.scheduling import SchedulingCommandRejected
from shared.db import Database, utcnow
from shared.messaging.outbox import OutboxRelay
from shared.messaging.processing import MessageStore
from shared.runtime import Service, Transport
from shared.settings import Settings

from . import entrypoints
from .adapters import Inbox, Outbox
from .entrypoints import Clock

MIGRATIONS = Path(__file__).parent / "migrations"
# Work on one edition is serialised by its row lock anyway; a small pool keeps several replicas well inside
# PostgreSQL's connection limit when a burst of messages queues up behind that lock.
POOL_SIZE = 5


def build(settings: Settings, transport: Transport, *, clock: Clock = utcnow, timer_interval: float = 1.0) -> Service:
    db = Database(settings.database_url("scheduling"), pool_size=POOL_SIZE)
    relay = OutboxRelay(db, Outbox, transport.publish)
    store = MessageStore(db, "scheduling", Outbox, Inbox, SchedulingCommandRejected, wake=relay.wake)
    return Service(
        name="scheduling", store=store, relay=relay, transport=transport, migrations=MIGRATIONS,
        consumers=entrypoints.consumers(store, clock),
        routes=entrypoints.routes(store, settings.werkplaatsen_organizer_token, clock),
        background=[entrypoints.deadline_timer(store, clock, timer_interval)],
    )
