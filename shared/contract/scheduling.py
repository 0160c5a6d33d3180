"""Messages of the scheduling service: editions, sessions, places, waitlist, seating and attendance."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from .common import Command, CommandRejected, ContractModel, EventData, OneLine


class Venue(ContractModel):
    name: str = Field(max_length=200)
    address: str = Field(max_length=300)
    city: str = Field(max_length=100)


class VenueGiven(Venue):
    """The venue as a command gives it: name and city on one line (events carry `Venue`, as before); the address may
    have several lines."""

    name: OneLine = Field(max_length=200)
    city: OneLine = Field(max_length=100)


class Capacity(ContractModel):
    min_trios: int = Field(ge=1)
    max_trios: int = Field(ge=1)


class EditionFee(ContractModel):
    amount_cents: int = Field(ge=0, description="Fee per trio in euro cents (announcement: 20000).")
    waived_for_size_classes: list[Literal["klein", "middelgroot", "groot"]] = Field(default_factory=list)


class SessionPlan(ContractModel):
    number: int = Field(ge=1)
    title: str = Field(max_length=300, description="The session's theme.")
    outcome: str = Field(max_length=2000, description="What participants come away with.")
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class SessionPlanGiven(SessionPlan):
    """A session as a command gives it: the title on one line (events carry `SessionPlan`, as before)."""

    title: OneLine = Field(max_length=300, description="The session's theme.")


class SessionNotes(ContractModel):
    lessons: list[str] = Field(default_factory=list)
    instruments: list[Instrument] = Field(default_factory=list)
    quotes: list[str] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)


class Instrument(ContractModel):
    name: str = Field(max_length=200)
    description: str = Field(max_length=2000)


class InstrumentGiven(Instrument):
    """An instrument as a command gives it: the name on one line."""

    name: OneLine = Field(max_length=200)


class SessionNotesGiven(SessionNotes):
    """Notes as a command gives them: each instrument's name on one line (events carry `SessionNotes`, as before)."""

    instruments: list[InstrumentGiven] = Field(default_factory=list)  # type: ignore[assignment]


# Commands


class ScheduleEdition(Command):
    """Create an edition (a round of sessions) or, before registration closes, update it."""

    routing_key = "scheduling.ScheduleEdition"

    edition: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Slug, e.g. `2027-najaar`.")
    title: OneLine = Field(max_length=300)
    venue: VenueGiven
    capacity: Capacity
    registration_deadline: AwareDatetime = Field(description="The allocation moment.")
    registration_closes_at: AwareDatetime | None = Field(
        default=None, description="When registration stops; default the first session's start."
    )
    fee: EditionFee
    priority_size_classes: list[Literal["klein", "middelgroot", "groot"]] = Field(default_factory=list)
    table_size: int = Field(default=2, ge=1, description="Trios per table in the seating plan.")
    sessions: list[SessionPlanGiven] = Field(min_length=1)
    publish_reports_at_once: bool = Field(
        default=False,
        description="Publish each session's public summary as soon as the session is completed; by default it "
        "waits as a draft for an organiser's `reporting.PublishReport`.",
    )


class CloseRegistration(Command):
    """Allocate the places now (the allocation moment comes now if it had not yet). Registration itself stays open
    until `registration_closes_at`: a trio approved afterwards gets a free place at once, otherwise the waitlist
    in the allocation order. To stop registration altogether: StopRegistration."""

    routing_key = "scheduling.CloseRegistration"

    edition: str


class StopRegistration(Command):
    """Stop registration altogether, now: registration refuses new trios (`registration_closed`) and its form no
    longer offers the edition. It does not allocate (CloseRegistration does, or the deadline). ReopenRegistration
    opens registration again until the closing moment it was scheduled for."""

    routing_key = "scheduling.StopRegistration"

    edition: str
    reason: str | None = Field(
        default=None, max_length=2000, description="Why, in the organiser's words; carried by RegistrationStopped."
    )


class PlanSeating(Command):
    """Plan the seating of every session still to come again, for all placed trios at once (the rotation that
    lets trios meet new trios each session). Trios placed after the allocation join a table with room instead;
    an organiser may ask for a whole new plan before a session. Announced as SeatingPlanned per session whose
    tables changed."""

    routing_key = "scheduling.PlanSeating"

    edition: str


class RescheduleSession(Command):
    routing_key = "scheduling.RescheduleSession"

    edition: str
    session_number: int
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class RecordAttendance(Command):
    routing_key = "scheduling.RecordAttendance"

    edition: str
    session_number: int
    present: list[str] = Field(description="registration_ids of the trios present.")


class CompleteSession(Command):
    """Mark a session as held, with the organiser's notes for the public report."""

    routing_key = "scheduling.CompleteSession"

    edition: str
    session_number: int
    notes: SessionNotesGiven


class PlaceTrio(Command):
    """An organiser gives a trio a place by hand: one from the waitlist, or one approved and not placed yet."""

    routing_key = "scheduling.PlaceTrio"

    edition: str
    registration_id: str
    reason: str = Field(
        min_length=1, max_length=2000, description="Why, in the organiser's words; kept and shown to organisers."
    )


class MoveOnWaitlist(Command):
    """An organiser moves a waitlisted trio to another position; the trios in between shift by one."""

    routing_key = "scheduling.MoveOnWaitlist"

    edition: str
    registration_id: str
    position: int = Field(ge=1, description="The new position, 1 is next in line; at most the waitlist's length.")
    reason: str = Field(
        min_length=1, max_length=2000, description="Why, in the organiser's words; kept and shown to organisers."
    )


class ReopenRegistration(Command):
    """Undo a StopRegistration: registration opens again until the closing moment it was scheduled for."""

    routing_key = "scheduling.ReopenRegistration"

    edition: str


# Events


class EditionScheduled(EventData):
    """An edition was created or updated; carries the whole edition so consumers keep their own copy."""

    routing_key = "scheduling.EditionScheduled"

    edition: str
    title: str
    venue: Venue
    capacity: Capacity
    registration_deadline: AwareDatetime
    registration_closes_at: AwareDatetime
    fee: EditionFee
    priority_size_classes: list[str]
    table_size: int
    sessions: list[SessionPlan]
    publish_reports_at_once: bool = Field(
        default=False, description="Reporting publishes session summaries without waiting for PublishReport."
    )


class TrioPlaced(EventData):
    routing_key = "scheduling.TrioPlaced"

    registration_id: str
    edition: str
    via: Literal["allocation", "direct", "waitlist"]
    reason: str | None = Field(
        default=None, description="The organiser's reason when the trio was placed by hand (PlaceTrio); else null."
    )


class TrioWaitlisted(EventData):
    routing_key = "scheduling.TrioWaitlisted"

    registration_id: str
    edition: str
    position: int = Field(description="Position on the waitlist, 1 is next in line.")
    previous_position: int | None = Field(
        default=None, description="The position before this change; null when the trio was just waitlisted."
    )
    reason: str | None = Field(
        default=None,
        description="The organiser's reason when this trio was moved by hand (MoveOnWaitlist); null for the others.",
    )


class PlaceReleased(EventData):
    routing_key = "scheduling.PlaceReleased"

    registration_id: str
    edition: str
    reason: str | None = None


class RegistrationClosed(EventData):
    routing_key = "scheduling.RegistrationClosed"

    edition: str
    placed: list[str]
    waitlisted: list[str] = Field(description="registration_ids in waitlist order.")
    undersubscribed: bool


class Table(ContractModel):
    table: int
    registration_ids: list[str]


class SeatingPlanned(EventData):
    routing_key = "scheduling.SeatingPlanned"

    edition: str
    session_number: int
    tables: list[Table]


class Seat(ContractModel):
    session_number: int
    table: int


class TrioSeated(EventData):
    """One trio's table at each session still to come, when it joins an edition whose seating is planned (placed
    directly, from the waitlist or by hand). The other trios keep their tables: no SeatingPlanned follows."""

    routing_key = "scheduling.TrioSeated"

    edition: str
    registration_id: str
    seats: list[Seat] = Field(description="The trio's table per session still to come, in session order.")


class SessionRescheduled(EventData):
    routing_key = "scheduling.SessionRescheduled"

    edition: str
    session_number: int
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    sequence: int = Field(description="Increases with each change; used as the iCalendar SEQUENCE.")
    previous_starts_at: AwareDatetime | None = Field(default=None, description="When the session was to start.")
    previous_ends_at: AwareDatetime | None = Field(default=None, description="When the session was to end.")


class AttendanceRecorded(EventData):
    routing_key = "scheduling.AttendanceRecorded"

    edition: str
    session_number: int
    present: list[str]


class Attendance(ContractModel):
    trios: int
    municipalities: int


class SessionCompleted(EventData):
    routing_key = "scheduling.SessionCompleted"

    edition: str
    session_number: int
    title: str
    starts_at: AwareDatetime
    attendance: Attendance
    notes: SessionNotes


class RegistrationStopped(EventData):
    """Registration was stopped before its time (StopRegistration); EditionScheduled carries the new closing moment
    too, which is how registration learns to refuse new trios."""

    routing_key = "scheduling.RegistrationStopped"

    edition: str
    stopped_at: AwareDatetime
    reopen_until: AwareDatetime = Field(
        description="Until when ReopenRegistration can open registration again: the closing moment as scheduled."
    )
    reason: str | None = Field(default=None, description="The organiser's reason, if given.")


class RegistrationReopened(EventData):
    """Registration that was stopped is open again (ReopenRegistration); EditionScheduled carries it too."""

    routing_key = "scheduling.RegistrationReopened"

    edition: str
    registration_closes_at: AwareDatetime = Field(description="When registration closes now: as first scheduled.")


class SchedulingCommandRejected(CommandRejected):
    routing_key = "scheduling.CommandRejected"


SessionNotes.model_rebuild()
