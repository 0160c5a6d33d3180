"""Wires the notifications service together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.utils import parseaddr
from pathlib import Path

from shared import links
from shared.contract.common import CommandRejected
from shared.db import Database, utcnow
from shared.messaging.outbox import Cause, Outbox, OutboxRelay
from shared.messaging.processing import MessageStore
from shared.runtime import Service, Transport
from shared.settings import Settings

from . import entrypoints, handlers
from .adapters import (
    Delivery,
    EmlDelivery,
    Inbox,
    SmtpDelivery,
    SqlEditions,
    SqlMails,
    SqlRegistrations,
    SqlReminders,
)
from .adapters import Outbox as OutboxRow
from .config import NotificationsConfig, load_config
from .domain import Reminder
from .sender import MailSender

MIGRATIONS = Path(__file__).parent / "migrations"


def delivery_for(settings: Settings) -> Callable[[], Delivery]:
    """SMTP when WERKPLAATSEN_SMTP_URL is set, else .eml files under <data dir>/mail."""
    smtp_url = settings.werkplaatsen_smtp_url
    if smtp_url:
        return lambda: SmtpDelivery(smtp_url)
    directory = settings.werkplaatsen_data_dir / "mail"
    return lambda: EmlDelivery(directory)


def addresses_for(settings: Settings) -> handlers.Addresses:
    name, email = parseaddr(settings.werkplaatsen_mail_from)
    base = settings.public_url
    secret = settings.werkplaatsen_secret_key
    return handlers.Addresses(
        sender_name=name, sender_email=email or "werkplaatsen@platform31.nl",
        organizer_email=settings.werkplaatsen_organizer_email,
        status_url=lambda registration_id: base + links.status_path(secret, registration_id),
    )


def reminder_queue(db: Database) -> Callable[[], Awaitable[int]]:
    """The sender's first step each pass: due reminders become mails, in one transaction."""

    async def queue() -> int:
        async with db.transaction() as session:
            def emit_for(reminder: Reminder) -> handlers.Emit:
                cause = Cause(message_id=reminder.caused_by, correlation_id=reminder.correlation_id)
                return Outbox(session, OutboxRow, "notifications", cause).emit

            return await handlers.queue_due_reminders(
                reminders=SqlReminders(session), registrations=SqlRegistrations(session),
                editions=SqlEditions(session), mails=SqlMails(session), emit_for=emit_for, now=utcnow())

    return queue


def build(settings: Settings, transport: Transport, config: NotificationsConfig | None = None) -> Service:
    config = config or load_config()
    # Each sender worker holds a connection for its whole SMTP conversation (the mail's row lock): the pool has
    # room for all of them and for the consumers besides.
    db = Database(settings.database_url("notifications"), pool_size=config.smtp_concurrency + 4)
    relay = OutboxRelay(db, OutboxRow, transport.publish)
    sender = MailSender(db, OutboxRow, delivery_for(settings), mail_from=settings.werkplaatsen_mail_from,
                        on_commit=relay.wake, queue_reminders=reminder_queue(db), concurrency=config.smtp_concurrency)

    def wake() -> None:
        # New mails were committed with the event's inbox claim: send them now rather than at the next poll.
        relay.wake()
        sender.wake()

    # Notifications takes no commands; MessageStore still asks for a rejection model, which stays unused.
    store = MessageStore(db, "notifications", OutboxRow, Inbox, CommandRejected, wake=wake)
    return Service(
        name="notifications", store=store, relay=relay, transport=transport, migrations=MIGRATIONS,
        consumers=entrypoints.consumers(store, addresses_for(settings), config.offsets),
        # Cooperative: on SIGTERM the sender finishes the mails it is handing over instead of being cancelled.
        routes=entrypoints.routes(store, settings.werkplaatsen_organizer_token), cooperative=[sender.run],
    )
