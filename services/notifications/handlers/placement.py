"""scheduling.TrioPlaced, TrioWaitlisted, RegistrationClosed and SessionRescheduled: a trio's place (with its
calendar invitation), its waitlist position, an undersubscribed round for the organisers, and a session that
moved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from shared.contract import Event
from shared.contract.registration import RegisteredMember, TrioRegistered
from shared.contract.scheduling import RegistrationClosed, SessionRescheduled, TrioPlaced, TrioWaitlisted

from .. import calendar
from ..domain import (
    FINAL_STATUSES,
    PLACED,
    RESCHEDULED,
    STATUS_PLACED,
    STATUS_WAITLISTED,
    UNDERSUBSCRIBED,
    WAITLISTED,
    EditionInfo,
    SessionInfo,
    normalise_address,
)
from ..wording import member_context, session_text
from .notify import CalendarFor, Cause, known_edition, known_registration, new_mail, notify_trio, queue
from .ports import Addresses, Editions, Emit, Mails, Registrations, Reminders
from .reminders import move_reminders

log = structlog.get_logger()


def invitation_for(
    edition: EditionInfo, sessions: list[SessionInfo], addresses: Addresses, now: datetime
) -> CalendarFor:
    made: dict[str, Callable[[tuple[str, str]], str]] = {}  # per language: a trio's members share the calendar

    def make(member: RegisteredMember, language: str) -> str:
        if language not in made:
            made[language] = calendar.invitations(
                edition,
                sessions,
                organizer=(addresses.sender_name, addresses.sender_email),
                stamp=now,
                language=language,
            )
        return made[language]((member.name, normalise_address(member.email)))

    return make


async def confirm_placement(
    placed: TrioPlaced,
    *,
    envelope: Event[Any],
    editions: Editions,
    registrations: Registrations,
    mails: Mails,
    emit: Emit,
    addresses: Addresses,
    now: datetime,
) -> None:
    """The place, the three sessions and the fee, with a calendar invitation for every session."""
    copy = await known_registration(registrations, placed.registration_id)
    if copy is None or copy.status in FINAL_STATUSES:
        return
    edition = await known_edition(editions, placed.edition)
    copy.status = STATUS_PLACED
    copy.waitlist_position = None
    await registrations.save(copy)
    await _supersede_waitlist_mails(mails, copy.registration_id)
    assert copy.details is not None
    details = copy.details
    await notify_trio(
        PLACED,
        Cause.of(envelope),
        copy,
        lambda m, lang: member_context(details, m, edition, lang) | {"via": placed.via},
        mails=mails,
        emit=emit,
        now=now,
        calendar_for=invitation_for(edition, edition.sessions, addresses, now),
    )


async def announce_waitlist(
    waitlisted: TrioWaitlisted,
    *,
    envelope: Event[Any],
    editions: Editions,
    registrations: Registrations,
    mails: Mails,
    emit: Emit,
    now: datetime,
) -> None:
    """The trio's waitlist position; a new mail only when the position differs from the last one we sent."""
    copy = await known_registration(registrations, waitlisted.registration_id)
    if copy is None or copy.status in (*FINAL_STATUSES, STATUS_PLACED):
        return
    if copy.waitlisted_at is not None and envelope.occurred_at <= copy.waitlisted_at:
        return  # overtaken by a newer position
    position = waitlisted.position
    unchanged = copy.status == STATUS_WAITLISTED and copy.waitlist_position == position
    copy.status = STATUS_WAITLISTED
    copy.waitlist_position = position
    copy.waitlisted_at = envelope.occurred_at
    await registrations.save(copy)
    if unchanged:
        return
    await _supersede_waitlist_mails(mails, copy.registration_id)
    assert copy.details is not None
    details = copy.details
    edition = await editions.get(details.edition)
    await notify_trio(
        WAITLISTED,
        Cause.of(envelope),
        copy,
        lambda m, lang: member_context(details, m, edition, lang) | {"position": position},
        mails=mails,
        emit=emit,
        now=now,
    )


async def _supersede_waitlist_mails(mails: Mails, registration_id: str) -> None:
    """A position mail still waiting to leave tells a position that no longer holds: it is not sent.

    Issue 5 asks for a mail whenever the position changes; the point is that members know their position. When
    admissions come fast, positions change faster than mail leaves (a burst of late approvals moved each
    waitlisted trio up to 18 times), and a queue of outdated positions would only confuse. A member still gets
    every position that lasted until its mail went out, and always the latest one.
    """
    superseded = await mails.supersede(registration_id, WAITLISTED)
    if superseded:  # debug: the mails' status is the record, and a burst supersedes thousands
        log.debug("waitlist_mails_superseded", registration_id=registration_id, mails=superseded)


async def warn_undersubscribed(
    closed: RegistrationClosed,
    *,
    envelope: Event[Any],
    editions: Editions,
    mails: Mails,
    addresses: Addresses,
    now: datetime,
) -> None:
    """Registration closed with fewer trios than the minimum: the organisers hear it, with the numbers."""
    if not closed.undersubscribed:
        return
    edition = await editions.get(closed.edition)
    capacity = (edition.capacity if edition else None) or {}
    context = {
        "edition_slug": closed.edition,
        "edition_title": edition.title if edition else None,
        "placed": len(closed.placed),
        "waitlisted": len(closed.waitlisted),
        "min_trios": capacity.get("min_trios"),
        "max_trios": capacity.get("max_trios"),
        "first_session": session_text(min(edition.sessions, key=lambda s: s.number), "nl")
        if edition and edition.sessions
        else None,
    }
    recipient = normalise_address(addresses.organizer_email)
    await queue(
        mails, new_mail(UNDERSUBSCRIBED, Cause.of(envelope), envelope.event_id, None, recipient, "nl", context, now)
    )


async def announce_reschedule(
    moved: SessionRescheduled,
    *,
    envelope: Event[Any],
    editions: Editions,
    registrations: Registrations,
    reminders: Reminders,
    mails: Mails,
    emit: Emit,
    addresses: Addresses,
    now: datetime,
) -> None:
    """A session moved: the placed trios get the new time with an updated invitation (same UID, higher
    SEQUENCE), and the session's reminders follow it."""
    edition = await known_edition(editions, moved.edition)
    session = edition.session(moved.session_number)
    if session is None or moved.sequence <= session.sequence:
        return  # unknown session, or a replay or an older change overtaken by a newer one
    previous = SessionInfo(session.number, session.title, session.starts_at, session.ends_at)
    session.starts_at, session.ends_at, session.sequence = moved.starts_at, moved.ends_at, moved.sequence
    await editions.save(edition)
    await move_reminders(reminders, moved.edition, session, now)
    for copy in await registrations.placed_in(moved.edition):
        assert copy.details is not None
        details = copy.details

        def context(member: RegisteredMember, language: str, details: TrioRegistered = details) -> dict[str, Any]:
            return member_context(details, member, edition, language) | {
                "session": {"number": session.number, "title": session.title, "when": session_text(session, language)},
                "previous_when": session_text(previous, language),
            }

        await notify_trio(
            RESCHEDULED,
            Cause.of(envelope),
            copy,
            context,
            mails=mails,
            emit=emit,
            now=now,
            calendar_for=invitation_for(edition, [session], addresses, now),
        )
