"""Scheduling handlers, driven with in-memory fakes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from services.scheduling import handlers
from services.scheduling.domain import Edition
from services.scheduling.seed import load_programme, moved_into_future
from shared.contract.scheduling import CompleteSession, EditionScheduled, ScheduleEdition, SessionCompleted
from shared.messaging.messages import CommandRefused

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


class FakeEditions:
    def __init__(self) -> None:
        self.rows: dict[str, Edition] = {}

    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None:
        return copy.deepcopy(self.rows.get(slug))

    async def save(self, edition: Edition) -> None:
        self.rows[edition.slug] = copy.deepcopy(edition)


class FakeRegistrations:
    def __init__(self) -> None:
        self.rows: dict[str, str] = {}

    async def add(self, registration_id, edition, municipality, size_class, priority, registered_at) -> None:  # noqa: ANN001
        self.rows[registration_id] = municipality

    async def municipalities(self, registration_ids: list[str]) -> dict[str, str]:
        return {r: self.rows[r] for r in registration_ids if r in self.rows}


def seed_command(**changes: object) -> ScheduleEdition:
    command = moved_into_future(load_programme(), NOW)
    return command.model_copy(update=changes)


async def test_scheduling_an_edition_stores_it_and_announces_it_with_its_sessions() -> None:
    editions, emitted = FakeEditions(), []
    await handlers.schedule_edition(seed_command(), editions=editions, emit=emitted.append, now=NOW)
    (event,) = emitted
    assert isinstance(event, EditionScheduled)
    assert [s.title for s in event.sessions][1] == "Lokale agenda"
    assert event.registration_closes_at == event.sessions[0].starts_at  # default: the first session's start
    assert editions.rows[event.edition].places_left == 8


async def test_edition_whose_deadline_falls_after_the_first_session_is_refused() -> None:
    command = seed_command()
    late = command.model_copy(update={"registration_deadline": command.sessions[0].starts_at + timedelta(days=1)})
    with pytest.raises(CommandRefused) as refused:
        await handlers.schedule_edition(late, editions=FakeEditions(), emit=[].append, now=NOW)
    codes = [e.code for e in refused.value.errors]
    # Registration closes by default at the first session, so that one is before the deadline too.
    assert codes == ["deadline_after_start", "closes_before_deadline"]


async def test_edition_cannot_be_changed_once_registration_has_closed() -> None:
    editions = FakeEditions()
    command = seed_command()
    await handlers.schedule_edition(command, editions=editions, emit=[].append, now=NOW)
    after_close = command.sessions[0].starts_at + timedelta(hours=1)
    with pytest.raises(CommandRefused) as refused:
        await handlers.schedule_edition(command, editions=editions, emit=[].append, now=after_close)
    assert refused.value.errors[0].code == "edition_closed"


async def test_moving_a_session_raises_its_calendar_sequence() -> None:
    editions = FakeEditions()
    command = seed_command()
    await handlers.schedule_edition(command, editions=editions, emit=[].append, now=NOW)
    sessions = [s.model_copy() for s in command.sessions]
    sessions[1] = sessions[1].model_copy(update={"starts_at": sessions[1].starts_at + timedelta(hours=1),
                                                 "ends_at": sessions[1].ends_at + timedelta(hours=1)})
    await handlers.schedule_edition(command.model_copy(update={"sessions": sessions}), editions=editions,
                                    emit=[].append, now=NOW)
    assert [s.sequence for s in editions.rows[command.edition].sessions] == [0, 1, 0]


async def test_completing_a_held_session_publishes_notes_and_attendance() -> None:
    editions, registrations, emitted = FakeEditions(), FakeRegistrations(), []
    command = seed_command()
    await handlers.schedule_edition(command, editions=editions, emit=[].append, now=NOW)
    edition = editions.rows[command.edition]
    edition.sessions[0].present = ["r1", "r2", "r3"]
    registrations.rows.update({"r1": "GM0345", "r2": "GM0345", "r3": "GM0344"})
    after = command.sessions[0].ends_at + timedelta(hours=2)
    notes = {"lessons": ["Begin bij de opgave van de wijk."], "instruments": [], "quotes": [], "next_steps": []}
    await handlers.complete_session(
        CompleteSession(edition=command.edition, session_number=1, notes=notes),
        editions=editions, registrations=registrations, emit=emitted.append, now=after,
    )
    (event,) = emitted
    assert isinstance(event, SessionCompleted)
    assert (event.attendance.trios, event.attendance.municipalities) == (3, 2)
    assert event.notes.lessons == ["Begin bij de opgave van de wijk."]


async def test_a_session_that_has_not_been_held_cannot_be_completed() -> None:
    editions = FakeEditions()
    command = seed_command()
    await handlers.schedule_edition(command, editions=editions, emit=[].append, now=NOW)
    with pytest.raises(CommandRefused) as refused:
        await handlers.complete_session(
            CompleteSession(edition=command.edition, session_number=2, notes={}),
            editions=editions, registrations=FakeRegistrations(), emit=[].append, now=NOW,
        )
    assert refused.value.errors[0].code == "not_started"


def test_seed_programme_moves_into_the_future_keeping_local_times() -> None:
    command = moved_into_future(load_programme(), NOW)
    assert command.registration_deadline > NOW
    assert [s.starts_at.astimezone().hour for s in command.sessions]  # parsed
    assert [s.starts_at.strftime("%m-%d %H:%M") for s in command.sessions] == [
        "10-15 13:00", "11-07 13:00", "01-14 13:00"]
