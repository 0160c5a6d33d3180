"""Scheduling use cases. Each takes its dependencies as arguments so tests can pass in-memory fakes.

Every use case that touches places locks the edition first (`editions.get(..., for_update=True)`), so
competing replicas change one edition's places, waitlist and seating strictly one after the other.
"""

from .by_hand import move_on_waitlist, place_trio
from .editions import schedule_edition
from .erasure import erase_personal_text
from .events import edition_scheduled, session_rescheduled
from .placement import (
    allocate_if_due,
    close_registration,
    registration_approved,
    registration_left,
    remember_registration,
    reopen_registration,
    stop_registration,
)
from .ports import Editions, Emit, Places, Registrations, Seats, Waitlist
from .seating import plan_seating_again
from .sessions import complete_session, record_attendance, reschedule_session

__all__ = [
    "Editions",
    "Emit",
    "Places",
    "Registrations",
    "Seats",
    "Waitlist",
    "allocate_if_due",
    "close_registration",
    "complete_session",
    "edition_scheduled",
    "erase_personal_text",
    "move_on_waitlist",
    "place_trio",
    "plan_seating_again",
    "record_attendance",
    "registration_approved",
    "registration_left",
    "remember_registration",
    "reopen_registration",
    "reschedule_session",
    "schedule_edition",
    "session_rescheduled",
    "stop_registration",
]
