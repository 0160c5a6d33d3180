"""In-memory stand-ins for scheduling's repositories (the handlers' ports), over one dict of editions, so the
handlers' unit tests see the edition as the SQL store would leave it."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime

from services.scheduling.domain import Edition, Placement, Via, WaitEntry, Waitlisted


class FakeEditions:
    def __init__(self) -> None:
        self.rows: dict[str, Edition] = {}

    async def get(
        self, slug: str, *, for_update: bool = False, waitlist: bool = True, places: bool = True
    ) -> Edition | None:
        edition = copy.deepcopy(self.rows.get(slug))
        if edition is not None and not places:
            # As the store does: neither read, and such an edition is not saved.
            edition.placements, edition.waitlist = [], []
        return edition

    async def lock(self, slug: str) -> bool:
        return slug in self.rows

    async def save(self, edition: Edition) -> None:
        self.rows[edition.slug] = copy.deepcopy(edition)


class FakePlaces:
    def __init__(self, editions: FakeEditions) -> None:
        self.editions = editions

    async def count(self, edition: str) -> int:
        return len(self.editions.rows[edition].placements)

    async def holds(self, edition: str, registration_id: str) -> bool:
        return self.editions.rows[edition].holds(registration_id)

    async def add(
        self, edition: str, registration_id: str, via: Via, priority: bool, registered_at: datetime, now: datetime
    ) -> int:
        placements = self.editions.rows[edition].placements
        taken = {p.slot for p in placements}
        slot = next(n for n in range(1, len(taken) + 2) if n not in taken)
        placements.append(Placement(registration_id, slot, via, priority, registered_at, now))
        return slot


class FakeWaitlist:
    """The waitlist's rules as SqlWaitlist applies them, on the in-memory list."""

    def __init__(self, editions: FakeEditions) -> None:
        self.editions = editions

    async def entry(self, edition: str, registration_id: str) -> WaitEntry | None:
        found = next((w for w in self.editions.rows[edition].waitlist if w.registration_id == registration_id), None)
        return copy.deepcopy(found)

    async def length(self, edition: str) -> int:
        return len(self.editions.rows[edition].waitlist)

    async def join(self, edition: str, entry: WaitEntry) -> list[Waitlisted]:
        waiting = self.editions.rows[edition].waitlist
        index = next((i for i, w in enumerate(waiting) if w.hand_reason is None and w.rank > entry.rank), len(waiting))
        before = {w.registration_id: w.position for w in waiting}
        waiting.insert(index, copy.deepcopy(entry))
        moved = []
        for position, w in enumerate(waiting, start=1):
            w.position = position
            if before.get(w.registration_id) != position:
                moved.append(Waitlisted(w.registration_id, position, before.get(w.registration_id)))
        return moved

    async def leave(self, edition: str, entry: WaitEntry) -> list[Waitlisted]:
        raise NotImplementedError("moves by hand are tested on SQLite: tests/unit/test_scheduling_by_hand.py")

    async def move(self, edition: str, entry: WaitEntry, position: int, reason: str) -> list[Waitlisted]:
        raise NotImplementedError("moves by hand are tested on SQLite: tests/unit/test_scheduling_by_hand.py")


class FakeSeats:
    def __init__(self) -> None:
        # (edition, session_number) -> registration_id -> table number
        self.seats: dict[tuple[str, int], dict[str, int]] = {}
        self.tables: dict[tuple[str, int], set[int]] = {}

    async def plan(self, edition: str, session_number: int) -> dict[int, list[str]]:
        tables: dict[int, list[str]] = {}
        for rid, number in sorted(self.seats.get((edition, session_number), {}).items()):
            tables.setdefault(number, []).append(rid)
        return dict(sorted(tables.items()))

    async def with_room(
        self, edition: str, sessions: Sequence[int], table_size: int
    ) -> dict[int, tuple[dict[int, list[str]], int]]:
        rooms = {}
        for number in sessions:
            plan = await self.plan(edition, number)
            tables = self.tables.get((edition, number), set())
            room = {n: plan.get(n, []) for n in sorted(tables) if len(plan.get(n, [])) < table_size}
            rooms[number] = (room, max(tables, default=0) + 1)
        return rooms

    async def seat(self, edition: str, registration_id: str, seats: Sequence[tuple[int, int]]) -> None:
        for session_number, number in seats:
            assert registration_id not in self.seats.setdefault((edition, session_number), {})
            self.seats[(edition, session_number)][registration_id] = number
            self.tables.setdefault((edition, session_number), set()).add(number)

    async def unseat(self, edition: str, registration_id: str, sessions: Sequence[int]) -> None:
        for session_number in sessions:
            self.seats.get((edition, session_number), {}).pop(registration_id, None)

    async def replace(self, edition: str, session_number: int, tables: list[list[str]]) -> None:
        key = (edition, session_number)
        self.seats[key] = {rid: n for n, table in enumerate(tables, start=1) for rid in table}
        self.tables[key] = set(range(1, len(tables) + 1))

    async def forget(self, edition: str, sessions: Sequence[int]) -> None:
        for session_number in sessions:
            self.seats.pop((edition, session_number), None)
            self.tables.pop((edition, session_number), None)

    async def sessions(self, edition: str) -> set[int]:
        return {number for (slug, number) in self.tables if slug == edition}

    def tables_of(self, edition: str, session_number: int) -> list[list[str]]:
        """The session's tables in number order, empty ones left out."""
        tables: dict[int, list[str]] = {}
        for rid, number in self.seats.get((edition, session_number), {}).items():
            tables.setdefault(number, []).append(rid)
        return [sorted(tables[n]) for n in sorted(tables)]
