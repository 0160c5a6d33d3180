"""Wires the reporting service together."""

from __future__ import annotations

from pathlib import Path

from shared.contract.reporting import ReportingCommandRejected
from shared.db import Database
from shared.messaging.dead_letters import OwnDeadLetters, broker_location
from shared.messaging.outbox import OutboxRelay
from shared.messaging.processing import MessageStore
from shared.runtime import Service, Transport
from shared.settings import Settings

from . import api, consumes, dashboard, entrypoints, overview_api
from .adapters import Inbox, Outbox, StoredNameKey

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings, transport: Transport) -> Service:
    db = Database(settings.database_url("reporting"))
    relay = OutboxRelay(db, Outbox, transport.publish)
    store = MessageStore(
        db,
        "reporting",
        Outbox,
        Inbox,
        ReportingCommandRejected,
        wake=relay.wake,
        actor_publishers=settings.console_publishers,
    )
    # Reporting's own key, independent of WERKPLAATSEN_SECRET_KEY (anonymise.py); read once the store is migrated.
    key = StoredNameKey()

    async def load_key() -> None:
        await key.load(db, settings.werkplaatsen_secret_key)

    return Service(
        name="reporting",
        store=store,
        relay=relay,
        transport=transport,
        migrations=MIGRATIONS,
        on_start=[load_key],
        consumers=consumes.consumers(
            store,
            public_url=settings.public_url,
            key=key,
            dead_letters=OwnDeadLetters(broker_location(settings), "reporting"),
        ),
        routes=[
            *entrypoints.routes(store, key=key, public_url=settings.public_url),
            *api.routes(
                store, key=key, organizer_token=settings.werkplaatsen_organizer_token, public_url=settings.public_url
            ),
            *overview_api.routes(store, organizer_token=settings.werkplaatsen_organizer_token),
            *dashboard.routes(
                store,
                organizer_token=settings.werkplaatsen_organizer_token,
                secret_key=settings.secret_keys,
                public_url=settings.public_url,
            ),
        ],
    )
