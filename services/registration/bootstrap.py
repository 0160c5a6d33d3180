"""Wires the registration service together."""

from __future__ import annotations

from pathlib import Path

from shared.contract.registration import RegistrationCommandRejected
from shared.db import Database
from shared.messaging.outbox import OutboxRelay
from shared.messaging.processing import MessageStore
from shared.runtime import Service, Transport
from shared.settings import Settings

from . import entrypoints
from .adapters import Inbox, Outbox, load_municipalities
from .config import load_config

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings, transport: Transport) -> Service:
    # Read at start-up so a wrong REGISTRATION_* setting or data file stops the service with one clear line.
    municipalities = load_municipalities(load_config())
    db = Database(settings.database_url("registration"))
    relay = OutboxRelay(db, Outbox, transport.publish)
    store = MessageStore(db, "registration", Outbox, Inbox, RegistrationCommandRejected, wake=relay.wake)
    return Service(
        name="registration", store=store, relay=relay, transport=transport, migrations=MIGRATIONS,
        consumers=entrypoints.consumers(store, municipalities),
        routes=entrypoints.routes(store, municipalities, settings.werkplaatsen_organizer_token),
    )
