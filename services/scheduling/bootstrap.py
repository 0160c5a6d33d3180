"""Wires the scheduling service together."""

from __future__ import annotations

from pathlib import Path

from shared.contract.scheduling import SchedulingCommandRejected
from shared.db import Database
from shared.messaging.outbox import OutboxRelay
from shared.messaging.processing import MessageStore
from shared.runtime import Service, Transport
from shared.settings import Settings

from . import entrypoints
from .adapters import Inbox, Outbox

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings, transport: Transport) -> Service:
    db = Database(settings.database_url("scheduling"))
    relay = OutboxRelay(db, Outbox, transport.publish)
    store = MessageStore(db, "scheduling", Outbox, Inbox, SchedulingCommandRejected, wake=relay.wake)
    return Service(
        name="scheduling", store=store, relay=relay, transport=transport, migrations=MIGRATIONS,
        consumers=entrypoints.consumers(store), routes=entrypoints.routes(store),
    )
