"""Registration's copy of the seating, one seat per trio and session: which seats a whole plan of a session or one
trio's seats change, the newer fact winning whichever arrives first. Pure: no I/O (adapters/copies.py stores it).

Scheduling plans a session's seating as a whole at the allocation and when an organiser asks (SeatingPlanned), and
seats a trio placed afterwards on its own at a table with room (TrioSeated), the others keeping theirs. Either may
be delivered late: every seat keeps when scheduling decided it, and each session when it was last planned whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Seat:
    table: int
    seated_at: datetime  # when scheduling decided it: the event's occurred_at


@dataclass(frozen=True)
class PlanChange:
    """What a session's whole plan changes in its stored seats."""

    seats: dict[str, int] = field(default_factory=dict)  # registration id -> its new or changed table
    released: list[str] = field(default_factory=list)  # trios the plan no longer seats in the session


def plan_change(stored: Mapping[str, Seat], plan: Mapping[str, int], at: datetime) -> PlanChange:
    """A whole plan (registration id -> table) decided `at`, over the session's stored seats (the caller applies it
    only when it is the session's newest plan). A seat decided after the plan (a trio seated on its own later)
    stays; one decided before takes the plan's table, or goes when the plan has no place for its trio (released).
    A seat the plan keeps as it was is not written again: the session's plan time already covers it."""
    seats = {
        registration_id: table
        for registration_id, table in plan.items()
        if (seat := stored.get(registration_id)) is None or (seat.seated_at < at and seat.table != table)
    }
    released = [
        registration_id
        for registration_id, seat in stored.items()
        if registration_id not in plan and seat.seated_at < at
    ]
    return PlanChange(seats, released)


@dataclass(frozen=True)
class TrioSeatChange:
    """What one trio's seats change: the seats to store (session number -> table), and of those the ones whose
    table is new or changed."""

    seats: dict[int, int] = field(default_factory=dict)
    changed: dict[int, int] = field(default_factory=dict)


def trio_seat_change(
    stored: Mapping[int, Seat], planned_at: Mapping[int, datetime | None], seats: Mapping[int, int], at: datetime
) -> TrioSeatChange:
    """A trio's seats (session number -> table) decided `at`, over its stored seats and the time each session was
    last planned whole. A session planned whole after `at` already says where the trio sits, or that it does not;
    a seat decided after `at` stays. A seat it confirms is stored again with the newer time, so a whole plan older
    than this but delivered after it does not move the trio."""
    newer = {
        number: table
        for number, table in seats.items()
        if ((planned := planned_at.get(number)) is None or planned < at)
        and ((seat := stored.get(number)) is None or seat.seated_at < at)
    }
    changed = {
        number: table for number, table in newer.items() if (seat := stored.get(number)) is None or seat.table != table
    }
    return TrioSeatChange(newer, changed)
