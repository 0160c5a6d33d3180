"""Everything reporting reacts to: one line per message, its handlers given their dependencies by name
(shared/messaging/wiring.py)."""

from __future__ import annotations

from shared.contract.notifications import NotificationFailed
from shared.contract.registration import (
    ApprovalRequested,
    CreditNoteIssued,
    InvoiceIssued,
    InvoiceOverdue,
    ParticipantDataErased,
    PaymentRegistered,
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.reporting import MarkFalsePositive, PublishReport, RetractReport, ReviseReport
from shared.contract.scheduling import (
    AttendanceRecorded,
    EditionScheduled,
    PlaceReleased,
    RegistrationClosed,
    SessionCompleted,
    TrioPlaced,
    TrioWaitlisted,
)
from shared.db import utcnow
from shared.messaging.dead_letters import OwnDeadLetters, scrub_erased
from shared.messaging.processing import ORGANISER, STAFF, MessageStore
from shared.messaging.wiring import Clock, Consumers, Dependencies, on, subscribe

from . import handlers
from .adapters import (
    SqlAttendance,
    SqlEditions,
    SqlEventSources,
    SqlFailures,
    SqlFalsePositives,
    SqlInvoices,
    SqlNames,
    SqlReports,
    SqlRounds,
    SqlTrios,
)
from .anonymise import NameKey

# Events that notifications may answer with a message start with remember_source: where a failed notification
# came from tells the organiser whom it concerned.
source = handlers.remember_source

CONSUMES = (
    on(PublishReport, handlers.publish_report, given_by=ORGANISER),
    on(ReviseReport, handlers.revise_report, given_by=STAFF),
    on(RetractReport, handlers.retract_report, given_by=ORGANISER),
    on(MarkFalsePositive, handlers.mark_false_positive, given_by=ORGANISER),
    on(SessionCompleted, handlers.keep_session_report),
    on(EditionScheduled, handlers.remember_edition),
    on(TrioRegistered, source, handlers.remember_trio),
    on(ApprovalRequested, source, handlers.remember_approver),
    on(RegistrationApproved, source, handlers.follow_decision),
    on(RegistrationDeclined, source, handlers.follow_decision),
    on(RegistrationCancelled, source, handlers.follow_decision),
    on(TrioPlaced, source, handlers.follow_placement),
    on(TrioWaitlisted, source, handlers.follow_placement),
    on(PlaceReleased, source, handlers.follow_placement),
    on(RegistrationClosed, handlers.follow_allocation),
    on(AttendanceRecorded, handlers.record_attendance),
    on(ParticipantDataErased, handlers.erase_participants, after_commit=[scrub_erased]),
    on(NotificationFailed, handlers.record_failure),
    on(InvoiceIssued, handlers.follow_billing),
    on(CreditNoteIssued, handlers.follow_billing),
    on(PaymentRegistered, handlers.follow_billing),
    on(InvoiceOverdue, handlers.follow_billing),
)


def consumers(
    store: MessageStore,
    *,
    public_url: str,
    key: NameKey,
    clock: Clock = utcnow,
    dead_letters: OwnDeadLetters | None = None,
) -> Consumers:
    return subscribe(
        CONSUMES,
        store,
        Dependencies(
            per_transaction={
                "reports": SqlReports,
                "editions": SqlEditions,
                "rounds": SqlRounds,
                "trios": SqlTrios,
                "names": SqlNames,
                "false_positives": SqlFalsePositives,
                "attendance": SqlAttendance,
                "failures": SqlFailures,
                "invoices": SqlInvoices,
                "sources": SqlEventSources,
            },
            fixed={
                "public_url": public_url,
                "key": key,
                "dead_letters": dead_letters or OwnDeadLetters(None, store.service),
            },
            clock=clock,
        ),
    )
