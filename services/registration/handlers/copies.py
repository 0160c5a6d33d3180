"""Keeping registration's copies of scheduling's facts current (event-carried state): editions, their sessions'
times and each session's seating."""

from __future__ import annotations

from datetime import datetime

from shared.contract.scheduling import EditionScheduled, SeatingPlanned, SessionRescheduled, TrioSeated

from ..domain import Edition
from ..history import HistoryEntry, seating_entries, trio_seat_entries
from .ports import Editions, History, Registrations, Seating


async def remember_edition(event: EditionScheduled, *, editions: Editions, occurred_at: datetime) -> None:
    """Keep registration's copy of an edition current (event-carried state)."""
    current = await editions.get(event.edition, for_update=True)
    if current is not None and current.scheduled_at > occurred_at:
        return  # an older announcement delivered late (after a retry, or by another replica) changes nothing
    await editions.save(
        Edition(
            slug=event.edition,
            title=event.title,
            registration_closes_at=event.registration_closes_at,
            registration_deadline=event.registration_deadline,
            fee=event.fee.model_dump(mode="json"),
            priority_size_classes=list(event.priority_size_classes),
            sessions=[s.model_dump(mode="json") for s in event.sessions],
            scheduled_at=occurred_at,
        )
    )


async def follow_reschedule(event: SessionRescheduled, *, editions: Editions, occurred_at: datetime) -> None:
    """Move the session in registration's copy, so the status page shows the new time."""
    current = await editions.get(event.edition, for_update=True)
    if current is None or current.scheduled_at > occurred_at:
        return  # unknown edition, or a later EditionScheduled already carries the newer times
    for session in current.sessions:
        if session["number"] == event.session_number:
            session["starts_at"], session["ends_at"] = event.starts_at.isoformat(), event.ends_at.isoformat()
    current.scheduled_at = occurred_at
    await editions.save(current)


async def follow_seating(
    event: SeatingPlanned, *, seating: Seating, registrations: Registrations, history: History, occurred_at: datetime
) -> None:
    """Keep a seat per trio in the session from its whole plan; a plan delivered late does not overwrite a newer
    one, nor a trio seated after it. The trios whose table is new or changed get a line in their history (a plan
    holds the edition's placed trios only)."""
    tables = {rid: table.table for table in event.tables for rid in table.registration_ids}
    changed = await seating.plan_session(event.edition, event.session_number, tables, occurred_at)
    await _tell(history, registrations, seating_entries(event, changed, occurred_at))


async def follow_trio_seats(
    event: TrioSeated, *, seating: Seating, registrations: Registrations, history: History, occurred_at: datetime
) -> None:
    """A trio seated after the plan (placed later): its own seats, the others' as they are; a line in its history
    for each session whose table is new or changed."""
    tables = {seat.session_number: seat.table for seat in event.seats}
    changed = await seating.seat_trio(event.edition, event.registration_id, tables, occurred_at)
    await _tell(history, registrations, trio_seat_entries(event, changed, occurred_at))


async def _tell(history: History, registrations: Registrations, entries: list[HistoryEntry]) -> None:
    """History lines for the registrations registration knows (scheduling may seat one whose intake is not here)."""
    if not entries:
        return
    known = await registrations.known(list({e.registration_id for e in entries}))
    await history.add(*(e for e in entries if e.registration_id in known))
