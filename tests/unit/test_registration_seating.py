"""Registration's copy of the seating, a seat per trio and session: whole plans (scheduling.SeatingPlanned) and one
trio seated on its own (scheduling.TrioSeated), the newer fact winning whichever arrives first, and the history
lines they leave. The rules (services/registration/seating.py) directly and through the handlers with an in-memory
seating that applies them as the store does."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import pytest

from services.registration import handlers
from services.registration.seating import Seat, plan_change, trio_seat_change
from shared.contract.scheduling import SeatingPlanned, TrioSeated
from tests.unit.test_registration_handlers import EDITION, NOW, FakeHistory, Trio, trio


class FakeSeating:
    """The store's seats and plan times in memory, changed by the same rules as adapters/copies.py SqlSeating."""

    def __init__(self) -> None:
        self.seats: dict[tuple[str, int], tuple[str, Seat]] = {}  # (registration id, session) -> (edition, seat)
        self.planned_at: dict[tuple[str, int], datetime | None] = {}  # (edition, session) -> last whole plan

    async def plan_session(
        self, edition: str, session_number: int, tables: Mapping[str, int], planned_at: datetime
    ) -> dict[str, int]:
        last = self.planned_at.get((edition, session_number))
        if last is not None and last >= planned_at:
            return {}
        self.planned_at[(edition, session_number)] = planned_at
        stored = {rid: seat for (rid, n), (e, seat) in self.seats.items() if e == edition and n == session_number}
        change = plan_change(stored, tables, planned_at)
        for rid, table in change.seats.items():
            self.seats[(rid, session_number)] = (edition, Seat(table, planned_at))
        for rid in change.released:
            del self.seats[(rid, session_number)]
        return change.seats

    async def seat_trio(
        self, edition: str, registration_id: str, tables: Mapping[int, int], seated_at: datetime
    ) -> dict[int, int]:
        for n in tables:
            self.planned_at.setdefault((edition, n), None)
        stored = {n: seat for (rid, n), (_, seat) in self.seats.items() if rid == registration_id}
        planned = {n: self.planned_at[(edition, n)] for n in tables}
        change = trio_seat_change(stored, planned, tables, seated_at)
        for n, table in change.seats.items():
            self.seats[(registration_id, n)] = (edition, Seat(table, seated_at))
        return change.changed

    async def tables_of(self, edition: str, registration_id: str) -> dict[int, int]:
        return {n: seat.table for (rid, n), (e, seat) in self.seats.items() if rid == registration_id and e == edition}


class Seated:
    """Two registered trios, their seating and their history."""

    def __init__(self) -> None:
        self.trio = Trio()
        self.seating, self.history = FakeSeating(), FakeHistory()

    async def register_two(self) -> tuple[str, str]:
        first = await self.trio.register()
        second = await self.trio.register(trio(members=[{**m, "email": "2" + m["email"]} for m in trio()["members"]]))
        return first, second

    async def plan(self, *tables: list[str], minutes: int, session_number: int = 1) -> None:
        event = SeatingPlanned(
            edition=EDITION,
            session_number=session_number,
            tables=[{"table": n, "registration_ids": ids} for n, ids in enumerate(tables, 1)],
        )
        await handlers.follow_seating(event, **self.deps, occurred_at=NOW + timedelta(minutes=minutes))

    async def seat(self, registration_id: str, *seats: tuple[int, int], minutes: int) -> None:
        event = TrioSeated(
            edition=EDITION,
            registration_id=registration_id,
            seats=[{"session_number": n, "table": table} for n, table in seats],
        )
        await handlers.follow_trio_seats(event, **self.deps, occurred_at=NOW + timedelta(minutes=minutes))

    @property
    def deps(self) -> dict[str, object]:
        return {"seating": self.seating, "registrations": self.trio.registrations, "history": self.history}

    def lines(self) -> list[tuple[str, str, str]]:
        return [(e.registration_id, e.event, e.summary) for e in self.history.entries]


async def test_a_replan_tells_only_the_trios_whose_table_changed() -> None:
    s = Seated()
    first, second = await s.register_two()

    await s.plan([first, "not-ours"], minutes=0)
    await s.plan([first], [second], minutes=1)
    await s.plan([second], [first], minutes=2)

    assert [(rid, summary) for rid, _, summary in s.lines()] == [
        (first, "Tafel 1 bij bijeenkomst 1"),
        (second, "Tafel 2 bij bijeenkomst 1"),
        (second, "Tafel 1 bij bijeenkomst 1"),
        (first, "Tafel 2 bij bijeenkomst 1"),
    ]
    assert await s.seating.tables_of(EDITION, first) == {1: 2}


async def test_a_trio_seated_after_the_plan_gets_its_tables_and_a_line_per_session_the_others_keep_theirs() -> None:
    s = Seated()
    first, second = await s.register_two()
    await s.plan([first], minutes=0, session_number=1)
    await s.plan([first], minutes=0, session_number=2)

    await s.seat(second, (1, 1), (2, 2), minutes=1)

    assert await s.seating.tables_of(EDITION, second) == {1: 1, 2: 2}
    assert await s.seating.tables_of(EDITION, first) == {1: 1, 2: 1}
    assert s.lines()[2:] == [
        (second, "scheduling.TrioSeated", "Tafel 1 bij bijeenkomst 1"),
        (second, "scheduling.TrioSeated", "Tafel 2 bij bijeenkomst 2"),
    ]


async def test_a_trio_seated_again_gets_a_line_only_for_the_session_whose_table_changed() -> None:
    s = Seated()
    first, _ = await s.register_two()
    await s.seat(first, (1, 1), (2, 2), minutes=1)
    await s.seat(first, (1, 1), (2, 3), minutes=2)
    assert [summary for _, _, summary in s.lines()] == [
        "Tafel 1 bij bijeenkomst 1",
        "Tafel 2 bij bijeenkomst 2",
        "Tafel 3 bij bijeenkomst 2",
    ]


async def test_a_trio_the_newest_plan_leaves_out_loses_its_seat_in_that_session_only() -> None:
    s = Seated()
    first, second = await s.register_two()
    await s.plan([first, second], minutes=0, session_number=1)
    await s.plan([first, second], minutes=0, session_number=2)
    await s.plan([first], minutes=1, session_number=2)  # the second trio was released
    assert await s.seating.tables_of(EDITION, second) == {1: 1}
    assert await s.seating.tables_of(EDITION, first) == {1: 1, 2: 1}


@pytest.mark.parametrize("plan_first", [True, False])
async def test_the_newer_of_a_trios_seats_and_a_whole_plan_wins_whichever_arrives_first(plan_first: bool) -> None:
    s = Seated()
    first, second = await s.register_two()
    await s.plan([first], minutes=0)

    async def newer_plan() -> None:
        await s.plan([first], [second], minutes=2)

    async def older_seat() -> None:
        await s.seat(second, (1, 1), minutes=1)

    for arrives in (newer_plan, older_seat) if plan_first else (older_seat, newer_plan):
        await arrives()
    assert await s.seating.tables_of(EDITION, second) == {1: 2}

    await s.seat(second, (1, 5), minutes=3)
    await s.plan([second], [first], minutes=2)  # an older plan delivered late: no longer the newest
    assert await s.seating.tables_of(EDITION, second) == {1: 5}
    assert s.lines()[-1] == (second, "scheduling.TrioSeated", "Tafel 5 bij bijeenkomst 1")


# The rules themselves

AT = NOW + timedelta(minutes=10)


def test_a_plan_writes_only_new_and_changed_seats_decided_before_it_and_releases_the_trios_it_leaves_out() -> None:
    stored = {
        "same": Seat(1, NOW),
        "moved": Seat(1, NOW),
        "gone": Seat(2, NOW),
        "seated-after-the-plan": Seat(3, AT + timedelta(seconds=1)),
    }
    change = plan_change(stored, {"same": 1, "moved": 2, "new": 2, "seated-after-the-plan": 1}, AT)
    assert change.seats == {"moved": 2, "new": 2}
    assert change.released == ["gone"]


def test_a_plan_keeps_a_trio_it_leaves_out_that_was_seated_after_it() -> None:
    assert plan_change({"later": Seat(3, AT + timedelta(seconds=1))}, {}, AT).released == []


def test_a_trios_seat_in_a_session_planned_whole_after_it_is_ignored() -> None:
    change = trio_seat_change({}, {1: AT + timedelta(seconds=1), 2: NOW, 3: None}, {1: 4, 2: 5, 3: 6, 4: 7}, AT)
    assert change.seats == change.changed == {2: 5, 3: 6, 4: 7}


def test_a_trios_seat_confirmed_later_is_stored_again_so_an_older_plan_delivered_after_it_does_not_move_it() -> None:
    confirmed = trio_seat_change({1: Seat(4, NOW)}, {1: None}, {1: 4}, AT)
    assert (confirmed.seats, confirmed.changed) == ({1: 4}, {})
    # Stored with AT, the seat is newer than a plan decided in between:
    between = AT - timedelta(minutes=1)
    assert plan_change({"trio": Seat(4, AT)}, {"trio": 9}, between).seats == {}


def test_an_older_seat_of_the_trio_changes_nothing() -> None:
    change = trio_seat_change({1: Seat(4, AT)}, {1: None}, {1: 5}, AT - timedelta(seconds=1))
    assert (change.seats, change.changed) == ({}, {})
