"""Wires the notifications service together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from email.utils import parseaddr
from pathlib import Path

from shared import links
from shared.chat_binding import binding_code
from shared.contract.notifications import NotificationsCommandRejected
from shared.db import Database, utcnow
from shared.messaging.dead_letters import OwnDeadLetters, broker_location
from shared.messaging.outbox import Cause, OutboxRelay
from shared.messaging.processing import MessageStore
from shared.runtime import Service, Transport
from shared.settings import Settings

from . import consumes, entrypoints, handlers
from .config import NotificationsConfig, load_config
from .delivery import Delivery, EmlCopies, EmlDelivery, NoCopies, SmtpDelivery
from .domain import Reminder
from .handlers.ports import MailCopies
from .sender import MailSender
from .store import Inbox, SqlEditions, SqlMails, SqlRegistrations, SqlReminders
from .store import Outbox as OutboxRow

MIGRATIONS = Path(__file__).parent / "migrations"


def delivery_for(settings: Settings) -> Callable[[], Delivery]:
    """SMTP when WERKPLAATSEN_SMTP_URL is set, else .eml files under <data dir>/mail."""
    smtp_url = settings.werkplaatsen_smtp_url
    if smtp_url:
        return lambda: SmtpDelivery(smtp_url)
    directory = settings.werkplaatsen_data_dir / "mail"
    return lambda: EmlDelivery(directory)


def mail_copies_for(settings: Settings) -> MailCopies:
    """Where delivery_for leaves copies of the mails it sends: the .eml files, when there is no SMTP server."""
    if settings.werkplaatsen_smtp_url:
        return NoCopies()
    return EmlCopies(settings.werkplaatsen_data_dir / "mail")


def addresses_for(settings: Settings) -> handlers.Addresses:
    name, email = parseaddr(settings.werkplaatsen_mail_from)
    base = settings.public_url
    secret = settings.secret_keys
    return handlers.Addresses(
        sender_name=name,
        sender_email=email or "werkplaatsen@platform31.nl",
        organizer_email=settings.werkplaatsen_organizer_email,
        status_url=lambda registration_id: base + links.status_path(secret, registration_id),
        chat_code=lambda registration_id, room_id: binding_code(secret, registration_id, room_id),
    )


def reminder_queue(store: MessageStore) -> Callable[[], Awaitable[int]]:
    """The sender's first step each pass: due reminders become mails, in one unit of work."""

    async def queue() -> int:
        async with store.unit_of_work() as uow:

            def emit_for(reminder: Reminder) -> handlers.Emit:
                # Each reminder's mails and chat message are caused by the seating it was planned from.
                return uow.outbox_for(Cause(message_id=reminder.caused_by, correlation_id=reminder.correlation_id)).emit

            return await handlers.queue_due_reminders(
                reminders=SqlReminders(uow.session),
                registrations=SqlRegistrations(uow.session),
                editions=SqlEditions(uow.session),
                mails=SqlMails(uow.session),
                emit_for=emit_for,
                now=utcnow(),
            )

    return queue


def build(settings: Settings, transport: Transport, config: NotificationsConfig | None = None) -> Service:
    config = config or load_config()
    # Each sender worker holds a connection for its whole SMTP conversation (the mail's row lock): the pool has
    # room for all of them and for the consumers besides.
    db = Database(settings.database_url("notifications"), pool_size=config.smtp_concurrency + 4)
    relay = OutboxRelay(db, OutboxRow, transport.publish)
    # The console's commands (an announcement, a mail sent again) carry an actor, believed only from its broker
    # user. The sender's own commits wake only the relay (its NotificationSent leaves at once): woken by its own
    # records, it would look for mail forever.
    sender_store = MessageStore(
        db,
        "notifications",
        OutboxRow,
        Inbox,
        NotificationsCommandRejected,
        wake=relay.wake,
        actor_publishers=settings.console_publishers,
    )
    sender = MailSender(
        sender_store,
        delivery_for(settings),
        mail_from=settings.werkplaatsen_mail_from,
        queue_reminders=reminder_queue(sender_store),
        concurrency=config.smtp_concurrency,
    )

    def wake() -> None:
        # New mails were committed with the event's inbox claim: send them now rather than at the next poll.
        relay.wake()
        sender.wake()

    store = replace(sender_store, wake=wake)
    return Service(
        name="notifications",
        store=store,
        relay=relay,
        transport=transport,
        migrations=MIGRATIONS,
        consumers=consumes.consumers(
            store,
            addresses_for(settings),
            config.offsets,
            dead_letters=OwnDeadLetters(broker_location(settings), "notifications"),
            mail_copies=mail_copies_for(settings),
        ),
        # Cooperative: on SIGTERM the sender finishes the mails it is handing over instead of being cancelled.
        routes=entrypoints.routes(store, settings.werkplaatsen_organizer_token),
        cooperative=[sender.run],
    )
