"""Scheduling rules: editions, their sessions and places. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
    placed: list[str] = field(default_factory=list)

    def session(self, number: int) -> Session | None:
        return next((s for s in self.sessions if s.number == number), None)

    def registration_open(self, now: datetime) -> bool:
        return now < self.registration_closes_at

    @property
    def places_left(self) -> int:
        return max(self.max_trios - len(self.placed), 0)


def schedule_problems(sessions: list[Session], min_trios: int, max_trios: int,
                      closes_at: datetime, deadline: datetime) -> list[tuple[str, str, str]]:
    """(field, code, Dutch message) for each inconsistency in an edition's plan."""
    problems: list[tuple[str, str, str]] = []
    if min_trios > max_trios:
        problems.append(("capacity.min_trios", "capacity_inverted",
                         "Het minimum aantal trio's is groter dan het maximum."))
    numbers = [s.number for s in sessions]
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        problems.append(("sessions", "session_numbers", "Nummer de bijeenkomsten 1, 2, 3, ... zonder gaten."))
    for index, s in enumerate(sessions):
        if s.ends_at <= s.starts_at:
            problems.append((f"sessions[{index}].ends_at", "session_ends_before_start",
                             "De bijeenkomst eindigt voordat ze begint."))
    first = min((s.starts_at for s in sessions), default=None)
    if first is not None and deadline > first:
        problems.append(("registration_deadline", "deadline_after_start",
                         "De aanmeldtermijn moet sluiten voor de eerste bijeenkomst."))
    if closes_at < deadline:
        problems.append(("registration_closes_at", "closes_before_deadline",
                         "De aanmelding kan niet sluiten voor het moment van plaatsing (registration_deadline)."))
    return problems
