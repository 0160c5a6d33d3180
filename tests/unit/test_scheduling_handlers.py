"""Scheduling handlers, driven with in-memory fakes."""

from __future__ import annotations

import inspect
import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.scheduling import handlers
from services.scheduling.domain import Edition, Trio
from services.scheduling.seed import load_programme, moved_into_future
from shared.contract import EventData
from shared.contract.common import Domain, Language, Role
from shared.contract.registration import (
    Case,
    Consent,
    Fee,
    MunicipalityInfo,
    RegisteredMember,
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.scheduling import (
    AttendanceRecorded,
    Capacity,
    CloseRegistration,
    CompleteSession,
    EditionScheduled,
    PlaceReleased,
    PlanSeating,
    RecordAttendance,
    RegistrationClosed,
    RegistrationStopped,
    ReopenRegistration,
    RescheduleSession,
    ScheduleEdition,
    SeatingPlanned,
    SessionCompleted,
    SessionRescheduled,
    StopRegistration,
    TrioPlaced,
    TrioSeated,
    TrioWaitlisted,
)
from shared.messaging.messages import CommandRefused, NotYetKnown
from tests.unit.scheduling_fakes import FakeEditions, FakePlaces, FakeSeats, FakeWaitlist

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


class FakeRegistrations:
    def __init__(self) -> None:
        self.copies: dict[str, tuple[str, Trio]] = {}
        self.statuses: dict[str, tuple[str, str]] = {}

    async def add(self, edition: str, trio: Trio) -> None:
        self.copies.setdefault(trio.registration_id, (edition, trio))

    async def trio(self, registration_id: str) -> Trio | None:
        found = self.copies.get(registration_id)
        return found[1] if found else None

    async def trios(self, registration_ids: list[str]) -> dict[str, Trio]:
        return {r: self.copies[r][1] for r in registration_ids if r in self.copies}

    async def status(self, registration_id: str) -> str | None:
        found = self.statuses.get(registration_id)
        return found[1] if found else None

    async def set_status(self, registration_id: str, edition: str, status: str, at: datetime) -> None:
        self.statuses[registration_id] = (edition, status)

    async def pool(self, edition: str) -> list[Trio]:
        return [
            trio
            for rid, (ed, trio) in self.copies.items()
            if ed == edition and self.statuses.get(rid) == (edition, "approved")
        ]

    async def of_edition(self, edition: str) -> set[str]:
        return {rid for rid, (ed, _) in self.copies.items() if ed == edition}

    async def edition(self, registration_id: str) -> str | None:
        found = self.copies.get(registration_id)
        return found[0] if found else None

    async def municipalities(self, registration_ids: list[str]) -> dict[str, str]:
        return {r: t.municipality for r, t in (await self.trios(registration_ids)).items()}


class World:
    """One edition, the fakes and everything emitted, with the clock in the test's hand."""

    def __init__(self, **changes: object) -> None:
        self.editions, self.registrations = FakeEditions(), FakeRegistrations()
        self.places, self.waitlist = FakePlaces(self.editions), FakeWaitlist(self.editions)
        self.seats = FakeSeats()
        self.emitted: list[EventData] = []
        self.command = seed_command(**changes)
        self.slug = self.command.edition
        self.registered_at = NOW

    @property
    def edition(self) -> Edition:
        return self.editions.rows[self.slug]

    @property
    def deadline(self) -> datetime:
        return self.edition.registration_deadline

    @property
    def first_start(self) -> datetime:
        return self.edition.first_start

    def deps(self, handler: Callable[..., object]) -> dict[str, object]:
        """What `handler` takes of the fakes and the emit."""
        wanted = inspect.signature(handler).parameters
        every = {
            "editions": self.editions,
            "registrations": self.registrations,
            "places": self.places,
            "waitlist": self.waitlist,
            "seats": self.seats,
            "emit": self.emitted.append,
        }
        return {name: dep for name, dep in every.items() if name in wanted}

    async def schedule(self, command: ScheduleEdition | None = None, now: datetime = NOW) -> None:
        await handlers.schedule_edition(command or self.command, **self.deps(handlers.schedule_edition), now=now)

    async def register(
        self,
        *,
        priority: bool = False,
        size_class: str = "klein",
        domains=("fysiek", "sociaal"),
        municipality: str | None = None,
        now: datetime = NOW,
    ) -> str:
        rid = str(uuid.uuid4())
        self.registered_at += timedelta(minutes=1)
        await handlers.remember_registration(
            trio_registered(
                self.slug,
                rid,
                self.registered_at,
                priority,
                size_class,
                domains,
                municipality or f"GM{len(self.registrations.copies):04d}",
            ),
            **self.deps(handlers.remember_registration),
            now=now,
        )
        return rid

    async def approve(self, rid: str, now: datetime = NOW) -> None:
        await handlers.registration_approved(
            RegistrationApproved(registration_id=rid, edition=self.slug, approved_at=now, by_organizer=True),
            **self.deps(handlers.registration_approved),
            now=now,
        )

    async def cancel(self, rid: str, now: datetime) -> None:
        await handlers.registration_left(
            RegistrationCancelled(registration_id=rid, edition=self.slug),
            **self.deps(handlers.registration_left),
            now=now,
        )

    async def decline(self, rid: str, now: datetime = NOW) -> None:
        await handlers.registration_left(
            RegistrationDeclined(registration_id=rid, edition=self.slug, declined_at=now, by_organizer=False),
            **self.deps(handlers.registration_left),
            now=now,
        )

    async def approved_trios(self, count: int, **kwargs: object) -> list[str]:
        ids = []
        for _ in range(count):
            rid = await self.register(**kwargs)
            await self.approve(rid)
            ids.append(rid)
        return ids

    async def allocate(self, now: datetime | None = None) -> bool:
        return await handlers.allocate_if_due(
            self.slug, **self.deps(handlers.allocate_if_due), now=now or self.deadline
        )

    def of(self, kind: type[EventData]) -> list:
        return [e for e in self.emitted if isinstance(e, kind)]

    def clear(self) -> None:
        self.emitted.clear()

    def positions(self) -> dict[str, int]:
        """The waitlist as the events tell it: the last announced position of each trio still waiting."""
        latest: dict[str, int] = {}
        for event in self.emitted:
            if isinstance(event, TrioWaitlisted):
                latest[event.registration_id] = event.position
            elif isinstance(event, TrioPlaced):
                latest.pop(event.registration_id, None)
        return latest


def seed_command(**changes: object) -> ScheduleEdition:
    command = moved_into_future(load_programme(), NOW)
    return command.model_copy(update=changes)


def trio_registered(
    edition: str,
    rid: str,
    registered_at: datetime,
    priority: bool,
    size_class: str,
    domains: tuple[str, ...],
    municipality: str,
) -> TrioRegistered:
    roles = [Role.wijkambtenaar, Role.sectorambtenaar, Role.sectorambtenaar]
    members = [
        RegisteredMember(
            member_id=f"{rid}-{i}",
            name=f"Lid {i}",
            email=f"lid{i}@gemeente.example",
            role=roles[i],
            domain=Domain(domains[i % len(domains)]),
            language=Language.nl,
        )
        for i in range(3)
    ]
    return TrioRegistered(
        registration_id=rid,
        edition=edition,
        registered_at=registered_at,
        municipality=MunicipalityInfo(
            code=municipality,
            name="Gemeente",
            province="Utrecht",
            inhabitants=50000,
            size_class=size_class,
            m50_member=False,
        ),
        members=members,
        case=Case(title="Casus", neighbourhood="Wijk", summary="Samenvatting", domains=["fysiek", "sociaal"]),
        fee=Fee(amount_cents=0, waived=True),
        priority=priority,
        preferred_domain_mix=True,
        consent=Consent(privacy=True),
        channel="web",
    )


# Editions


async def test_scheduling_an_edition_stores_it_and_announces_it_with_its_sessions() -> None:
    world = World()
    await world.schedule()
    (event,) = world.emitted
    assert isinstance(event, EditionScheduled)
    assert [s.title for s in event.sessions][1] == "Lokale agenda"
    assert event.registration_closes_at == event.sessions[0].starts_at  # default: the first session's start
    assert event.table_size == 2
    assert world.edition.places_left == 8


async def test_whether_reports_are_published_at_once_is_kept_and_announced_off_unless_the_organiser_says_so() -> None:
    world = World()
    await world.schedule()
    assert world.emitted[-1].publish_reports_at_once is False
    await world.schedule(world.command.model_copy(update={"publish_reports_at_once": True}))
    assert world.edition.publish_reports_at_once is True
    assert world.emitted[-1].publish_reports_at_once is True


async def test_edition_whose_deadline_falls_after_the_first_session_is_refused() -> None:
    command = seed_command()
    late = command.model_copy(update={"registration_deadline": command.sessions[0].starts_at + timedelta(days=1)})
    with pytest.raises(CommandRefused) as refused:
        await World().schedule(late)
    codes = [e.code for e in refused.value.errors]
    # Registration closes by default at the first session, so that one is before the deadline too.
    assert codes == ["deadline_after_start", "closes_before_deadline"]


async def test_edition_cannot_be_changed_once_registration_has_closed() -> None:
    world = World()
    await world.schedule()
    with pytest.raises(CommandRefused) as refused:
        await world.schedule(now=world.first_start + timedelta(hours=1))
    assert refused.value.errors[0].code == "edition_closed"


async def test_moving_a_session_raises_its_calendar_sequence() -> None:
    world = World()
    await world.schedule()
    sessions = [s.model_copy() for s in world.command.sessions]
    sessions[1] = sessions[1].model_copy(
        update={
            "starts_at": sessions[1].starts_at + timedelta(hours=1),
            "ends_at": sessions[1].ends_at + timedelta(hours=1),
        }
    )
    await world.schedule(world.command.model_copy(update={"sessions": sessions}))
    assert [s.sequence for s in world.edition.sessions] == [0, 1, 0]
    assert world.of(SessionRescheduled) == []  # nobody holds an invitation before the allocation


async def test_the_allocation_moment_cannot_move_once_places_are_allocated() -> None:
    world = World()
    await world.schedule()
    await world.allocate()
    later = world.command.model_copy(update={"registration_deadline": world.deadline + timedelta(days=1)})
    with pytest.raises(CommandRefused) as refused:
        await world.schedule(later, now=world.deadline + timedelta(hours=1))
    assert [e.code for e in refused.value.errors] == ["already_allocated"]


async def test_more_places_after_the_allocation_are_filled_from_the_waitlist() -> None:
    world = World()
    await world.schedule()
    ids = await world.approved_trios(10)
    await world.allocate()
    world.clear()
    bigger = world.command.model_copy(update={"capacity": Capacity(min_trios=6, max_trios=9)})
    await world.schedule(bigger, now=world.deadline + timedelta(hours=1))
    assert [(e.registration_id, e.via) for e in world.of(TrioPlaced)] == [(ids[8], "waitlist")]
    assert [(e.registration_id, e.position, e.previous_position) for e in world.of(TrioWaitlisted)] == [(ids[9], 1, 2)]


async def test_capacity_cannot_drop_below_the_trios_already_placed() -> None:
    world = World()
    await world.schedule()
    await world.approved_trios(8)
    await world.allocate()
    smaller = world.command.model_copy(update={"capacity": Capacity(min_trios=6, max_trios=7)})
    with pytest.raises(CommandRefused) as refused:
        await world.schedule(smaller, now=world.deadline + timedelta(hours=1))
    assert [(e.field, e.code) for e in refused.value.errors] == [("capacity.max_trios", "capacity_below_placed")]


async def test_an_edition_update_cannot_move_a_session_into_the_past() -> None:
    world = World()
    await world.schedule()
    sessions = [s.model_copy() for s in world.command.sessions]
    sessions[0] = sessions[0].model_copy(
        update={"starts_at": NOW - timedelta(hours=1), "ends_at": NOW + timedelta(hours=3)}
    )
    earlier = world.command.model_copy(update={"sessions": sessions, "registration_deadline": NOW - timedelta(days=1)})
    with pytest.raises(CommandRefused) as refused:
        await world.schedule(earlier, now=NOW)
    assert ("sessions[0].starts_at", "session_in_past") in [(e.field, e.code) for e in refused.value.errors]
    assert world.edition.sessions[0].starts_at == world.command.sessions[0].starts_at  # nothing changed


async def test_a_held_session_keeping_its_time_does_not_stop_an_update_of_the_edition() -> None:
    # Registration open until after the first session: the edition may still change, the held session stays.
    world = World()
    late_close = world.command.sessions[1].starts_at - timedelta(days=1)
    await world.schedule(world.command.model_copy(update={"registration_closes_at": late_close}))
    after_first = world.first_start + timedelta(days=1)
    renamed = world.command.model_copy(update={"title": "Nieuwe titel", "registration_closes_at": late_close})
    await world.schedule(renamed, now=after_first)
    assert world.edition.title == "Nieuwe titel"


async def test_a_session_cannot_be_rescheduled_into_the_past() -> None:
    world = World()
    await world.schedule()
    with pytest.raises(CommandRefused) as refused:
        await handlers.reschedule_session(
            RescheduleSession(
                edition=world.slug,
                session_number=2,
                starts_at=NOW - timedelta(days=1),
                ends_at=NOW - timedelta(days=1) + timedelta(hours=4),
            ),
            editions=world.editions,
            emit=world.emitted.append,
            now=NOW,
        )
    assert [(e.field, e.code) for e in refused.value.errors] == [("starts_at", "session_in_past")]


# Allocation


async def test_allocation_places_the_priority_group_first_then_by_registration_time() -> None:
    world = World()
    await world.schedule()
    others = await world.approved_trios(4, size_class="groot")
    priority = await world.approved_trios(6, priority=True, size_class="middelgroot")
    assert await world.allocate()
    expected_order = priority + others
    assert [(e.registration_id, e.via) for e in world.of(TrioPlaced)] == [(r, "allocation") for r in expected_order[:8]]
    assert [(e.registration_id, e.position) for e in world.of(TrioWaitlisted)] == [(others[2], 1), (others[3], 2)]
    (closed,) = world.of(RegistrationClosed)
    assert closed.placed == expected_order[:8] and closed.waitlisted == others[2:]
    assert closed.undersubscribed is False
    assert world.edition.places_left == 0


async def test_allocation_runs_once_however_often_the_deadline_timer_fires() -> None:
    world = World()
    await world.schedule()
    await world.approved_trios(3)
    assert not await world.allocate(now=world.deadline - timedelta(seconds=1))  # not yet
    assert await world.allocate()
    assert not await world.allocate()
    assert not await world.allocate(now=world.deadline + timedelta(days=1))
    assert len(world.of(RegistrationClosed)) == 1 and len(world.of(TrioPlaced)) == 3


async def test_fewer_trios_than_the_minimum_is_announced_as_undersubscribed() -> None:
    world = World()
    await world.schedule()
    await world.approved_trios(5)
    await world.allocate()
    (closed,) = world.of(RegistrationClosed)
    assert closed.undersubscribed is True and len(closed.placed) == 5 and closed.waitlisted == []


async def test_registrations_not_approved_at_the_deadline_are_not_placed() -> None:
    world = World()
    await world.schedule()
    approved = await world.approved_trios(2)
    waiting = await world.register()
    declined = await world.register()
    await world.decline(declined)
    await world.allocate()
    assert world.of(RegistrationClosed)[0].placed == approved
    assert waiting not in world.edition.placed_ids and declined not in world.edition.placed_ids


async def test_late_approval_gets_a_free_place_directly() -> None:
    world = World()
    await world.schedule()
    await world.approved_trios(6)
    late = await world.register()
    await world.allocate()
    world.clear()
    await world.approve(late, now=world.deadline + timedelta(days=1))
    assert [(e.registration_id, e.via) for e in world.of(TrioPlaced)] == [(late, "direct")]
    assert world.edition.places_left == 1


async def test_late_approvals_without_a_free_place_join_the_waitlist_in_priority_then_time_order() -> None:
    world = World()
    await world.schedule()
    await world.approved_trios(8)
    early_other, later_other = await world.register(), await world.register()
    priority = await world.register(priority=True)
    await world.allocate()
    after = world.deadline + timedelta(days=1)
    await world.approve(later_other, now=after)
    await world.approve(priority, now=after)
    await world.approve(early_other, now=after)
    assert world.positions() == {priority: 1, early_other: 2, later_other: 3}
    # Each move was announced with where the trio came from.
    moves = [(e.registration_id, e.previous_position, e.position) for e in world.of(TrioWaitlisted)]
    assert moves == [
        (later_other, None, 1),
        (priority, None, 1),
        (later_other, 1, 2),
        (early_other, None, 2),
        (later_other, 2, 3),
    ]


async def test_an_approval_that_overtakes_its_registration_is_kept_and_applied_when_the_registration_arrives() -> None:
    world = World()
    await world.schedule()
    await world.allocate()
    rid = str(uuid.uuid4())
    after = world.deadline + timedelta(hours=1)
    await world.approve(rid, now=after)
    assert world.of(TrioPlaced) == []
    await handlers.remember_registration(
        trio_registered(world.slug, rid, NOW, False, "klein", ("fysiek", "sociaal"), "GM0001"),
        **world.deps(handlers.remember_registration),
        now=after,
    )
    assert [(e.registration_id, e.via) for e in world.of(TrioPlaced)] == [(rid, "direct")]


async def test_an_approval_after_a_cancellation_does_not_bring_the_trio_back() -> None:
    world = World()
    await world.schedule()
    rid = await world.register()
    await world.cancel(rid, now=NOW)
    await world.approve(rid)
    await world.allocate()
    assert world.of(RegistrationClosed)[0].placed == []


async def test_a_placed_trio_that_cancels_frees_its_place_for_the_head_of_the_waitlist() -> None:
    world = World()
    await world.schedule()
    ids = await world.approved_trios(11)
    await world.allocate()
    world.clear()
    await world.cancel(ids[2], now=world.deadline + timedelta(days=1))
    (released,) = world.of(PlaceReleased)
    assert (released.registration_id, released.reason) == (ids[2], "cancelled")
    assert [(e.registration_id, e.via) for e in world.of(TrioPlaced)] == [(ids[8], "waitlist")]
    assert [(e.registration_id, e.position) for e in world.of(TrioWaitlisted)] == [(ids[9], 1), (ids[10], 2)]
    assert [w.position for w in world.edition.waitlist] == [1, 2]
    assert world.edition.places_left == 0


async def test_no_one_is_promoted_once_the_first_session_has_started() -> None:
    world = World()
    await world.schedule()
    ids = await world.approved_trios(10)
    await world.allocate()
    world.clear()
    await world.cancel(ids[0], now=world.first_start + timedelta(minutes=5))
    assert len(world.of(PlaceReleased)) == 1
    assert world.of(TrioPlaced) == [] and world.of(TrioWaitlisted) == []
    assert world.edition.places_left == 1 and world.edition.waitlisted_ids == ids[8:]


async def test_a_waitlisted_trio_that_leaves_closes_the_gap_and_only_moved_trios_are_told() -> None:
    world = World()
    await world.schedule()
    ids = await world.approved_trios(12)
    await world.allocate()
    world.clear()
    await world.cancel(ids[9], now=world.deadline + timedelta(hours=1))
    assert world.of(PlaceReleased) == []
    assert [(e.registration_id, e.position, e.previous_position) for e in world.of(TrioWaitlisted)] == [
        (ids[10], 2, 3),
        (ids[11], 3, 4),
    ]
    assert [(w.registration_id, w.position) for w in world.edition.waitlist] == [
        (ids[8], 1),
        (ids[10], 2),
        (ids[11], 3),
    ]


async def test_a_declined_registration_leaves_the_pool() -> None:
    world = World()
    await world.schedule()
    ids = await world.approved_trios(3)
    await world.decline(ids[1])
    await world.allocate()
    assert world.of(RegistrationClosed)[0].placed == [ids[0], ids[2]]


async def test_closing_registration_allocates_at_once_and_leaves_registration_open_for_late_trios() -> None:
    world = World()
    await world.schedule()
    ids = await world.approved_trios(2)
    world.clear()
    await handlers.close_registration(
        CloseRegistration(edition=world.slug), **world.deps(handlers.close_registration), now=NOW
    )
    (scheduled,) = world.of(EditionScheduled)
    # The allocation moment is now; registration closes when it was scheduled to (the first session's start).
    assert scheduled.registration_deadline == NOW and scheduled.registration_closes_at == world.first_start
    assert world.edition.registration_open(NOW + timedelta(days=1))
    assert world.of(RegistrationClosed)[0].placed == ids
    assert not await world.allocate(now=world.deadline + timedelta(days=1))
    with pytest.raises(CommandRefused) as refused:
        await handlers.close_registration(
            CloseRegistration(edition=world.slug), **world.deps(handlers.close_registration), now=NOW
        )
    assert refused.value.errors[0].code == "already_allocated"


async def test_a_trio_registering_and_approved_after_an_early_allocation_gets_a_free_place_or_the_waitlist() -> None:
    world = World(capacity=Capacity(min_trios=1, max_trios=2))
    await world.schedule()
    early = await world.approved_trios(1)
    await handlers.close_registration(
        CloseRegistration(edition=world.slug), **world.deps(handlers.close_registration), now=NOW
    )
    later = NOW + timedelta(days=2)
    late = [await world.register(now=later) for _ in range(3)]
    priority = await world.register(priority=True, now=later)
    for rid in [*late, priority]:
        await world.approve(rid, later)
    assert world.edition.placed_ids == [*early, late[0]]  # the free place at once
    # The rest waitlisted by the rule: the priority trio first, then by registration time.
    assert world.edition.waitlisted_ids == [priority, late[1], late[2]]


async def test_stopping_registration_refuses_new_trios_without_allocating_and_can_be_undone() -> None:
    world = World()
    await world.schedule()
    await world.approved_trios(2)
    world.clear()
    outcome = await handlers.stop_registration(
        StopRegistration(edition=world.slug, reason="De zaal is kleiner"),
        editions=world.editions,
        emit=world.emitted.append,
        now=NOW,
    )
    scheduled, stopped = world.emitted
    assert isinstance(scheduled, EditionScheduled) and scheduled.registration_closes_at == NOW
    assert isinstance(stopped, RegistrationStopped)
    assert (stopped.stopped_at, stopped.reopen_until, stopped.reason) == (NOW, world.first_start, "De zaal is kleiner")
    assert outcome["reopen_until"] == world.first_start.isoformat()
    assert world.of(RegistrationClosed) == [] and world.edition.allocated_at is None
    with pytest.raises(CommandRefused) as refused:
        await handlers.stop_registration(
            StopRegistration(edition=world.slug), editions=world.editions, emit=world.emitted.append, now=NOW
        )
    assert refused.value.errors[0].code == "edition_closed"
    # The deadline still allocates; reopening brings back the closing moment as scheduled.
    assert await world.allocate()
    await handlers.reopen_registration(
        ReopenRegistration(edition=world.slug), editions=world.editions, emit=world.emitted.append, now=world.deadline
    )
    assert world.edition.registration_closes_at == world.first_start


# Seating


async def test_eight_trios_in_pairs_meet_someone_new_at_every_session() -> None:
    world = World()
    await world.schedule()
    classes = ["klein", "middelgroot", "groot"]
    for i in range(8):
        rid = await world.register(size_class=classes[i % 3])
        await world.approve(rid)
    await world.allocate()
    plans = world.of(SeatingPlanned)
    assert [p.session_number for p in plans] == [1, 2, 3]
    pairs = [frozenset(t.registration_ids) for p in plans for t in p.tables]
    assert all(len(p) == 2 for p in pairs) and len(pairs) == len(set(pairs)) == 12


async def test_a_trio_that_leaves_gives_up_its_tables_to_come_and_every_other_trio_keeps_its_own() -> None:
    world = World()
    await world.schedule()
    ids = await world.approved_trios(8)
    await world.allocate()
    before = {n: world.seats.tables_of(world.slug, n) for n in (1, 2, 3)}
    world.clear()
    await world.cancel(ids[3], now=world.first_start + timedelta(hours=1))
    assert world.of(SeatingPlanned) == [] and world.of(TrioSeated) == []
    assert world.seats.tables_of(world.slug, 1) == before[1]  # the session held keeps its seating
    for n in (2, 3):
        without = [[rid for rid in table if rid != ids[3]] for table in before[n]]
        assert world.seats.tables_of(world.slug, n) == [table for table in without if table]


async def test_a_trio_placed_after_the_allocation_joins_a_table_with_room_and_nobody_else_moves() -> None:
    world = World(capacity=Capacity(min_trios=1, max_trios=12))
    await world.schedule()
    await world.approved_trios(7)
    await world.allocate()
    before = {n: world.seats.tables_of(world.slug, n) for n in (1, 2, 3)}
    assert all(sorted(len(t) for t in tables) == [1, 2, 2, 2] for tables in before.values())
    world.clear()
    late = await world.register(size_class="middelgroot")
    await world.approve(late, now=world.deadline)
    (seated,) = world.of(TrioSeated)
    assert world.of(SeatingPlanned) == []
    assert [s.session_number for s in seated.seats] == [1, 2, 3]
    for seat in seated.seats:
        tables = world.seats.tables_of(world.slug, seat.session_number)
        # It joined the trio sitting alone; the other tables are as they were.
        joined = next(t for t in tables if late in t)
        assert len(joined) == 2 and [t for t in tables if late not in t] == [
            t for t in before[seat.session_number] if len(t) == 2
        ]


async def test_an_organiser_has_every_session_to_come_planned_anew_for_all_placed_trios() -> None:
    world = World(capacity=Capacity(min_trios=1, max_trios=12))
    await world.schedule()
    await world.approved_trios(7)
    await world.allocate()
    late = await world.register()
    await world.approve(late, now=world.deadline)
    world.clear()
    outcome = await handlers.plan_seating_again(
        PlanSeating(edition=world.slug), **world.deps(handlers.plan_seating_again), now=world.deadline
    )
    plans = world.of(SeatingPlanned)
    assert outcome["sessions"] == [p.session_number for p in plans] and plans
    for plan in plans:
        assert sorted(len(t.registration_ids) for t in plan.tables) == [2, 2, 2, 2]
        assert world.seats.tables_of(world.slug, plan.session_number) == sorted(
            sorted(t.registration_ids) for t in plan.tables
        )
    pairs = [
        frozenset(p)
        for n in (1, 2, 3)
        for t in world.seats.tables_of(world.slug, n)
        for p in itertools.combinations(t, 2)
    ]
    assert len(pairs) == len(set(pairs))


async def test_seating_cannot_be_planned_anew_before_the_allocation() -> None:
    world = World()
    await world.schedule()
    with pytest.raises(CommandRefused) as refused:
        await handlers.plan_seating_again(
            PlanSeating(edition=world.slug), **world.deps(handlers.plan_seating_again), now=NOW
        )
    assert refused.value.errors[0].code == "not_allocated"


# Sessions


async def test_rescheduling_a_session_announces_old_and_new_times_with_a_higher_sequence() -> None:
    world = World()
    await world.schedule()
    session = world.edition.sessions[1]
    starts, ends = session.starts_at + timedelta(days=2), session.ends_at + timedelta(days=2)
    for shift in (0, 1):
        await handlers.reschedule_session(
            RescheduleSession(
                edition=world.slug,
                session_number=2,
                starts_at=starts + timedelta(hours=shift),
                ends_at=ends + timedelta(hours=shift),
            ),
            editions=world.editions,
            emit=world.emitted.append,
            now=NOW,
        )
    first, second = world.of(SessionRescheduled)
    assert (first.sequence, second.sequence) == (1, 2)
    assert (first.previous_starts_at, first.starts_at) == (session.starts_at, starts)
    assert second.previous_starts_at == starts


async def test_a_session_cannot_be_moved_to_end_before_it_starts() -> None:
    world = World()
    await world.schedule()
    session = world.edition.sessions[1]
    with pytest.raises(CommandRefused) as refused:
        await handlers.reschedule_session(
            RescheduleSession(
                edition=world.slug, session_number=2, starts_at=session.ends_at, ends_at=session.starts_at
            ),
            editions=world.editions,
            emit=[].append,
            now=NOW,
        )
    assert [(e.field, e.code) for e in refused.value.errors] == [("ends_at", "session_ends_before_start")]


async def test_attendance_of_a_held_session_is_recorded_and_counted_at_completion() -> None:
    world = World()
    await world.schedule()
    ids = await world.approved_trios(3)
    after = world.first_start + timedelta(hours=5)
    await handlers.record_attendance(
        RecordAttendance(edition=world.slug, session_number=1, present=ids),
        **world.deps(handlers.record_attendance),
        now=after,
    )
    (recorded,) = world.of(AttendanceRecorded)
    assert recorded.present == ids
    await handlers.complete_session(
        CompleteSession(edition=world.slug, session_number=1, notes={}),
        **world.deps(handlers.complete_session),
        now=after,
    )
    (completed,) = world.of(SessionCompleted)
    assert (completed.attendance.trios, completed.attendance.municipalities) == (3, 3)


async def test_attendance_names_only_registrations_of_the_edition() -> None:
    world = World()
    await world.schedule()
    (rid,) = await world.approved_trios(1)
    await world.registrations.add("andere-editie", Trio("of-another-edition", False, NOW))
    with pytest.raises(CommandRefused) as refused:
        await handlers.record_attendance(
            RecordAttendance(edition=world.slug, session_number=1, present=[rid, "of-another-edition"]),
            **world.deps(handlers.record_attendance),
            now=world.first_start + timedelta(hours=1),
        )
    assert [(e.field, e.code) for e in refused.value.errors] == [("present[1]", "unknown_registration")]


async def test_attendance_naming_a_trio_not_yet_announced_to_scheduling_waits_for_it() -> None:
    world = World()
    await world.schedule()
    (rid,) = await world.approved_trios(1)
    with pytest.raises(NotYetKnown) as not_yet:
        await handlers.record_attendance(
            RecordAttendance(edition=world.slug, session_number=1, present=[rid, "registered-a-moment-ago"]),
            **world.deps(handlers.record_attendance),
            now=world.first_start + timedelta(hours=1),
        )
    assert [(e.field, e.code) for e in not_yet.value.errors] == [("present[1]", "unknown_registration")]
    assert world.of(AttendanceRecorded) == []


async def test_attendance_cannot_be_recorded_before_the_session() -> None:
    world = World()
    await world.schedule()
    with pytest.raises(CommandRefused) as refused:
        await handlers.record_attendance(
            RecordAttendance(edition=world.slug, session_number=1, present=[]),
            **world.deps(handlers.record_attendance),
            now=NOW,
        )
    assert refused.value.errors[0].code == "not_started"


async def test_completing_a_held_session_publishes_notes_and_attendance() -> None:
    world = World()
    await world.schedule()
    world.edition.sessions[0].present = ["r1", "r2", "r3"]
    for rid, code in {"r1": "GM0345", "r2": "GM0345", "r3": "GM0344"}.items():
        await world.registrations.add(world.slug, Trio(rid, False, NOW, code))
    after = world.command.sessions[0].ends_at + timedelta(hours=2)
    notes = {"lessons": ["Begin bij de opgave van de wijk."], "instruments": [], "quotes": [], "next_steps": []}
    await handlers.complete_session(
        CompleteSession(edition=world.slug, session_number=1, notes=notes),
        **world.deps(handlers.complete_session),
        now=after,
    )
    (event,) = world.of(SessionCompleted)
    assert (event.attendance.trios, event.attendance.municipalities) == (3, 2)
    assert event.notes.lessons == ["Begin bij de opgave van de wijk."]


async def test_a_session_that_has_not_been_held_cannot_be_completed() -> None:
    world = World()
    await world.schedule()
    with pytest.raises(CommandRefused) as refused:
        await handlers.complete_session(
            CompleteSession(edition=world.slug, session_number=2, notes={}),
            **world.deps(handlers.complete_session),
            now=NOW,
        )
    assert refused.value.errors[0].code == "not_started"


async def test_a_session_cannot_be_completed_twice() -> None:
    world = World()
    await world.schedule()
    after = world.first_start + timedelta(hours=5)
    command = CompleteSession(edition=world.slug, session_number=1, notes={})
    await handlers.complete_session(command, **world.deps(handlers.complete_session), now=after)
    with pytest.raises(CommandRefused) as refused:
        await handlers.complete_session(command, **world.deps(handlers.complete_session), now=after)
    assert refused.value.errors[0].code == "already_completed"


def test_seed_programme_moves_into_the_future_keeping_local_times() -> None:
    command = moved_into_future(load_programme(), NOW)
    assert command.registration_deadline > NOW
    assert [s.starts_at.strftime("%m-%d %H:%M") for s in command.sessions] == [
        "10-15 13:00",
        "11-07 13:00",
        "01-14 13:00",
    ]
