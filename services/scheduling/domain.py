"""Scheduling rules: editions, their sessions, places and the waitlist. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Via = Literal["allocation", "direct", "waitlist"]


@dataclass
class Session:
    number: int
    title: str
    outcome: str
    starts_at: datetime
    ends_at: datetime
    sequence: int = 0
    completed_at: datetime | None = None
    present: list[str] = field(default_factory=list)
    notes: dict[str, Any] | None = None


@dataclass(frozen=True)
class Trio:
    """What scheduling knows of a registration: enough to rank it and to seat it."""

    registration_id: str
    priority: bool
    registered_at: datetime
    municipality: str = ""
    size_class: str = ""
    domains: tuple[str, ...] = ()


def rank(priority: bool, registered_at: datetime, registration_id: str) -> tuple[bool, datetime, str]:
    """The allocation order: the priority group first, then by registration time (the id only breaks exact ties)."""
    return (not priority, registered_at, registration_id)


@dataclass
class Placement:
    registration_id: str
    slot: int  # 1..max_trios; unique per edition in the store, so two writers can never fill one place twice
    via: Via
    priority: bool
    registered_at: datetime
    placed_at: datetime
    hand_reason: str | None = None  # the organiser's reason when placed by hand (PlaceTrio)

    @property
    def reason(self) -> str:
        return self.hand_reason or reason_text(self.priority, self.registered_at)


@dataclass
class WaitEntry:
    registration_id: str
    position: int
    priority: bool
    registered_at: datetime
    since: datetime
    # The organiser's reason when moved by hand (MoveOnWaitlist). Such a trio keeps the position it was given:
    # trios admitted later are ranked among the others only (see Edition.admit).
    hand_reason: str | None = None

    @property
    def rank(self) -> tuple[bool, datetime, str]:
        return rank(self.priority, self.registered_at, self.registration_id)

    @property
    def reason(self) -> str:
        return self.hand_reason or reason_text(self.priority, self.registered_at)


def reason_text(priority: bool, registered_at: datetime) -> str:
    """For organisers: why a trio is where it is in the order."""
    group = "voorrangsgroep" if priority else "overige aanmeldingen"
    return f"{group}, aangemeld op {registered_at.isoformat()}"


@dataclass(frozen=True)
class Placed:
    registration_id: str
    via: Via
    reason: str | None = None  # by hand only


@dataclass(frozen=True)
class Waitlisted:
    registration_id: str
    position: int
    previous_position: int | None
    reason: str | None = None  # by hand only


@dataclass(frozen=True)
class Shift:
    """How a waitlist closes up or makes room: positions lo..hi (hi None: to the end) move by delta."""

    lo: int
    hi: int | None
    delta: int


def shift_for_leaving(position: int) -> Shift:
    """A trio at `position` leaves: everyone behind it moves up one."""
    return Shift(position + 1, None, -1)


def shift_for_move(old: int, new: int) -> Shift:
    """A trio moves from `old` to `new`: the trios in between make room (back one when it moves ahead)."""
    return Shift(new, old - 1, 1) if new < old else Shift(old + 1, new, -1)


Problem = tuple[str, str, str]  # (field, code, Dutch message), as in ErrorItem


@dataclass(frozen=True)
class Released:
    registration_id: str
    reason: str


Outcome = Placed | Waitlisted | Released


@dataclass
class Edition:
    slug: str
    title: str
    venue: dict[str, str]
    min_trios: int
    max_trios: int
    registration_deadline: datetime
    registration_closes_at: datetime
    fee: dict[str, Any]
    priority_size_classes: list[str]
    table_size: int
    sessions: list[Session]
    allocated_at: datetime | None = None
    undersubscribed: bool | None = None
    # While registration is stopped (StopRegistration; or closed early by CloseRegistration before it allocated
    # without closing): the closing moment it was scheduled for, until which ReopenRegistration can open it again.
    planned_closes_at: datetime | None = None
    publish_reports_at_once: bool = False  # carried to reporting in EditionScheduled; scheduling does not use it
    placements: list[Placement] = field(default_factory=list)
    waitlist: list[WaitEntry] = field(default_factory=list)

    def session(self, number: int) -> Session | None:
        return next((s for s in self.sessions if s.number == number), None)

    def registration_open(self, now: datetime) -> bool:
        return now < self.registration_closes_at

    @property
    def first_start(self) -> datetime:
        return min(s.starts_at for s in self.sessions)

    def promotion_open(self, now: datetime) -> bool:
        """Places are filled (directly or from the waitlist) only until the first session starts."""
        return now < self.first_start

    def allocation_due(self, now: datetime) -> bool:
        return self.allocated_at is None and self.registration_deadline <= now

    @property
    def places_left(self) -> int:
        return max(self.max_trios - len(self.placements), 0)

    @property
    def placed_ids(self) -> list[str]:
        return [p.registration_id for p in sorted(self.placements, key=lambda p: p.slot)]

    @property
    def waitlisted_ids(self) -> list[str]:
        return [w.registration_id for w in self.waitlist]

    def holds(self, registration_id: str) -> bool:
        return registration_id in self.placed_ids or registration_id in self.waitlisted_ids

    def allocate(self, pool: list[Trio], now: datetime) -> list[Outcome]:
        """The allocation at the deadline: the places left (all, unless an organiser placed trios by hand before
        it) go to the first trios in rank order, the rest are waitlisted in that order."""
        waiting = (t for t in pool if not self.holds(t.registration_id))
        ordered = sorted(waiting, key=lambda t: rank(t.priority, t.registered_at, t.registration_id))
        free = self.places_left
        outcomes: list[Outcome] = []
        for trio in ordered[:free]:
            outcomes.append(self._place(trio.registration_id, "allocation", trio.priority, trio.registered_at, now))
        for trio in ordered[free:]:
            self.waitlist.append(WaitEntry(trio.registration_id, 0, trio.priority, trio.registered_at, now))
        outcomes.extend(self._renumber({}))
        self.allocated_at = now
        self.undersubscribed = len(self.placements) < self.min_trios
        return outcomes

    def has_room(self, placed: int, now: datetime) -> bool:
        """Whether the next trio in line gets a place at once: after the allocation, while places are left and
        the first session has not started. `placed` is how many trios hold a place."""
        return self.allocated_at is not None and placed < self.max_trios and self.promotion_open(now)

    def release(self, registration_id: str, reason: str, now: datetime) -> list[Outcome]:
        """A trio leaves: its place (if any) is released and filled from the waitlist; positions close up."""
        before = self._positions()
        outcomes: list[Outcome] = []
        if any(p.registration_id == registration_id for p in self.placements):
            self.placements = [p for p in self.placements if p.registration_id != registration_id]
            outcomes.append(Released(registration_id, reason))
        self.waitlist = [w for w in self.waitlist if w.registration_id != registration_id]
        return outcomes + self._fill(now, before)

    def resize(self, min_trios: int, max_trios: int, now: datetime) -> list[Outcome]:
        """New capacity; more places after the allocation are filled from the waitlist."""
        self.min_trios, self.max_trios = min_trios, max_trios
        if self.allocated_at is None:
            return []
        return self._fill(now, self._positions())

    def allocation_problem(self) -> Problem | None:
        """Why CloseRegistration cannot allocate now."""
        if self.allocated_at is not None:
            return ("edition", "already_allocated", "De plaatsen van deze editie zijn al verdeeld.")
        return None

    def allocate_now(self, now: datetime) -> None:
        """CloseRegistration: the allocation moment comes now if it had not yet. Registration stays open until
        registration_closes_at, so trios approved later still reach a free place or the waitlist."""
        self.registration_deadline = min(self.registration_deadline, now)

    def stop_problem(self, now: datetime) -> Problem | None:
        if not self.registration_open(now):
            return ("edition", "edition_closed", "De aanmelding voor deze editie is al gesloten.")
        return None

    def stop_now(self, now: datetime) -> None:
        """StopRegistration: registration stops now; ReopenRegistration can undo it until the moment it was
        scheduled to close."""
        self.planned_closes_at = self.registration_closes_at
        self.registration_closes_at = now

    def reopen_problem(self, now: datetime) -> Problem | None:
        if self.registration_open(now):
            return ("edition", "not_closed", "De aanmelding voor deze editie is nog open.")
        if self.planned_closes_at is None or self.planned_closes_at <= now:
            return (
                "edition",
                "deadline_passed",
                "De aanmeldtermijn van deze editie is voorbij; de aanmelding kan niet meer open.",
            )
        return None

    def reopen(self) -> None:
        """Open again until the closing moment as scheduled. An allocation that ran meanwhile stands: trios
        approved from now on are placed while places are left, and waitlisted after that."""
        assert self.planned_closes_at is not None
        self.registration_closes_at, self.planned_closes_at = self.planned_closes_at, None

    def reopen_until(self, now: datetime) -> datetime | None:
        """Until when ReopenRegistration would succeed; None when it would be refused."""
        return None if self.reopen_problem(now) else self.planned_closes_at

    def hand_placement_problem(self, now: datetime) -> Problem | None:
        """Why an organiser cannot give a trio a place now. Unlike the automatic filling (which stops when the
        first session starts), a place by hand can be given while any session is still to come."""
        if all(s.starts_at <= now for s in self.sessions):
            return (
                "edition",
                "sessions_over",
                "Alle bijeenkomsten van deze editie zijn al begonnen; er valt geen plaats meer te geven.",
            )
        if len(self.placements) >= self.max_trios:
            return (
                "edition",
                "edition_full",
                f"Alle {self.max_trios} plaatsen van deze editie zijn bezet. Maak eerst een plaats vrij of verhoog "
                "het maximum aantal trio's (dan krijgt de eerste op de wachtlijst de nieuwe plaats).",
            )
        return None

    def place_by_hand(self, trio: Trio, via: Via, reason: str, now: datetime) -> Placed:
        """Give a trio a place on an organiser's word (hand_placement_problem must be None). The caller takes it
        off the waitlist, if it was there."""
        placed = self._place(trio.registration_id, via, trio.priority, trio.registered_at, now)
        self.placements[-1].hand_reason = reason
        return Placed(placed.registration_id, placed.via, reason)

    def placement(self, registration_id: str) -> Placement | None:
        return next((p for p in self.placements if p.registration_id == registration_id), None)

    def _fill(self, now: datetime, before: dict[str, int]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        while self.waitlist and self.has_room(len(self.placements), now):
            head = self.waitlist.pop(0)
            outcomes.append(self._place(head.registration_id, "waitlist", head.priority, head.registered_at, now))
            before.pop(head.registration_id, None)
        return outcomes + self._renumber(before)

    def _place(self, registration_id: str, via: Via, priority: bool, registered_at: datetime, now: datetime) -> Placed:
        taken = {p.slot for p in self.placements}
        slot = next(n for n in range(1, self.max_trios + len(taken) + 2) if n not in taken)
        self.placements.append(Placement(registration_id, slot, via, priority, registered_at, now))
        return Placed(registration_id, via)

    def _positions(self) -> dict[str, int]:
        return {w.registration_id: w.position for w in self.waitlist}

    def _renumber(self, before: dict[str, int]) -> list[Outcome]:
        """Positions 1..n in list order (rank order, but for trios moved by hand); every trio whose position is
        new or changed is announced."""
        outcomes: list[Outcome] = []
        for position, entry in enumerate(self.waitlist, start=1):
            entry.position = position
            previous = before.get(entry.registration_id)
            if previous != position:
                outcomes.append(Waitlisted(entry.registration_id, position, previous))
        return outcomes


def schedule_problems(
    sessions: list[Session], min_trios: int, max_trios: int, closes_at: datetime, deadline: datetime
) -> list[tuple[str, str, str]]:
    """(field, code, Dutch message) for each inconsistency in an edition's plan."""
    problems: list[tuple[str, str, str]] = []
    if min_trios > max_trios:
        problems.append(
            ("capacity.min_trios", "capacity_inverted", "Het minimum aantal trio's is groter dan het maximum.")
        )
    numbers = [s.number for s in sessions]
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        problems.append(("sessions", "session_numbers", "Nummer de bijeenkomsten 1, 2, 3, ... zonder gaten."))
    for index, s in enumerate(sessions):
        if s.ends_at <= s.starts_at:
            problems.append(
                (f"sessions[{index}].ends_at", "session_ends_before_start", "De bijeenkomst eindigt voordat ze begint.")
            )
    first = min((s.starts_at for s in sessions), default=None)
    if first is not None and deadline > first:
        problems.append(
            (
                "registration_deadline",
                "deadline_after_start",
                "De aanmeldtermijn moet sluiten voor de eerste bijeenkomst.",
            )
        )
    if closes_at < deadline:
        problems.append(
            (
                "registration_closes_at",
                "closes_before_deadline",
                "De aanmelding kan niet sluiten voor het moment van plaatsing (registration_deadline).",
            )
        )
    return problems


def sessions_moved_into_past(edition: Edition, sessions: list[Session], now: datetime) -> list[Problem]:
    """An update of the edition may not put a session (a new one, or one whose time changes) in the past. A held
    session that keeps its time is fine."""
    problems: list[Problem] = []
    for index, s in enumerate(sessions):
        old = edition.session(s.number)
        moved = old is None or (old.starts_at, old.ends_at) != (s.starts_at, s.ends_at)
        if moved and s.starts_at <= now:
            problems.append((f"sessions[{index}].starts_at", "session_in_past", SESSION_IN_PAST))
    return problems


SESSION_IN_PAST = "Een bijeenkomst kan niet naar een moment in het verleden worden verplaatst."
