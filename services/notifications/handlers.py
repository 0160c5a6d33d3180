"""Notification use cases. Each takes its dependencies as arguments so tests can pass in-memory fakes.

A handler runs in the transaction that records its event in the inbox: the mails it queues (and the chat
messages it emits) are committed with that claim, and the sender delivers them afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from shared.contract import Event, EventData
from shared.contract.common import Channel
from shared.contract.notifications import ChatMessageRequested
from shared.contract.registration import (
    ApprovalRequested,
    CreditNoteIssued,
    InvoiceIssued,
    InvoiceOverdue,
    ParticipantDataErased,
    RegisteredMember,
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.reporting import LessonReportPublished
from shared.contract.scheduling import (
    EditionScheduled,
    PlaceReleased,
    RegistrationClosed,
    SeatingPlanned,
    SessionRescheduled,
    TrioPlaced,
    TrioWaitlisted,
)

from . import calendar
from .domain import (
    ACKNOWLEDGEMENT,
    APPROVAL_REQUEST,
    APPROVED,
    CANCELLED,
    CREDIT_NOTE,
    INVOICE,
    PAYMENT_REMINDER,
    DECLINED,
    FINAL_STATUSES,
    LESSON_REPORT,
    PLACED,
    REGISTERED,
    REMINDER,
    RESCHEDULED,
    STATUS_APPROVED,
    STATUS_CANCELLED,
    STATUS_DECLINED,
    STATUS_PLACED,
    STATUS_RELEASED,
    STATUS_WAITLISTED,
    UNDERSUBSCRIBED,
    WAITLISTED,
    ApprovalCopy,
    EditionInfo,
    Mail,
    RegistrationCopy,
    Reminder,
    SessionInfo,
    acknowledgement_context,
    amount_text,
    date_text,
    approval_context,
    due_reminders_to_send,
    group_language,
    mail_language,
    member_context,
    moment_text,
    normalise_address,
    notification_id,
    parse_offsets,
    reminder_key,
    session_text,
)
from .rendering import render_chat, render_mail

log = structlog.get_logger()

Emit = Callable[[EventData], object]


class RegistrationNotYetKnown(Exception):
    """An event about a registration whose TrioRegistered has not arrived yet: retried later by the transport."""


class EditionNotYetKnown(Exception):
    """An event about an edition whose EditionScheduled has not arrived yet: retried later by the transport."""


class Editions(Protocol):
    async def get(self, slug: str, *, for_update: bool = False) -> EditionInfo | None: ...
    async def save(self, edition: EditionInfo) -> None: ...


class Mails(Protocol):
    async def add(self, mails: Sequence[Mail]) -> set[str]:
        """Store pending mails in one go; the notification_ids stored (a mail whose id exists is not stored)."""
        ...

    async def erase(self, registration_id: str) -> int: ...

    async def supersede(self, registration_id: str, kind: str) -> int:
        """Mark the registration's pending mails of `kind` as not to be sent; returns how many."""
        ...


class Registrations(Protocol):
    async def get(self, registration_id: str) -> RegistrationCopy | None: ...
    async def merge_details(self, details: TrioRegistered) -> RegistrationCopy: ...
    async def merge_approval(self, registration_id: str, approval: ApprovalCopy) -> RegistrationCopy: ...
    async def save(self, copy: RegistrationCopy) -> None: ...
    async def placed_in(self, edition: str) -> list[RegistrationCopy]: ...


class Reminders(Protocol):
    async def get(self, key: str) -> Reminder | None: ...
    async def save(self, reminder: Reminder) -> None: ...
    async def of_session(self, edition: str, session_number: int) -> list[Reminder]: ...
    async def due(self, now: datetime, limit: int = 100) -> list[Reminder]: ...


@dataclass(frozen=True)
class Addresses:
    """Who mails come from, where organiser warnings go, and the status link of a registration."""

    sender_name: str
    sender_email: str
    organizer_email: str
    status_url: Callable[[str], str]


@dataclass(frozen=True)
class Cause:
    event_id: str
    correlation_id: str

    @classmethod
    def of(cls, event: Event[Any]) -> Cause:
        return cls(event.event_id, event.correlation_id)


ContextFor = Callable[[RegisteredMember, str], dict[str, Any]]
CalendarFor = Callable[[RegisteredMember, str], str | None]


async def _queue(mails: Mails, *queued: Mail) -> int:
    """Store mails (a trio's three in one statement); returns how many were new."""
    added = await mails.add(queued)
    for mail in queued:
        if mail.notification_id in added:
            log.info("mail_queued", notification_id=mail.notification_id, kind=mail.kind)
    return len(added)


def _mail(kind: str, cause: Cause, identity: str, registration_id: str | None, recipient: str, language: str,
          context: dict[str, Any], now: datetime, calendar_text: str | None = None,
          attachments: list[dict[str, str]] | None = None) -> Mail:
    rendered = render_mail(kind, language, context)
    return Mail(
        notification_id=notification_id(identity, kind, recipient), kind=kind, caused_by=cause.event_id,
        correlation_id=cause.correlation_id, registration_id=registration_id, recipient=recipient,
        language=language, subject=rendered.subject, text=rendered.text, html=rendered.html, created_at=now,
        next_attempt_at=now, calendar=calendar_text, attachments=attachments,
    )


async def _notify_trio(kind: str, cause: Cause, copy: RegistrationCopy, context: ContextFor, *, mails: Mails,
                       emit: Emit, now: datetime, identity: str | None = None,
                       calendar_for: CalendarFor | None = None) -> int:
    """One mail per member in the member's language; for a chat registration also one message to the room."""
    details = copy.details
    assert details is not None
    batch = []
    for member in details.members:
        language = mail_language(member)
        recipient = normalise_address(member.email)
        batch.append(_mail(kind, cause, identity or cause.event_id, copy.registration_id, recipient, language,
                           context(member, language), now, calendar_for(member, language) if calendar_for else None))
    queued = await _queue(mails, *batch)
    if queued and details.channel == Channel.chat and details.chat_id:
        language = group_language(details.members)
        emit(ChatMessageRequested(chat_id=details.chat_id,
                                  text=render_chat(kind, language, context(details.members[0], language))))
    return queued


async def _known(registrations: Registrations, registration_id: str) -> RegistrationCopy | None:
    """The copy to write to; None when its data was erased; RegistrationNotYetKnown when it has not arrived."""
    copy = await registrations.get(registration_id)
    if copy is None or (copy.details is None and not copy.erased):
        raise RegistrationNotYetKnown(registration_id)
    return copy if copy.reachable else None


# registration.*


async def acknowledge_registration(event: Event[TrioRegistered], *, editions: Editions,
                                   registrations: Registrations, mails: Mails, emit: Emit, addresses: Addresses,
                                   now: datetime) -> None:
    """Keep a copy of the registration and queue an acknowledgement for each member (and the approver's mail,
    if the approval request arrived first)."""
    registration = event.data
    copy = await registrations.merge_details(registration)
    if not copy.reachable:
        return
    edition = await editions.get(registration.edition)
    status_url = addresses.status_url(registration.registration_id)
    await _notify_trio(ACKNOWLEDGEMENT, Cause.of(event), copy,
                       lambda m, lang: acknowledgement_context(registration, m, edition, lang, status_url),
                       mails=mails, emit=emit, now=now)
    if copy.approval is not None:
        await _ask_approver(copy, edition, mails=mails, now=now)


async def request_approval(event: Event[ApprovalRequested], *, editions: Editions, registrations: Registrations,
                           mails: Mails, now: datetime) -> None:
    """Mail the approver. Without the registration's copy yet, the request is kept and TrioRegistered sends it."""
    copy = await registrations.merge_approval(
        event.data.registration_id, ApprovalCopy(event.event_id, event.correlation_id, event.data))
    if not copy.reachable:
        return
    assert copy.details is not None
    await _ask_approver(copy, await editions.get(copy.details.edition), mails=mails, now=now)


async def _ask_approver(copy: RegistrationCopy, edition: EditionInfo | None, *, mails: Mails, now: datetime) -> None:
    assert copy.details is not None and copy.approval is not None
    request = copy.approval.request
    language = group_language(copy.details.members)
    mail = _mail(APPROVAL_REQUEST, Cause(copy.approval.event_id, copy.approval.correlation_id),
                 copy.approval.event_id, copy.registration_id, normalise_address(request.approver.email), language,
                 approval_context(copy.details, request, edition, language), now)
    await _queue(mails, mail)


async def announce_approval(event: Event[RegistrationApproved], *, editions: Editions,
                            registrations: Registrations, mails: Mails, emit: Emit, now: datetime) -> None:
    copy = await _known(registrations, event.data.registration_id)
    if copy is None or copy.status in FINAL_STATUSES:
        return
    if copy.status == REGISTERED:
        copy.status = STATUS_APPROVED
        await registrations.save(copy)
    assert copy.details is not None
    details = copy.details
    edition = await editions.get(details.edition)

    def context(member: RegisteredMember, language: str) -> dict[str, Any]:
        return member_context(details, member, edition, language) | {
            "by_organizer": event.data.by_organizer,
            "deadline": moment_text(edition.registration_deadline, language) if edition else None,
        }

    await _notify_trio(APPROVED, Cause.of(event), copy, context, mails=mails, emit=emit, now=now)


async def announce_decline(event: Event[RegistrationDeclined], *, editions: Editions,
                           registrations: Registrations, mails: Mails, emit: Emit, now: datetime) -> None:
    copy = await _known(registrations, event.data.registration_id)
    if copy is None:
        return
    copy.status = STATUS_DECLINED
    await registrations.save(copy)
    assert copy.details is not None
    details = copy.details
    edition = await editions.get(details.edition)
    await _notify_trio(DECLINED, Cause.of(event), copy, lambda m, lang: member_context(details, m, edition, lang) | {
        "reason": event.data.reason, "by_organizer": event.data.by_organizer,
    }, mails=mails, emit=emit, now=now)


async def confirm_cancellation(event: Event[RegistrationCancelled] | Event[PlaceReleased], *, editions: Editions,
                               registrations: Registrations, mails: Mails, emit: Emit, now: datetime) -> None:
    """RegistrationCancelled and the PlaceReleased it causes mean one thing to the trio: one mail, not two."""
    copy = await _known(registrations, event.data.registration_id)
    if copy is None:
        return
    cancelled = isinstance(event.data, RegistrationCancelled)
    if cancelled or copy.status not in FINAL_STATUSES:
        copy.status = STATUS_CANCELLED if cancelled else STATUS_RELEASED
        await registrations.save(copy)
    assert copy.details is not None
    details = copy.details
    edition = await editions.get(details.edition)
    reason = event.data.reason if cancelled else None
    await _notify_trio(CANCELLED, Cause.of(event), copy,
                       lambda m, lang: member_context(details, m, edition, lang) | {"reason": reason},
                       mails=mails, emit=emit, now=now, identity=f"{copy.registration_id}:cancelled")


async def erase_participant_data(event: Event[ParticipantDataErased], *, registrations: Registrations,
                                 mails: Mails) -> None:
    """Privacy request: blank the registration's copy and the addresses and texts of its mails."""
    registration_id = event.data.registration_id
    copy = await registrations.get(registration_id) or RegistrationCopy(registration_id)
    # An erased stub also stops a TrioRegistered that is still under way from bringing the data back.
    copy.details = None
    copy.approval = None
    copy.erased = True
    await registrations.save(copy)
    erased = await mails.erase(registration_id)
    log.info("participant_data_erased", mails=erased)


# scheduling.*


async def remember_edition(event: Event[EditionScheduled], *, editions: Editions) -> None:
    """Keep the newest copy of the edition; an update overtaken by a later one is ignored."""
    data = event.data
    existing = await editions.get(data.edition)
    if existing is not None and existing.scheduled_at > event.occurred_at:
        return
    sequences = {s.number: s.sequence for s in existing.sessions} if existing else {}
    await editions.save(EditionInfo(
        slug=data.edition, title=data.title, venue=data.venue.model_dump(),
        registration_deadline=data.registration_deadline,
        sessions=[SessionInfo(s.number, s.title, s.starts_at, s.ends_at, s.outcome, sequences.get(s.number, 0))
                  for s in data.sessions],
        scheduled_at=event.occurred_at, capacity=data.capacity.model_dump(),
    ))


async def _edition(editions: Editions, slug: str, *, for_update: bool = False) -> EditionInfo:
    edition = await editions.get(slug, for_update=for_update)
    if edition is None:
        raise EditionNotYetKnown(slug)
    return edition


def _invitation_for(edition: EditionInfo, sessions: list[SessionInfo], addresses: Addresses,
                    now: datetime) -> CalendarFor:
    def make(member: RegisteredMember, language: str) -> str:
        return calendar.invitation(edition, sessions, organizer=(addresses.sender_name, addresses.sender_email),
                                   attendee=(member.name, normalise_address(member.email)), stamp=now,
                                   language=language)
    return make


async def confirm_placement(event: Event[TrioPlaced], *, editions: Editions, registrations: Registrations,
                            mails: Mails, emit: Emit, addresses: Addresses, now: datetime) -> None:
    """The place, the three sessions and the fee, with a calendar invitation for every session."""
    copy = await _known(registrations, event.data.registration_id)
    if copy is None or copy.status in FINAL_STATUSES:
        return
    edition = await _edition(editions, event.data.edition)
    copy.status = STATUS_PLACED
    copy.waitlist_position = None
    await registrations.save(copy)
    await _supersede_waitlist_mails(mails, copy.registration_id)
    assert copy.details is not None
    details = copy.details
    await _notify_trio(PLACED, Cause.of(event), copy, lambda m, lang: member_context(details, m, edition, lang) | {
        "via": event.data.via,
    }, mails=mails, emit=emit, now=now, calendar_for=_invitation_for(edition, edition.sessions, addresses, now))


async def announce_waitlist(event: Event[TrioWaitlisted], *, editions: Editions, registrations: Registrations,
                            mails: Mails, emit: Emit, now: datetime) -> None:
    """The trio's waitlist position; a new mail only when the position differs from the last one we sent."""
    copy = await _known(registrations, event.data.registration_id)
    if copy is None or copy.status in (*FINAL_STATUSES, STATUS_PLACED):
        return
    if copy.waitlisted_at is not None and event.occurred_at <= copy.waitlisted_at:
        return  # overtaken by a newer position
    position = event.data.position
    unchanged = copy.status == STATUS_WAITLISTED and copy.waitlist_position == position
    copy.status = STATUS_WAITLISTED
    copy.waitlist_position = position
    copy.waitlisted_at = event.occurred_at
    await registrations.save(copy)
    if unchanged:
        return
    await _supersede_waitlist_mails(mails, copy.registration_id)
    assert copy.details is not None
    details = copy.details
    edition = await editions.get(details.edition)
    await _notify_trio(WAITLISTED, Cause.of(event), copy, lambda m, lang: member_context(details, m, edition, lang) | {
        "position": position,
    }, mails=mails, emit=emit, now=now)


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


async def warn_undersubscribed(event: Event[RegistrationClosed], *, editions: Editions, mails: Mails,
                               addresses: Addresses, now: datetime) -> None:
    """Registration closed with fewer trios than the minimum: the organisers hear it, with the numbers."""
    data = event.data
    if not data.undersubscribed:
        return
    edition = await editions.get(data.edition)
    capacity = (edition.capacity if edition else None) or {}
    context = {
        "edition_slug": data.edition, "edition_title": edition.title if edition else None,
        "placed": len(data.placed), "waitlisted": len(data.waitlisted),
        "min_trios": capacity.get("min_trios"), "max_trios": capacity.get("max_trios"),
        "first_session": session_text(min(edition.sessions, key=lambda s: s.number), "nl")
        if edition and edition.sessions else None,
    }
    recipient = normalise_address(addresses.organizer_email)
    await _queue(mails, _mail(UNDERSUBSCRIBED, Cause.of(event), event.event_id, None, recipient, "nl", context, now))


async def announce_reschedule(event: Event[SessionRescheduled], *, editions: Editions,
                              registrations: Registrations, reminders: Reminders, mails: Mails, emit: Emit,
                              addresses: Addresses, now: datetime) -> None:
    """A session moved: the placed trios get the new time with an updated invitation (same UID, higher
    SEQUENCE), and the session's reminders follow it."""
    data = event.data
    edition = await _edition(editions, data.edition)
    session = edition.session(data.session_number)
    if session is None or data.sequence <= session.sequence:
        return  # unknown session, or a replay or an older change overtaken by a newer one
    previous = SessionInfo(session.number, session.title, session.starts_at, session.ends_at)
    session.starts_at, session.ends_at, session.sequence = data.starts_at, data.ends_at, data.sequence
    await editions.save(edition)
    await _move_reminders(reminders, data.edition, session, now)
    for copy in await registrations.placed_in(data.edition):
        assert copy.details is not None
        details = copy.details

        def context(member: RegisteredMember, language: str, details: TrioRegistered = details) -> dict[str, Any]:
            return member_context(details, member, edition, language) | {
                "session": {"number": session.number, "title": session.title,
                            "when": session_text(session, language)},
                "previous_when": session_text(previous, language),
            }

        await _notify_trio(RESCHEDULED, Cause.of(event), copy, context, mails=mails, emit=emit, now=now,
                           calendar_for=_invitation_for(edition, [session], addresses, now))


async def _move_reminders(reminders: Reminders, edition: str, session: SessionInfo, now: datetime) -> None:
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


async def plan_reminders(event: Event[SeatingPlanned], *, editions: Editions, reminders: Reminders,
                         offsets: list[tuple[str, timedelta]], now: datetime) -> None:
    """A reminder per trio at the table and per offset before the session; a new seating updates the tables."""
    data = event.data
    # Replans of one edition take turns on its row: two of them inserting the same reminders at once would
    # collide on the key (or deadlock) and be retried.
    edition = await _edition(editions, data.edition, for_update=True)
    session = edition.session(data.session_number)
    if session is None:
        return
    for table in data.tables:
        for registration_id in table.registration_ids:
            for label, offset in offsets:
                key = reminder_key(data.edition, data.session_number, registration_id, label)
                reminder = await reminders.get(key) or Reminder(
                    key=key, edition=data.edition, session_number=data.session_number,
                    registration_id=registration_id, offset=label, table=table.table,
                    due_at=session.starts_at - offset, caused_by=event.event_id,
                    correlation_id=event.correlation_id)
                reminder.table = table.table
                await reminders.save(reminder)


async def queue_due_reminders(*, reminders: Reminders, registrations: Registrations, editions: Editions,
                              mails: Mails, emit_for: Callable[[Reminder], Emit], now: datetime) -> int:
    """Turn due reminders into mails (the sender then delivers them); returns how many reminders were queued."""
    send, superseded = due_reminders_to_send(await reminders.due(now))
    for reminder in superseded:
        reminder.skipped = True
        await reminders.save(reminder)
    queued = 0
    for reminder in send:
        if await _remind(reminder, registrations=registrations, editions=editions, mails=mails,
                         emit=emit_for(reminder), now=now):
            reminder.queued_at = now
            queued += 1
        else:
            reminder.skipped = True
        await reminders.save(reminder)
    return queued


async def _remind(reminder: Reminder, *, registrations: Registrations, editions: Editions, mails: Mails,
                  emit: Emit, now: datetime) -> bool:
    copy = await registrations.get(reminder.registration_id)
    edition = await editions.get(reminder.edition)
    session = edition.session(reminder.session_number) if edition else None
    if copy is None or not copy.reachable or copy.status != STATUS_PLACED or session is None \
            or session.starts_at <= now:
        return False
    assert copy.details is not None
    details = copy.details

    def context(member: RegisteredMember, language: str) -> dict[str, Any]:
        return member_context(details, member, edition, language) | {
            "session": {"number": session.number, "title": session.title, "when": session_text(session, language),
                        "outcome": session.outcome},
            "table": reminder.table,
        }

    await _notify_trio(REMINDER, Cause(reminder.caused_by, reminder.correlation_id), copy, context, mails=mails,
                       emit=emit, now=now, identity=reminder.identity)
    return True


# reporting.*


async def announce_report(event: Event[LessonReportPublished], *, editions: Editions,
                          registrations: Registrations, mails: Mails, emit: Emit, now: datetime) -> None:
    """The public summary of a session (or of the round) is online: the placed trios get the link."""
    data = event.data
    edition = await editions.get(data.edition)
    for copy in await registrations.placed_in(data.edition):
        assert copy.details is not None
        details = copy.details

        def context(member: RegisteredMember, language: str, details: TrioRegistered = details) -> dict[str, Any]:
            return member_context(details, member, edition, language) | {
                "report_title": data.title, "report_url": data.url, "session_number": data.session_number,
            }

        await _notify_trio(LESSON_REPORT, Cause.of(event), copy, context, mails=mails, emit=emit, now=now)


# registration.* billing


def _billing_recipient(email: str) -> str | None:
    """The invoice's mailbox; None once registration erased it (it was a participant's own address)."""
    address = normalise_address(email)
    return address if "@" in address else None


async def send_invoice(event: Event[InvoiceIssued] | Event[CreditNoteIssued], *, editions: Editions, mails: Mails,
                       now: datetime) -> None:
    """The invoice (or credit note) to its mailbox, with the PDF and the UBL e-invoice attached, as issued."""
    data = event.data
    recipient = _billing_recipient(data.recipient.email)
    if recipient is None:
        return
    language = str(data.recipient.language)
    edition = await editions.get(data.edition)
    context: dict[str, Any] = {
        "invoice_number": data.invoice_number, "edition": data.edition,
        "edition_title": edition.title if edition else "Werkplaatsen wijkgericht werken",
        "total": amount_text(data.total_cents, language), "vat": amount_text(data.vat_cents, language),
        "issue_date": date_text(data.issue_date, language), "pdf_url": data.urls.pdf, "ubl_url": data.urls.ubl,
    }
    if isinstance(data, InvoiceIssued):
        kind, identity = INVOICE, f"invoice:{data.invoice_number}"
        context |= {"buyer_name": data.buyer_name, "buyer_reference": data.buyer_reference,
                    "due_date": date_text(data.due_date, language)}
    else:
        kind, identity = CREDIT_NOTE, f"credit-note:{data.credit_note_number}"
        context |= {"credit_note_number": data.credit_note_number}
    attachments = [a.model_dump() for a in data.attachments]
    await _queue(mails, _mail(kind, Cause.of(event), identity, data.registration_id, recipient, language, context,
                              now, attachments=attachments))


async def remind_payment(event: Event[InvoiceOverdue], *, editions: Editions, mails: Mails, now: datetime) -> None:
    """A friendly reminder, once per invoice, to the mailbox the invoice went to."""
    data = event.data
    recipient = _billing_recipient(data.recipient.email)
    if recipient is None:
        return
    language = str(data.recipient.language)
    edition = await editions.get(data.edition)
    context = {
        "invoice_number": data.invoice_number, "buyer_reference": data.buyer_reference,
        "edition_title": edition.title if edition else "Werkplaatsen wijkgericht werken",
        "issue_date": date_text(data.issue_date, language), "due_date": date_text(data.due_date, language),
        "open": amount_text(data.open_cents, language), "pdf_url": data.urls.pdf, "ubl_url": data.urls.ubl,
    }
    await _queue(mails, _mail(PAYMENT_REMINDER, Cause.of(event), f"overdue:{data.invoice_number}",
                              data.registration_id, recipient, language, context, now))
