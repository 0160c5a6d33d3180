"""Everything scheduling reacts to: one line per message, its handlers given their dependencies by name
(shared/messaging/wiring.py)."""

from __future__ import annotations

from shared.contract.registration import (
    ParticipantDataErased,
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.scheduling import (
    CloseRegistration,
    CompleteSession,
    MoveOnWaitlist,
    PlaceTrio,
    RecordAttendance,
    ReopenRegistration,
    RescheduleSession,
    ScheduleEdition,
    StopRegistration,
)
from shared.db import utcnow
from shared.messaging.dead_letters import OwnDeadLetters, scrub_erased
from shared.messaging.processing import MessageStore
from shared.messaging.wiring import Clock, Consumers, Dependencies, on, subscribe

from . import handlers
from .adapters import SqlEditions, SqlRegistrations
from .waitlist import SqlWaitlist

CONSUMES = (
    on(ScheduleEdition, handlers.schedule_edition),
    on(CloseRegistration, handlers.close_registration),
    on(RescheduleSession, handlers.reschedule_session),
    on(RecordAttendance, handlers.record_attendance),
    on(CompleteSession, handlers.complete_session),
    on(PlaceTrio, handlers.place_trio),
    on(MoveOnWaitlist, handlers.move_on_waitlist),
    on(StopRegistration, handlers.stop_registration),
    on(ReopenRegistration, handlers.reopen_registration),
    on(TrioRegistered, handlers.remember_registration),
    on(RegistrationApproved, handlers.registration_approved),
    on(RegistrationDeclined, handlers.registration_left),
    on(RegistrationCancelled, handlers.registration_left),
    # Scheduling keeps no personal data, but its dead letters may (a TrioRegistered it could not process).
    on(ParticipantDataErased, after_commit=[scrub_erased]),
)


def consumers(store: MessageStore, clock: Clock = utcnow, dead_letters: OwnDeadLetters | None = None) -> Consumers:
    return subscribe(
        CONSUMES,
        store,
        Dependencies(
            per_transaction={"editions": SqlEditions, "registrations": SqlRegistrations, "waitlist": SqlWaitlist},
            fixed={"dead_letters": dead_letters or OwnDeadLetters(None, store.service)},
            clock=clock,
        ),
    )
