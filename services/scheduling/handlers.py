"""Scheduling use cases. Each takes its dependencies as arguments so tests can pass in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from shared.contract import ErrorItem, EventData
from shared.contract.registration import TrioRegistered
from shared.contract.scheduling import (
    Attendance,
    CompleteSession,
    EditionScheduled,
    ScheduleEdition,
    SessionCompleted,
    SessionNotes,
    SessionPlan,
)
from shared.messaging.messages import CommandRefused, refuse

from .domain import Edition, Session, schedule_problems

Emit = Callable[[EventData], object]


class Editions(Protocol):
    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None: ...
    async def save(self, edition: Edition) -> None: ...


class Registrations(Protocol):
    """Scheduling's own copy of registrations, from registration.TrioRegistered."""

    async def add(self, registration_id: str, edition: str, municipality: str, size_class: str,
                  priority: bool, registered_at: datetime) -> None: ...
    async def municipalities(self, registration_ids: list[str]) -> dict[str, str]: ...


async def schedule_edition(cmd: ScheduleEdition, *, editions: Editions, emit: Emit, now: datetime) -> dict[str, str]:
    existing = await editions.get(cmd.edition, for_update=True)
    if existing is not None and not existing.registration_open(now):
        raise refuse("edition", "edition_closed",
                     "Deze editie kan niet meer worden gewijzigd: de aanmelding is al gesloten.")
    sessions = [Session(s.number, s.title, s.outcome, s.starts_at, s.ends_at) for s in cmd.sessions]
    closes_at = cmd.registration_closes_at or min(s.starts_at for s in sessions)
    problems = schedule_problems(sessions, cmd.capacity.min_trios, cmd.capacity.max_trios, closes_at,
                                 cmd.registration_deadline)
    if problems:
        raise CommandRefused([ErrorItem(field=f, code=c, message=m) for f, c, m in problems])
    if existing is not None:
        # A changed time is a reschedule for calendars: keep counting the sequence.
        for s in sessions:
            old = existing.session(s.number)
            if old is not None:
                s.sequence = old.sequence + int((old.starts_at, old.ends_at) != (s.starts_at, s.ends_at))
    edition = Edition(
        slug=cmd.edition, title=cmd.title, venue=cmd.venue.model_dump(), min_trios=cmd.capacity.min_trios,
        max_trios=cmd.capacity.max_trios, registration_deadline=cmd.registration_deadline,
        registration_closes_at=closes_at, fee=cmd.fee.model_dump(), priority_size_classes=cmd.priority_size_classes,
        table_size=cmd.table_size, sessions=sessions, placed=existing.placed if existing else [],
    )
    await editions.save(edition)
    emit(edition_scheduled(edition))
    return {"edition": edition.slug}


def edition_scheduled(edition: Edition) -> EditionScheduled:
    return EditionScheduled(
        edition=edition.slug, title=edition.title, venue=edition.venue,
        capacity={"min_trios": edition.min_trios, "max_trios": edition.max_trios},
        registration_deadline=edition.registration_deadline, registration_closes_at=edition.registration_closes_at,
        fee=edition.fee, priority_size_classes=edition.priority_size_classes, table_size=edition.table_size,
        sessions=[SessionPlan(number=s.number, title=s.title, outcome=s.outcome, starts_at=s.starts_at,
                              ends_at=s.ends_at) for s in edition.sessions],
    )


async def complete_session(cmd: CompleteSession, *, editions: Editions, registrations: Registrations, emit: Emit,
                           now: datetime) -> dict[str, object]:
    edition = await editions.get(cmd.edition, for_update=True)
    if edition is None:
        raise refuse("edition", "unknown_edition", "Deze editie bestaat niet.")
    session = edition.session(cmd.session_number)
    if session is None:
        raise refuse("session_number", "unknown_session", "Deze editie heeft geen bijeenkomst met dit nummer.")
    if session.completed_at is not None:
        raise refuse("session_number", "already_completed", "Deze bijeenkomst is al afgerond.")
    if session.starts_at > now:
        raise refuse("session_number", "not_started", "Deze bijeenkomst heeft nog niet plaatsgevonden.")
    session.completed_at = now
    session.notes = cmd.notes.model_dump(mode="json")
    await editions.save(edition)
    municipalities = await registrations.municipalities(session.present)
    emit(SessionCompleted(
        edition=edition.slug, session_number=session.number, title=session.title, starts_at=session.starts_at,
        attendance=Attendance(trios=len(session.present), municipalities=len(set(municipalities.values()))),
        notes=SessionNotes.model_validate(session.notes),
    ))
    return {"edition": edition.slug, "session_number": session.number}


async def remember_registration(event: TrioRegistered, *, registrations: Registrations) -> None:
    await registrations.add(event.registration_id, event.edition, event.municipality.code,
                            event.municipality.size_class, event.priority, event.registered_at)
