"""Scheduling and changing an edition."""

from __future__ import annotations

from datetime import datetime

from shared.contract import ErrorItem
from shared.contract.scheduling import ScheduleEdition
from shared.messaging.messages import CommandRefused, refuse

from ..domain import Edition, Session, schedule_problems, sessions_moved_into_past
from .events import edition_scheduled, session_rescheduled
from .placement import apply_outcomes
from .ports import Editions, Emit, Registrations, Seats

# Editions


async def schedule_edition(
    cmd: ScheduleEdition, *, editions: Editions, registrations: Registrations, seats: Seats, emit: Emit, now: datetime
) -> dict[str, str]:
    existing = await editions.get(cmd.edition, for_update=True)
    if existing is not None and not existing.registration_open(now):
        raise refuse(
            "edition", "edition_closed", "Deze editie kan niet meer worden gewijzigd: de aanmelding is al gesloten."
        )
    sessions = [Session(s.number, s.title, s.outcome, s.starts_at, s.ends_at) for s in cmd.sessions]
    closes_at = cmd.registration_closes_at or min(s.starts_at for s in sessions)
    problems = schedule_problems(
        sessions, cmd.capacity.min_trios, cmd.capacity.max_trios, closes_at, cmd.registration_deadline
    )
    if existing is not None:
        problems += _update_problems(existing, cmd) + sessions_moved_into_past(existing, sessions, now)
    if problems:
        raise CommandRefused([ErrorItem(field=f, code=c, message=m) for f, c, m in problems])
    if existing is None:
        edition = Edition(
            slug=cmd.edition,
            title=cmd.title,
            venue=cmd.venue.model_dump(),
            min_trios=cmd.capacity.min_trios,
            max_trios=cmd.capacity.max_trios,
            registration_deadline=cmd.registration_deadline,
            registration_closes_at=closes_at,
            fee=cmd.fee.model_dump(),
            priority_size_classes=list(cmd.priority_size_classes),
            table_size=cmd.table_size,
            sessions=sessions,
            publish_reports_at_once=cmd.publish_reports_at_once,
        )
        await editions.save(edition)
        emit(edition_scheduled(edition))
        return {"edition": edition.slug}
    return await _update_edition(
        existing,
        cmd,
        sessions,
        closes_at,
        registrations=registrations,
        seats=seats,
        emit=emit,
        editions=editions,
        now=now,
    )


def _update_problems(existing: Edition, cmd: ScheduleEdition) -> list[tuple[str, str, str]]:
    problems: list[tuple[str, str, str]] = []
    if existing.allocated_at is not None and cmd.registration_deadline != existing.registration_deadline:
        problems.append(
            (
                "registration_deadline",
                "already_allocated",
                "De plaatsen zijn al verdeeld; het moment van plaatsing kan niet meer veranderen.",
            )
        )
    if cmd.capacity.max_trios < len(existing.placements):
        problems.append(
            (
                "capacity.max_trios",
                "capacity_below_placed",
                f"Er zijn al {len(existing.placements)} trio's geplaatst; het maximum kan niet lager.",
            )
        )
    return problems


async def _update_edition(
    edition: Edition,
    cmd: ScheduleEdition,
    sessions: list[Session],
    closes_at: datetime,
    *,
    editions: Editions,
    registrations: Registrations,
    seats: Seats,
    emit: Emit,
    now: datetime,
) -> dict[str, str]:
    moved = []
    for s in sessions:
        old = edition.session(s.number)
        if old is None:
            continue
        s.present, s.completed_at, s.notes = old.present, old.completed_at, old.notes
        s.sequence = old.sequence
        if (old.starts_at, old.ends_at) != (s.starts_at, s.ends_at):
            # A changed time is a reschedule for calendars: keep counting the sequence.
            s.sequence += 1
            moved.append((old, s))
    seating_before = edition.table_size
    edition.title, edition.venue, edition.fee = cmd.title, cmd.venue.model_dump(), cmd.fee.model_dump()
    edition.registration_deadline, edition.registration_closes_at = cmd.registration_deadline, closes_at
    edition.priority_size_classes, edition.table_size = list(cmd.priority_size_classes), cmd.table_size
    edition.publish_reports_at_once = cmd.publish_reports_at_once
    edition.sessions = sessions
    outcomes = edition.resize(cmd.capacity.min_trios, cmd.capacity.max_trios, now)
    emit(edition_scheduled(edition))
    if edition.allocated_at is not None:
        # Trios that were placed hold invitations for the old times.
        for old, new in moved:
            emit(session_rescheduled(edition, old, new))
    await apply_outcomes(
        edition,
        outcomes,
        registrations=registrations,
        seats=seats,
        emit=emit,
        now=now,
        replan=seating_before != edition.table_size or bool(moved),
    )
    await editions.save(edition)
    return {"edition": edition.slug}
