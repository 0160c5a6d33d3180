"""Scheduling use cases. Each takes its dependencies as arguments so tests can pass in-memory fakes.

Every use case that touches places locks the edition first (`editions.get(..., for_update=True)`), so
competing replicas change one edition's places, waitlist and seating strictly one after the other.

Registration events may reach scheduling in another order than they were published (competing
consumers, retries). None is dropped: each records what it says (the copy of the trio, or its decision)
and the trio is admitted as soon as both are known, whichever came last.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from shared.contract import ErrorItem, EventData
from shared.contract.registration import (
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.scheduling import (
    Attendance,
    AttendanceRecorded,
    Capacity,
    CloseRegistration,
    CompleteSession,
    EditionFee,
    EditionScheduled,
    PlaceReleased,
    RecordAttendance,
    RegistrationClosed,
    RescheduleSession,
    ScheduleEdition,
    SeatingPlanned,
    SessionCompleted,
    SessionNotes,
    SessionPlan,
    SessionRescheduled,
    Table,
    TrioPlaced,
    TrioWaitlisted,
    Venue,
)
from shared.messaging.messages import CommandRefused, refuse

from .domain import Edition, Outcome, Placed, Released, Session, Trio, Waitlisted, schedule_problems
from .seating import plan_seating

Emit = Callable[[EventData], object]

APPROVED, DECLINED, CANCELLED = "approved", "declined", "cancelled"


class Editions(Protocol):
    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None: ...

    async def lock(self, slug: str) -> bool:
        """Take the edition's lock, as get(for_update=True) does, without loading it; False when it is unknown."""
        ...

    async def save(self, edition: Edition) -> None: ...


class Registrations(Protocol):
    """Scheduling's own copy of registrations and their decisions, from registration's events."""

    async def add(self, edition: str, trio: Trio) -> None: ...
    async def trio(self, registration_id: str) -> Trio | None: ...
    async def trios(self, registration_ids: list[str]) -> dict[str, Trio]: ...
    async def status(self, registration_id: str) -> str | None: ...
    async def set_status(self, registration_id: str, edition: str, status: str, at: datetime) -> None: ...
    async def pool(self, edition: str) -> list[Trio]: ...
    async def of_edition(self, edition: str) -> set[str]: ...
    async def municipalities(self, registration_ids: list[str]) -> dict[str, str]: ...


# Editions


async def schedule_edition(cmd: ScheduleEdition, *, editions: Editions, registrations: Registrations, emit: Emit,
                           now: datetime) -> dict[str, str]:
    existing = await editions.get(cmd.edition, for_update=True)
    if existing is not None and not existing.registration_open(now):
        raise refuse("edition", "edition_closed",
                     "Deze editie kan niet meer worden gewijzigd: de aanmelding is al gesloten.")
    sessions = [Session(s.number, s.title, s.outcome, s.starts_at, s.ends_at) for s in cmd.sessions]
    closes_at = cmd.registration_closes_at or min(s.starts_at for s in sessions)
    problems = schedule_problems(sessions, cmd.capacity.min_trios, cmd.capacity.max_trios, closes_at,
                                 cmd.registration_deadline)
    if existing is not None:
        problems += _update_problems(existing, cmd)
    if problems:
        raise CommandRefused([ErrorItem(field=f, code=c, message=m) for f, c, m in problems])
    if existing is None:
        edition = Edition(
            slug=cmd.edition, title=cmd.title, venue=cmd.venue.model_dump(), min_trios=cmd.capacity.min_trios,
            max_trios=cmd.capacity.max_trios, registration_deadline=cmd.registration_deadline,
            registration_closes_at=closes_at, fee=cmd.fee.model_dump(),
            priority_size_classes=list(cmd.priority_size_classes), table_size=cmd.table_size, sessions=sessions,
        )
        await editions.save(edition)
        emit(edition_scheduled(edition))
        return {"edition": edition.slug}
    return await _update_edition(existing, cmd, sessions, closes_at, registrations=registrations, emit=emit,
                                 editions=editions, now=now)


def _update_problems(existing: Edition, cmd: ScheduleEdition) -> list[tuple[str, str, str]]:
    problems: list[tuple[str, str, str]] = []
    if existing.allocated_at is not None and cmd.registration_deadline != existing.registration_deadline:
        problems.append(("registration_deadline", "already_allocated",
                         "De plaatsen zijn al verdeeld; het moment van plaatsing kan niet meer veranderen."))
    if cmd.capacity.max_trios < len(existing.placements):
        problems.append(("capacity.max_trios", "capacity_below_placed",
                         f"Er zijn al {len(existing.placements)} trio's geplaatst; het maximum kan niet lager."))
    return problems


async def _update_edition(edition: Edition, cmd: ScheduleEdition, sessions: list[Session], closes_at: datetime, *,
                          editions: Editions, registrations: Registrations, emit: Emit,
                          now: datetime) -> dict[str, str]:
    moved = []
    for s in sessions:
        old = edition.session(s.number)
        if old is None:
            continue
        s.tables, s.present, s.completed_at, s.notes = old.tables, old.present, old.completed_at, old.notes
        s.sequence = old.sequence
        if (old.starts_at, old.ends_at) != (s.starts_at, s.ends_at):
            # A changed time is a reschedule for calendars: keep counting the sequence.
            s.sequence += 1
            moved.append((old, s))
    seating_before = edition.table_size
    edition.title, edition.venue, edition.fee = cmd.title, cmd.venue.model_dump(), cmd.fee.model_dump()
    edition.registration_deadline, edition.registration_closes_at = cmd.registration_deadline, closes_at
    edition.priority_size_classes, edition.table_size = list(cmd.priority_size_classes), cmd.table_size
    edition.sessions = sessions
    outcomes = edition.resize(cmd.capacity.min_trios, cmd.capacity.max_trios, now)
    emit(edition_scheduled(edition))
    if edition.allocated_at is not None:
        # Trios that were placed hold invitations for the old times.
        for old, new in moved:
            emit(session_rescheduled(edition, old, new))
    await _apply(edition, outcomes, registrations=registrations, emit=emit, now=now,
                 replan=seating_before != edition.table_size or bool(moved))
    await editions.save(edition)
    return {"edition": edition.slug}


def edition_scheduled(edition: Edition) -> EditionScheduled:
    return EditionScheduled(
        edition=edition.slug, title=edition.title, venue=Venue.model_validate(edition.venue),
        capacity=Capacity(min_trios=edition.min_trios, max_trios=edition.max_trios),
        registration_deadline=edition.registration_deadline, registration_closes_at=edition.registration_closes_at,
        fee=EditionFee.model_validate(edition.fee), priority_size_classes=edition.priority_size_classes, table_size=edition.table_size,
        sessions=[SessionPlan(number=s.number, title=s.title, outcome=s.outcome, starts_at=s.starts_at,
                              ends_at=s.ends_at) for s in edition.sessions],
    )


# Allocation


async def close_registration(cmd: CloseRegistration, *, editions: Editions, registrations: Registrations,
                             emit: Emit, now: datetime) -> dict[str, str]:
    """Close registration now; allocates at once if the deadline had not come yet."""
    edition = await _edition(editions, cmd.edition)
    if not edition.registration_open(now):
        raise refuse("edition", "edition_closed", "De aanmelding voor deze editie is al gesloten.")
    edition.registration_closes_at = now
    edition.registration_deadline = min(edition.registration_deadline, now)
    # Registration keeps a copy of the edition: this is how it learns to refuse new trios.
    emit(edition_scheduled(edition))
    if edition.allocated_at is None:
        await _allocate(edition, registrations=registrations, emit=emit, now=now)
    await editions.save(edition)
    return {"edition": edition.slug}


async def allocate_if_due(slug: str, *, editions: Editions, registrations: Registrations, emit: Emit,
                          now: datetime) -> bool:
    """The deadline timer's work for one edition. Every replica may call it; the first one allocates."""
    edition = await editions.get(slug, for_update=True)
    if edition is None or not edition.allocation_due(now):
        return False
    await _allocate(edition, registrations=registrations, emit=emit, now=now)
    await editions.save(edition)
    return True


async def _allocate(edition: Edition, *, registrations: Registrations, emit: Emit, now: datetime) -> None:
    outcomes = edition.allocate(await registrations.pool(edition.slug), now)
    _emit_outcomes(edition, outcomes, emit)
    emit(RegistrationClosed(edition=edition.slug, placed=edition.placed_ids, waitlisted=edition.waitlisted_ids,
                            undersubscribed=bool(edition.undersubscribed)))
    await _replan_seating(edition, registrations=registrations, emit=emit, now=now)


# Registration events


async def remember_registration(event: TrioRegistered, *, editions: Editions, registrations: Registrations,
                                emit: Emit, now: datetime) -> None:
    # The lock, not the edition: a registration is not approved yet as a rule, and loading every place and
    # waitlist entry for each one made a long waitlist slow down every new registration. The lock still orders
    # this against a concurrent approval of the same trio, so one of the two always sees the other.
    known = await editions.lock(event.edition)
    trio = Trio(
        registration_id=event.registration_id, priority=event.priority, registered_at=event.registered_at,
        municipality=event.municipality.code, size_class=event.municipality.size_class,
        domains=tuple(sorted({m.domain.value for m in event.members})),
    )
    await registrations.add(event.edition, trio)
    if known and await registrations.status(trio.registration_id) == APPROVED:
        # The approval overtook this event: admit the trio now.
        edition = await editions.get(event.edition, for_update=True)
        assert edition is not None  # locked above, and editions are never deleted
        await _admit(edition, trio, registrations=registrations, emit=emit, now=now)
        await editions.save(edition)


async def registration_approved(event: RegistrationApproved, *, editions: Editions, registrations: Registrations,
                                emit: Emit, now: datetime) -> None:
    edition = await editions.get(event.edition, for_update=True)
    if await registrations.status(event.registration_id) is not None:
        return  # already approved, or declined/cancelled: an approval does not bring a trio back
    await registrations.set_status(event.registration_id, event.edition, APPROVED, event.approved_at)
    trio = await registrations.trio(event.registration_id)
    if edition is not None and trio is not None:
        await _admit(edition, trio, registrations=registrations, emit=emit, now=now)
        await editions.save(edition)


async def registration_left(event: RegistrationDeclined | RegistrationCancelled, *, editions: Editions,
                            registrations: Registrations, emit: Emit, now: datetime) -> None:
    """Declined or cancelled: out of the pool and the waitlist; a placed trio frees its place."""
    status = DECLINED if isinstance(event, RegistrationDeclined) else CANCELLED
    edition = await editions.get(event.edition, for_update=True)
    if await registrations.status(event.registration_id) in (DECLINED, CANCELLED):
        return
    await registrations.set_status(event.registration_id, event.edition, status, now)
    if edition is None:
        return
    outcomes = edition.release(event.registration_id, status, now)
    await _apply(edition, outcomes, registrations=registrations, emit=emit, now=now)
    await editions.save(edition)


async def _admit(edition: Edition, trio: Trio, *, registrations: Registrations, emit: Emit, now: datetime) -> None:
    await _apply(edition, edition.admit(trio, now), registrations=registrations, emit=emit, now=now)


async def _apply(edition: Edition, outcomes: list[Outcome], *, registrations: Registrations, emit: Emit,
                 now: datetime, replan: bool = False) -> None:
    _emit_outcomes(edition, outcomes, emit)
    placed_changed = any(isinstance(o, Placed | Released) for o in outcomes)
    if edition.allocated_at is not None and (placed_changed or replan):
        await _replan_seating(edition, registrations=registrations, emit=emit, now=now)


def _emit_outcomes(edition: Edition, outcomes: list[Outcome], emit: Emit) -> None:
    for outcome in outcomes:
        if isinstance(outcome, Placed):
            emit(TrioPlaced(registration_id=outcome.registration_id, edition=edition.slug, via=outcome.via))
        elif isinstance(outcome, Waitlisted):
            emit(TrioWaitlisted(registration_id=outcome.registration_id, edition=edition.slug,
                                position=outcome.position, previous_position=outcome.previous_position))
        elif isinstance(outcome, Released):
            emit(PlaceReleased(registration_id=outcome.registration_id, edition=edition.slug, reason=outcome.reason))


# Seating


async def _replan_seating(edition: Edition, *, registrations: Registrations, emit: Emit, now: datetime) -> None:
    """Plan the sessions that have not started; announce each session whose tables changed."""
    held = [s for s in edition.sessions if s.starts_at <= now]
    coming = [s for s in sorted(edition.sessions, key=lambda s: s.number) if s.starts_at > now]
    if not coming:
        return
    trios = await registrations.trios(edition.placed_ids)
    known = [trios[rid] for rid in edition.placed_ids if rid in trios]
    history = [s.tables for s in sorted(held, key=lambda s: s.number) if s.tables]
    plans = plan_seating(known, edition.table_size, len(coming), history)
    for session, tables in zip(coming, plans, strict=True):
        if session.tables == tables:
            continue
        session.tables = tables
        emit(SeatingPlanned(edition=edition.slug, session_number=session.number, tables=[
            Table(table=number, registration_ids=ids) for number, ids in enumerate(tables, start=1)]))


# Sessions


async def reschedule_session(cmd: RescheduleSession, *, editions: Editions, emit: Emit,
                             now: datetime) -> dict[str, object]:
    edition = await _edition(editions, cmd.edition)
    session = _session(edition, cmd.session_number)
    if session.completed_at is not None:
        raise refuse("session_number", "already_completed", "Deze bijeenkomst is al afgerond.")
    problems = []
    if cmd.ends_at <= cmd.starts_at:
        problems.append(("ends_at", "session_ends_before_start", "De bijeenkomst eindigt voordat ze begint."))
    if session.number == 1 and cmd.starts_at < edition.registration_deadline:
        problems.append(("starts_at", "deadline_after_start",
                         "De eerste bijeenkomst kan niet beginnen voor het moment van plaatsing."))
    if problems:
        raise CommandRefused([ErrorItem(field=f, code=c, message=m) for f, c, m in problems])
    if (session.starts_at, session.ends_at) == (cmd.starts_at, cmd.ends_at):
        return {"edition": edition.slug, "session_number": session.number, "sequence": session.sequence}
    old = Session(session.number, session.title, session.outcome, session.starts_at, session.ends_at)
    session.starts_at, session.ends_at, session.sequence = cmd.starts_at, cmd.ends_at, session.sequence + 1
    await editions.save(edition)
    emit(session_rescheduled(edition, old, session))
    return {"edition": edition.slug, "session_number": session.number, "sequence": session.sequence}


def session_rescheduled(edition: Edition, old: Session, new: Session) -> SessionRescheduled:
    return SessionRescheduled(
        edition=edition.slug, session_number=new.number, starts_at=new.starts_at, ends_at=new.ends_at,
        sequence=new.sequence, previous_starts_at=old.starts_at, previous_ends_at=old.ends_at,
    )


async def record_attendance(cmd: RecordAttendance, *, editions: Editions, registrations: Registrations, emit: Emit,
                            now: datetime) -> dict[str, object]:
    edition = await _edition(editions, cmd.edition)
    session = _session(edition, cmd.session_number)
    if session.completed_at is not None:
        raise refuse("session_number", "already_completed",
                     "Deze bijeenkomst is al afgerond; de aanwezigheid ligt vast.")
    if session.starts_at > now:
        raise refuse("session_number", "not_started", "Deze bijeenkomst heeft nog niet plaatsgevonden.")
    known = await registrations.of_edition(edition.slug)
    unknown = [ErrorItem(field=f"present[{i}]", code="unknown_registration",
                         message="Deze aanmelding hoort niet bij deze editie.")
               for i, rid in enumerate(cmd.present) if rid not in known]
    if unknown:
        raise CommandRefused(unknown)
    session.present = list(dict.fromkeys(cmd.present))
    await editions.save(edition)
    emit(AttendanceRecorded(edition=edition.slug, session_number=session.number, present=session.present))
    return {"edition": edition.slug, "session_number": session.number}


async def complete_session(cmd: CompleteSession, *, editions: Editions, registrations: Registrations, emit: Emit,
                           now: datetime) -> dict[str, object]:
    edition = await _edition(editions, cmd.edition)
    session = _session(edition, cmd.session_number)
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


async def _edition(editions: Editions, slug: str) -> Edition:
    edition = await editions.get(slug, for_update=True)
    if edition is None:
        raise refuse("edition", "unknown_edition", "Deze editie bestaat niet.")
    return edition


def _session(edition: Edition, number: int) -> Session:
    session = edition.session(number)
    if session is None:
        raise refuse("session_number", "unknown_session", "Deze editie heeft geen bijeenkomst met dit nummer.")
    return session
