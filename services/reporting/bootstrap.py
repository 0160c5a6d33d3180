"""Wires the reporting service together."""

from __future__ import annotations

from pathlib import Path

from shared.contract.common import CommandRejected
from shared.db import Database
from shared.messaging.outbox import OutboxRelay
from shared.messaging.processing import MessageStore
from shared.runtime import Service, Transport
from shared.settings import Settings

from . import entrypoints
from .adapters import Inbox, Outbox

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings, transport: Transport) -> Service:
    db = Database(settings.database_url("reporting"))
    relay = OutboxRelay(db, Outbox, transport.publish)
    # Reporting takes no commands, so it never publishes a CommandRejected.
    store = MessageStore(db, "reporting", Outbox, Inbox, CommandRejected, wake=relay.wake)
    return Service(
        name="reporting", store=store, relay=relay, transport=transport, migrations=MIGRATIONS,
        consumers=entrypoints.consumers(store, public_url=settings.public_url), routes=entrypoints.routes(store),
    )
