"""Everything notifications reacts to: one line per message, its handlers given their dependencies by name
(shared/messaging/wiring.py). Its commands come from the organiser console."""

from __future__ import annotations

from datetime import timedelta

from shared.contract.notifications import ResendNotification, SendAnnouncement
from shared.contract.registration import (
    ApprovalRequested,
    CreditNoteIssued,
    InvoiceIssued,
    InvoiceOverdue,
    InvoiceResent,
    MemberReplaced,
    ParticipantDataErased,
    RegistrationApproved,
    RegistrationAttemptRefused,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.reporting import LessonReportPublished
from shared.contract.scheduling import (
    EditionScheduled,
    PlaceReleased,
    RegistrationClosed,
    SeatingPlanned,
    SessionRescheduled,
    TrioPlaced,
    TrioSeated,
    TrioWaitlisted,
)
from shared.db import utcnow
from shared.messaging.dead_letters import OwnDeadLetters, scrub_erased
from shared.messaging.processing import ORGANISER, MessageStore
from shared.messaging.wiring import Clock, Consumers, Dependencies, on, subscribe

from . import handlers
from .delivery import NoCopies
from .handlers.ports import MailCopies
from .store import SqlAnnouncements, SqlEditions, SqlMails, SqlRegistrations, SqlReminders

CONSUMES = (
    on(SendAnnouncement, handlers.send_announcement, given_by=ORGANISER),
    on(ResendNotification, handlers.resend_notification, given_by=ORGANISER),
    on(EditionScheduled, handlers.remember_edition),
    on(TrioRegistered, handlers.acknowledge_registration),
    on(ApprovalRequested, handlers.request_approval),
    on(RegistrationAttemptRefused, handlers.tell_of_registration_attempt),
    on(RegistrationApproved, handlers.announce_approval),
    on(RegistrationDeclined, handlers.announce_decline),
    on(RegistrationCancelled, handlers.confirm_cancellation),
    on(MemberReplaced, handlers.welcome_member),
    on(PlaceReleased, handlers.confirm_cancellation),
    on(TrioWaitlisted, handlers.announce_waitlist),
    on(TrioPlaced, handlers.confirm_placement),
    on(RegistrationClosed, handlers.warn_undersubscribed),
    on(SessionRescheduled, handlers.announce_reschedule),
    on(SeatingPlanned, handlers.plan_reminders),
    on(TrioSeated, handlers.plan_trio_reminders),
    on(LessonReportPublished, handlers.announce_report),
    # Its dead letters may hold the participant's data too (a TrioRegistered it could not process).
    on(ParticipantDataErased, handlers.erase_participant_data, after_commit=[scrub_erased]),
    on(InvoiceIssued, handlers.send_invoice),
    on(InvoiceResent, handlers.send_invoice),
    on(CreditNoteIssued, handlers.send_invoice),
    on(InvoiceOverdue, handlers.remind_payment),
)


def consumers(
    store: MessageStore,
    addresses: handlers.Addresses,
    offsets: list[tuple[str, timedelta]],
    *,
    clock: Clock = utcnow,
    dead_letters: OwnDeadLetters | None = None,
    mail_copies: MailCopies | None = None,
) -> Consumers:
    return subscribe(
        CONSUMES,
        store,
        Dependencies(
            per_transaction={
                "editions": SqlEditions,
                "registrations": SqlRegistrations,
                "mails": SqlMails,
                "reminders": SqlReminders,
                "announcements": SqlAnnouncements,
            },
            fixed={
                "addresses": addresses,
                "offsets": offsets,
                "dead_letters": dead_letters or OwnDeadLetters(None, store.service),
                "mail_copies": mail_copies or NoCopies(),
            },
            clock=clock,
        ),
    )
