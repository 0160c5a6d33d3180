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
    # The seating plan: one list of registration_ids per table, table 1 first.
    tables: list[list[str]] | None = None


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

    @property
    def reason(self) -> str:
        return reason_text(self.priority, self.registered_at)


@dataclass
class WaitEntry:
    registration_id: str
    position: int
    priority: bool
    registered_at: datetime
    since: datetime

    @property
    def rank(self) -> tuple[bool, datetime, str]:
        return rank(self.priority, self.registered_at, self.registration_id)

    @property
    def reason(self) -> str:
        return reason_text(self.priority, self.registered_at)


def reason_text(priority: bool, registered_at: datetime) -> str:
    """For organisers: why a trio is where it is in the order."""
    group = "voorrangsgroep" if priority else "overige aanmeldingen"
    return f"{group}, aangemeld op {registered_at.isoformat()}"


@dataclass(frozen=True)
class Placed:
    registration_id: str
    via: Via


@dataclass(frozen=True)
class Waitlisted:
    registration_id: str
    position: int
    previous_position: int | None


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
        """The allocation at the deadline: the first max_trios in rank order placed, the rest waitlisted in order."""
        ordered = sorted(pool, key=lambda t: rank(t.priority, t.registered_at, t.registration_id))
        outcomes: list[Outcome] = []
        for trio in ordered[: self.max_trios]:
            outcomes.append(self._place(trio.registration_id, "allocation", trio.priority, trio.registered_at, now))
        for trio in ordered[self.max_trios :]:
            self.waitlist.append(WaitEntry(trio.registration_id, 0, trio.priority, trio.registered_at, now))
        outcomes.extend(self._renumber({}))
        self.allocated_at = now
        self.undersubscribed = len(self.placements) < self.min_trios
        return outcomes

    def admit(self, trio: Trio, now: datetime) -> list[Outcome]:
        """A trio approved after the allocation: a free place at once, otherwise the waitlist in rank order."""
        if self.allocated_at is None or self.holds(trio.registration_id):
            return []
        if self.places_left > 0 and self.promotion_open(now):
            return [self._place(trio.registration_id, "direct", trio.priority, trio.registered_at, now)]
        before = self._positions()
        self.waitlist.append(WaitEntry(trio.registration_id, 0, trio.priority, trio.registered_at, now))
        return self._renumber(before)

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

    def _fill(self, now: datetime, before: dict[str, int]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        while self.places_left > 0 and self.waitlist and self.promotion_open(now):
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
        """Positions 1..n in rank order; every trio whose position is new or changed is announced."""
        self.waitlist.sort(key=lambda w: w.rank)
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
