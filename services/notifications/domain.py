"""Notification rules: who gets what, what a mail says, when to try again. Pure: no I/O."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.contract.registration import ApprovalRequested, RegisteredMember, TrioRegistered

# Kinds of notification; also the template names (templates/<kind>.<language>.*).
ACKNOWLEDGEMENT = "acknowledgement"
APPROVAL_REQUEST = "approval_request"
APPROVED = "approved"
DECLINED = "declined"
CANCELLED = "cancelled"
PLACED = "placed"
WAITLISTED = "waitlisted"
UNDERSUBSCRIBED = "undersubscribed"
RESCHEDULED = "rescheduled"
REMINDER = "reminder"
LESSON_REPORT = "lesson_report"
INVOICE = "invoice"
CREDIT_NOTE = "credit_note"
PAYMENT_REMINDER = "payment_reminder"
# To one new member of a trio (registration.MemberReplaced): the trio, its status and, once placed, the invitation.
WELCOME = "welcome"
# To members already registered whom someone tried to register with another trio (RegistrationAttemptRefused).
REGISTRATION_ATTEMPT = "registration_attempt"
# An organiser's own message to an edition's placed or waitlisted members (notifications.SendAnnouncement).
ANNOUNCEMENT = "announcement"
# Where the member's name goes in an announcement rendered once per language; the store puts each name in (a
# private-use character, which the organiser's text cannot bring in: the handler strips it).
NAME_PLACEHOLDER = "\ue000name\ue000"
MEMBER_KINDS = (
    ACKNOWLEDGEMENT,
    APPROVED,
    DECLINED,
    CANCELLED,
    PLACED,
    WAITLISTED,
    RESCHEDULED,
    REMINDER,
    LESSON_REPORT,
)
KINDS = (*MEMBER_KINDS, APPROVAL_REQUEST, UNDERSUBSCRIBED, WELCOME, REGISTRATION_ATTEMPT)

# Mail statuses.
PENDING = "pending"
SENT = "sent"
FAILED = "failed"
ERASED = "erased"  # a privacy request removed it before it was sent
# A waitlist position that no longer held before the mail left: the member gets the newer position instead.
SUPERSEDED = "superseded"

# What notifications knows of a registration (RegistrationCopy.status).
REGISTERED = "registered"
STATUS_APPROVED = "approved"
STATUS_DECLINED = "declined"
STATUS_CANCELLED = "cancelled"
STATUS_PLACED = "placed"
STATUS_WAITLISTED = "waitlisted"
STATUS_RELEASED = "released"
FINAL_STATUSES = (STATUS_DECLINED, STATUS_CANCELLED)

# Delay after the n-th failed attempt. A mail that keeps failing temporarily (4xx, no connection) for
# MAX_ATTEMPTS attempts (about four hours in all) is given up and reported with NotificationFailed.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1

# Fixed namespace so the same (identity, kind, recipient) always yields the same notification_id.
NOTIFICATION_NAMESPACE = uuid.UUID("3f0f6a52-3c1e-4f55-9a0e-7d7b3c7f0a31")


@dataclass
class SessionInfo:
    number: int
    title: str
    starts_at: datetime
    ends_at: datetime
    outcome: str = ""
    # iCalendar SEQUENCE of the session's invitation; raised by scheduling.SessionRescheduled.
    sequence: int = 0


@dataclass
class EditionInfo:
    """Notifications' copy of an edition, from scheduling.EditionScheduled."""

    slug: str
    title: str
    venue: dict[str, str]
    registration_deadline: datetime
    sessions: list[SessionInfo]
    scheduled_at: datetime
    capacity: dict[str, int] | None = None

    def session(self, number: int) -> SessionInfo | None:
        return next((s for s in self.sessions if s.number == number), None)


@dataclass
class ApprovalCopy:
    """registration.ApprovalRequested as received, with the ids its mail is caused by."""

    event_id: str
    correlation_id: str
    request: ApprovalRequested


@dataclass
class RegistrationCopy:
    """Notifications' copy of a registration: TrioRegistered's data plus what later events changed.

    ApprovalRequested may arrive before TrioRegistered (both are published at once and consumed concurrently),
    so a copy can hold the approval request alone; the approver's mail is queued by whichever of the two
    events completes the copy.
    """

    registration_id: str
    details: TrioRegistered | None = None
    approval: ApprovalCopy | None = None
    status: str = REGISTERED
    waitlist_position: int | None = None
    # occurred_at of the waitlist event applied last: replicas may handle two of them out of order.
    waitlisted_at: datetime | None = None
    erased: bool = False

    @property
    def edition(self) -> str | None:
        return self.details.edition if self.details else None

    @property
    def reachable(self) -> bool:
        """Whether there is anyone to write to: the registration arrived and was not erased."""
        return self.details is not None and not self.erased


@dataclass
class Mail:
    notification_id: str
    kind: str
    caused_by: str
    correlation_id: str
    registration_id: str | None
    recipient: str
    language: str
    subject: str
    text: str
    html: str | None
    created_at: datetime
    next_attempt_at: datetime
    status: str = PENDING
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    calendar: str | None = None
    message_id: str | None = None
    # Files sent with the mail (an invoice's PDF and UBL): {"filename", "content_type", "content_base64"}.
    attachments: list[dict[str, str]] | None = None


@dataclass
class Outcome:
    """What one delivery attempt changes on a mail."""

    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    sent_at: datetime | None = None


@dataclass
class Reminder:
    """One reminder for one trio before one session; exactly once per (key, generation)."""

    key: str
    edition: str
    session_number: int
    registration_id: str
    offset: str
    table: int | None
    due_at: datetime
    caused_by: str
    correlation_id: str
    generation: int = 0
    queued_at: datetime | None = None
    skipped: bool = False
    # When scheduling decided the table (the seating event's occurred_at): a seating older than that is late and
    # leaves the table as it is. None: planned before reminders kept it.
    seated_at: datetime | None = None

    @property
    def identity(self) -> str:
        return f"reminder:{self.key}:{self.generation}"


def notification_id(identity: str, kind: str, recipient: str) -> str:
    """`identity` is the causing event's id, or a key shared by events that must yield one notification."""
    return str(uuid.uuid5(NOTIFICATION_NAMESPACE, f"{identity}\n{kind}\n{recipient}"))


def normalise_address(address: str) -> str:
    return address.strip().lower()


class SmtpRefusal(Exception):
    """The server answered a mail with an error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"SMTP {code}: {message}")
        self.code = code


def is_permanent(code: int | None) -> bool:
    """5xx: the server refuses for good; anything else (4xx, no connection, timeout) may pass later."""
    return code is not None and 500 <= code < 600


def after_attempt(mail: Mail, error: str | None, now: datetime, *, permanent: bool = False) -> Outcome:
    """The mail's state after an attempt that succeeded (error None) or failed with `error`."""
    attempts = mail.attempts + 1
    if error is None:
        return Outcome(SENT, attempts, mail.next_attempt_at, None, now)
    if permanent or attempts >= MAX_ATTEMPTS:
        return Outcome(FAILED, attempts, mail.next_attempt_at, error)
    return Outcome(PENDING, attempts, now + RETRY_DELAYS[attempts - 1], error)


def mail_language(member: RegisteredMember) -> str:
    return "en" if member.language == "en" else "nl"


def group_language(members: list[RegisteredMember]) -> str:
    """One text for the whole trio (chat room, approver): English only when every member chose English."""
    return "en" if members and all(mail_language(m) == "en" for m in members) else "nl"


DURATION = re.compile(r"^\s*(\d+)\s*([dhms])\s*$")
UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_offsets(text: str) -> list[tuple[str, timedelta]]:
    """'7d,1d' -> [('7d', 7 days), ('1d', 1 day)]; durations in d, h, m or s. ValueError when malformed."""
    offsets: list[tuple[str, timedelta]] = []
    for part in (p for p in text.split(",") if p.strip()):
        match = DURATION.match(part)
        if match is None:
            raise ValueError(f"{part.strip()!r} is not a duration like 7d, 1d, 2h, 30m or 30s")
        label = f"{int(match.group(1))}{match.group(2)}"
        if label not in (o[0] for o in offsets):
            offsets.append((label, timedelta(**{UNITS[match.group(2)]: int(match.group(1))})))
    return sorted(offsets, key=lambda o: o[1], reverse=True)


def reminder_key(edition: str, session_number: int, registration_id: str, offset: str) -> str:
    return f"{edition}:{session_number}:{registration_id}:{offset}"


def due_reminders_to_send(due: list[Reminder]) -> tuple[list[Reminder], list[Reminder]]:
    """Of the reminders that are due, which to send and which to skip.

    When several are due at once for one trio and session (seating planned late, or the service was down),
    only the latest (closest to the session) is sent: two reminders in one minute say nothing new.
    """
    latest: dict[tuple[str, int, str], Reminder] = {}
    for reminder in due:
        group = (reminder.edition, reminder.session_number, reminder.registration_id)
        if group not in latest or reminder.due_at > latest[group].due_at:
            latest[group] = reminder
    send = list(latest.values())
    return send, [r for r in due if r not in send]
