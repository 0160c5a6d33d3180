"""Reminders before each session: planned from scheduling.SeatingPlanned (one per trio at a table and per offset) and
from scheduling.TrioSeated (a trio that joined a table later), moved with a rescheduled session, and queued as mails
once due (by the sender, services/notifications/sender/)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from shared.contract import Event
from shared.contract.registration import RegisteredMember
from shared.contract.scheduling import SeatingPlanned, TrioSeated

from ..domain import REMINDER, STATUS_PLACED, Reminder, SessionInfo, due_reminders_to_send, parse_offsets, reminder_key
from ..wording import member_context, session_text
from .notify import Cause, known_edition, notify_trio
from .ports import Editions, Emit, Mails, Registrations, Reminders


async def plan_reminders(
    seating: SeatingPlanned,
    *,
    envelope: Event[Any],
    editions: Editions,
    reminders: Reminders,
    offsets: list[tuple[str, timedelta]],
) -> None:
    """A reminder per trio at the table and per offset before the session; a new seating updates the tables."""
    # Replans of one edition take turns on its row: two of them inserting the same reminders at once would
    # collide on the key (or deadlock) and be retried.
    edition = await known_edition(editions, seating.edition, for_update=True)
    session = edition.session(seating.session_number)
    if session is None:
        return
    # One upsert for the whole plan: a reminder per trio and offset, whose table follows the newest seating.
    await reminders.plan(
        [
            _reminder(envelope, seating.edition, session, registration_id, table.table, label, offset)
            for table in seating.tables
            for registration_id in table.registration_ids
            for label, offset in offsets
        ]
    )


async def plan_trio_reminders(
    seated: TrioSeated,
    *,
    envelope: Event[Any],
    editions: Editions,
    reminders: Reminders,
    offsets: list[tuple[str, timedelta]],
) -> None:
    """A trio that joined a table after the seating was planned: its reminders per session and offset, in one
    upsert, whatever the size of the edition; the other trios' reminders stay as they are."""
    # No lock on the edition: trios seated at once touch different reminders, and one of them and a whole plan
    # touching the same ones lock them in the same (key) order.
    edition = await known_edition(editions, seated.edition)
    await reminders.plan(
        [
            _reminder(envelope, seated.edition, session, seated.registration_id, seat.table, label, offset)
            for seat in seated.seats
            if (session := edition.session(seat.session_number)) is not None
            for label, offset in offsets
        ]
    )


def _reminder(
    envelope: Event[Any],
    edition: str,
    session: SessionInfo,
    registration_id: str,
    table: int,
    label: str,
    offset: timedelta,
) -> Reminder:
    """The reminder of one trio, session and offset, its table as of the event that seated it."""
    return Reminder(
        key=reminder_key(edition, session.number, registration_id, label),
        edition=edition,
        session_number=session.number,
        registration_id=registration_id,
        offset=label,
        table=table,
        due_at=session.starts_at - offset,
        caused_by=envelope.event_id,
        correlation_id=envelope.correlation_id,
        seated_at=envelope.occurred_at,
    )


async def move_reminders(reminders: Reminders, edition: str, session: SessionInfo, now: datetime) -> None:
    """A session's reminders follow it to its new time (SessionRescheduled)."""
    offsets: dict[str, timedelta] = {}
    for reminder in await reminders.of_session(edition, session.number):
        offset = offsets.setdefault(reminder.offset, reminder_offset(reminder))
        reminder.due_at = session.starts_at - offset
        if (reminder.queued_at is not None or reminder.skipped) and reminder.due_at > now:
            # Already sent for the old date (or skipped): send again before the new one, as a new generation.
            reminder.generation += 1
            reminder.queued_at = None
            reminder.skipped = False
        await reminders.save(reminder)


def reminder_offset(reminder: Reminder) -> timedelta:
    return parse_offsets(reminder.offset)[0][1]


async def queue_due_reminders(
    *,
    reminders: Reminders,
    registrations: Registrations,
    editions: Editions,
    mails: Mails,
    emit_for: Callable[[Reminder], Emit],
    now: datetime,
) -> int:
    """Turn due reminders into mails (the sender then delivers them); returns how many reminders were queued."""
    send, superseded = due_reminders_to_send(await reminders.due(now))
    for reminder in superseded:
        reminder.skipped = True
        await reminders.save(reminder)
    queued = 0
    for reminder in send:
        if await _remind(
            reminder, registrations=registrations, editions=editions, mails=mails, emit=emit_for(reminder), now=now
        ):
            reminder.queued_at = now
            queued += 1
        else:
            reminder.skipped = True
        await reminders.save(reminder)
    return queued


async def _remind(
    reminder: Reminder, *, registrations: Registrations, editions: Editions, mails: Mails, emit: Emit, now: datetime
) -> bool:
    copy = await registrations.get(reminder.registration_id)
    edition = await editions.get(reminder.edition)
    session = edition.session(reminder.session_number) if edition else None
    if (
        copy is None
        or not copy.reachable
        or copy.status != STATUS_PLACED
        or session is None
        or session.starts_at <= now
    ):
        return False
    assert copy.details is not None
    details = copy.details

    def context(member: RegisteredMember, language: str) -> dict[str, Any]:
        return member_context(details, member, edition, language) | {
            "session": {
                "number": session.number,
                "title": session.title,
                "when": session_text(session, language),
                "outcome": session.outcome,
            },
            "table": reminder.table,
        }

    await notify_trio(
        REMINDER,
        Cause(reminder.caused_by, reminder.correlation_id),
        copy,
        context,
        mails=mails,
        emit=emit,
        now=now,
        identity=reminder.identity,
    )
    return True
