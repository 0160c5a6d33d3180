"""Sessions: rescheduling, attendance and completion."""

from __future__ import annotations

from datetime import datetime

from shared.contract import ErrorItem
from shared.contract.scheduling import (
    Attendance,
    AttendanceRecorded,
    CompleteSession,
    RecordAttendance,
    RescheduleSession,
    SessionCompleted,
    SessionNotes,
)
from shared.messaging.messages import CommandRefused, NotYetKnown, refuse

from ..domain import SESSION_IN_PAST, Session
from .events import session_rescheduled
from .ports import Editions, Emit, Registrations, edition_of, session_of

# Sessions


async def reschedule_session(
    cmd: RescheduleSession, *, editions: Editions, emit: Emit, now: datetime
) -> dict[str, object]:
    edition = await edition_of(editions, cmd.edition)
    session = session_of(edition, cmd.session_number)
    if session.completed_at is not None:
        raise refuse("session_number", "already_completed", "Deze bijeenkomst is al afgerond.")
    problems = []
    if cmd.starts_at <= now and (cmd.starts_at, cmd.ends_at) != (session.starts_at, session.ends_at):
        problems.append(("starts_at", "session_in_past", SESSION_IN_PAST))
    if cmd.ends_at <= cmd.starts_at:
        problems.append(("ends_at", "session_ends_before_start", "De bijeenkomst eindigt voordat ze begint."))
    if session.number == 1 and cmd.starts_at < edition.registration_deadline:
        problems.append(
            (
                "starts_at",
                "deadline_after_start",
                "De eerste bijeenkomst kan niet beginnen voor het moment van plaatsing.",
            )
        )
    if problems:
        raise CommandRefused([ErrorItem(field=f, code=c, message=m) for f, c, m in problems])
    if (session.starts_at, session.ends_at) == (cmd.starts_at, cmd.ends_at):
        return {"edition": edition.slug, "session_number": session.number, "sequence": session.sequence}
    old = Session(session.number, session.title, session.outcome, session.starts_at, session.ends_at)
    session.starts_at, session.ends_at, session.sequence = cmd.starts_at, cmd.ends_at, session.sequence + 1
    await editions.save(edition)
    emit(session_rescheduled(edition, old, session))
    return {"edition": edition.slug, "session_number": session.number, "sequence": session.sequence}


async def record_attendance(
    cmd: RecordAttendance, *, editions: Editions, registrations: Registrations, emit: Emit, now: datetime
) -> dict[str, object]:
    edition = await edition_of(editions, cmd.edition)
    session = session_of(edition, cmd.session_number)
    if session.completed_at is not None:
        raise refuse(
            "session_number", "already_completed", "Deze bijeenkomst is al afgerond; de aanwezigheid ligt vast."
        )
    if session.starts_at > now:
        raise refuse("session_number", "not_started", "Deze bijeenkomst heeft nog niet plaatsgevonden.")
    known = await registrations.of_edition(edition.slug)
    unknown = [
        ErrorItem(
            field=f"present[{i}]", code="unknown_registration", message="Deze aanmelding hoort niet bij deze editie."
        )
        for i, rid in enumerate(cmd.present)
        if rid not in known
    ]
    if unknown:
        strays = [rid for rid in cmd.present if rid not in known]
        if all([await registrations.edition(rid) is None for rid in strays]):
            # Trios we have no copy of at all may be ones whose TrioRegistered is still on its way: wait for them.
            raise NotYetKnown(unknown)
        raise CommandRefused(unknown)
    session.present = list(dict.fromkeys(cmd.present))
    await editions.save(edition)
    emit(AttendanceRecorded(edition=edition.slug, session_number=session.number, present=session.present))
    return {"edition": edition.slug, "session_number": session.number}


async def complete_session(
    cmd: CompleteSession, *, editions: Editions, registrations: Registrations, emit: Emit, now: datetime
) -> dict[str, object]:
    edition = await edition_of(editions, cmd.edition)
    session = session_of(edition, cmd.session_number)
    if session.completed_at is not None:
        raise refuse("session_number", "already_completed", "Deze bijeenkomst is al afgerond.")
    if session.starts_at > now:
        raise refuse("session_number", "not_started", "Deze bijeenkomst heeft nog niet plaatsgevonden.")
    session.completed_at = now
    session.notes = cmd.notes.model_dump(mode="json")
    await editions.save(edition)
    municipalities = await registrations.municipalities(session.present)
    emit(
        SessionCompleted(
            edition=edition.slug,
            session_number=session.number,
            title=session.title,
            starts_at=session.starts_at,
            attendance=Attendance(trios=len(session.present), municipalities=len(set(municipalities.values()))),
            notes=SessionNotes.model_validate(session.notes),
        )
    )
    return {"edition": edition.slug, "session_number": session.number}
