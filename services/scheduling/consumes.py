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
    PlanSeating,
    RecordAttendance,
    ReopenRegistration,
    RescheduleSession,
    ScheduleEdition,
    StopRegistration,
)
from shared.db import utcnow
from shared.messaging.dead_letters import OwnDeadLetters, scrub_erased
from shared.messaging.processing import ORGANISER, STAFF, MessageStore
from shared.messaging.wiring import Clock, Consumers, Dependencies, on, subscribe

from . import handlers
from .adapters import SqlEditions
from .copies import SqlRegistrations
from .erasure import SqlPersonalText
from .places import SqlPlaces
from .seats import SqlSeats
from .waitlist import SqlWaitlist

CONSUMES = (
    on(ScheduleEdition, handlers.schedule_edition, given_by=ORGANISER),
    on(CloseRegistration, handlers.close_registration, given_by=ORGANISER),
    on(RescheduleSession, handlers.reschedule_session, given_by=ORGANISER),
    on(RecordAttendance, handlers.record_attendance, given_by=STAFF),
    on(CompleteSession, handlers.complete_session, given_by=STAFF),
    on(PlaceTrio, handlers.place_trio, given_by=ORGANISER),
    on(MoveOnWaitlist, handlers.move_on_waitlist, given_by=ORGANISER),
    on(PlanSeating, handlers.plan_seating_again, given_by=ORGANISER),
    on(StopRegistration, handlers.stop_registration, given_by=ORGANISER),
    on(ReopenRegistration, handlers.reopen_registration, given_by=ORGANISER),
    on(TrioRegistered, handlers.remember_registration),
    on(RegistrationApproved, handlers.registration_approved),
    on(RegistrationDeclined, handlers.registration_left),
    on(RegistrationCancelled, handlers.registration_left),
    # Scheduling keeps no names or addresses, but organisers' text may name people (erasure.py), and its dead
    # letters may hold them (a TrioRegistered it could not process).
    on(ParticipantDataErased, handlers.erase_personal_text, after_commit=[scrub_erased]),
)


def consumers(store: MessageStore, clock: Clock = utcnow, dead_letters: OwnDeadLetters | None = None) -> Consumers:
    return subscribe(
        CONSUMES,
        store,
        Dependencies(
            per_transaction={
                "editions": SqlEditions,
                "registrations": SqlRegistrations,
                "waitlist": SqlWaitlist,
                "places": SqlPlaces,
                "seats": SqlSeats,
                "personal_text": SqlPersonalText,
            },
            fixed={"dead_letters": dead_letters or OwnDeadLetters(None, store.service)},
            clock=clock,
        ),
    )
