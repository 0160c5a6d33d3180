"""Wires the notifications service together."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from shared.contract.common import CommandRejected
from shared.db import Database
from shared.messaging.outbox import OutboxRelay
from shared.messaging.processing import MessageStore
from shared.runtime import Service, Transport
from shared.settings import Settings

from . import entrypoints
from .adapters import Delivery, EmlDelivery, Inbox, Outbox, SmtpDelivery
from .sender import MailSender

MIGRATIONS = Path(__file__).parent / "migrations"


def delivery_for(settings: Settings) -> Callable[[], Delivery]:
    """SMTP when WERKPLAATSEN_SMTP_URL is set, else .eml files under <data dir>/mail."""
    smtp_url = settings.werkplaatsen_smtp_url
    if smtp_url:
        return lambda: SmtpDelivery(smtp_url)
    directory = settings.werkplaatsen_data_dir / "mail"
    return lambda: EmlDelivery(directory)


def build(settings: Settings, transport: Transport) -> Service:
    db = Database(settings.database_url("notifications"))
    relay = OutboxRelay(db, Outbox, transport.publish)
    sender = MailSender(db, Outbox, delivery_for(settings), mail_from=settings.werkplaatsen_mail_from,
                        on_commit=relay.wake)

    def wake() -> None:
        # New mails were committed with the event's inbox claim: send them now rather than at the next poll.
        relay.wake()
        sender.wake()

    # Notifications takes no commands; MessageStore still asks for a rejection model, which stays unused.
    store = MessageStore(db, "notifications", Outbox, Inbox, CommandRejected, wake=wake)
    return Service(
        name="notifications", store=store, relay=relay, transport=transport, migrations=MIGRATIONS,
        consumers=entrypoints.consumers(store), background=[sender.run],
    )
