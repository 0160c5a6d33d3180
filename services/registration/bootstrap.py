"""Wires the registration service together."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from shared.contract.registration import RegistrationCommandRejected
from shared.db import Database
from shared.messaging.dead_letters import broker_location
from shared.messaging.outbox import OutboxRelay
from shared.metrics import REGISTRATIONS, query_gauge
from shared.runtime import Service, Transport
from shared.settings import Settings

from . import consumes, entrypoints, web
from .adapters import Inbox, Outbox, RegistrationRow, RegistrationStore, load_municipalities
from .billing import BillingPolicy
from .config import load_config
from .invoice_routes import invoice_routes
from .query_routes import query_routes
from .tokens import ApprovalLinks, InvoiceLinks

MIGRATIONS = Path(__file__).parent / "migrations"
# /metrics: registrations per edition and status (werkplaatsen_registrations).
BY_STATUS = select(RegistrationRow.edition, RegistrationRow.status, func.count()).group_by(
    RegistrationRow.edition, RegistrationRow.status
)


def build(settings: Settings, transport: Transport) -> Service:
    # Read at start-up so a wrong REGISTRATION_* setting or data file stops the service with one clear line.
    config = load_config()
    config.require_real_seller(settings.public_url)
    municipalities = load_municipalities(config)
    db = Database(settings.database_url("registration"))
    relay = OutboxRelay(db, Outbox, transport.publish)
    store = RegistrationStore(
        db,
        "registration",
        Outbox,
        Inbox,
        RegistrationCommandRejected,
        wake=relay.wake,
        actor_publishers=settings.console_publishers,
        approvals=ApprovalLinks(settings.secret_keys, settings.public_url, config.approval_validity),
        retention=config.retention,
        approval_limits=config.approval_limits,
        dead_letters=broker_location(settings),
        billing=BillingPolicy(
            seller=config.seller,
            vat=config.vat,
            payment_term=config.payment_term,
            invoice_prefix=config.invoice_prefix,
            credit_note_prefix=config.credit_note_prefix,
        ),
        invoice_links=InvoiceLinks(settings.secret_keys, settings.public_url),
    )
    # One set of consumers: the broker's messages and the HTTP routes' commands take the same path.
    consumers = consumes.consumers(store, municipalities)
    return Service(
        name="registration",
        store=store,
        relay=relay,
        transport=transport,
        migrations=MIGRATIONS,
        consumers=consumers,
        routes=[
            *entrypoints.routes(store, consumers, settings.werkplaatsen_organizer_token),
            *query_routes(store, settings.werkplaatsen_organizer_token),
            *web.web_routes(store, consumers, municipalities, settings),
            *invoice_routes(store, consumers, settings.werkplaatsen_organizer_token),
        ],
        background=[
            entrypoints.retention_job(store, interval_seconds=config.retention_check_seconds),
            entrypoints.overdue_job(store, config.overdue_check_seconds),
        ],
        metrics=[query_gauge(db, REGISTRATIONS, BY_STATUS)],
    )
