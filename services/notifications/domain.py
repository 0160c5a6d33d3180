"""Notification rules: what a mail says, when to try again. Pure: no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.contract.registration import Fee, RegisteredMember, TrioRegistered

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

ACKNOWLEDGEMENT = "acknowledgement"

PENDING = "pending"
SENT = "sent"
FAILED = "failed"

# Delay after the n-th failed attempt. A mail that fails MAX_ATTEMPTS times (about four hours in all) is given
# up and reported with NotificationFailed. Permanent SMTP refusals (5xx) are retried too: behind a relay they
# are as often a misconfiguration an operator can fix in time as a truly bad address.
RETRY_DELAYS = (
    timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
    timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1

# Fixed namespace so the same (event, kind, recipient) always yields the same notification_id.
NOTIFICATION_NAMESPACE = uuid.UUID("3f0f6a52-3c1e-4f55-9a0e-7d7b3c7f0a31")


@dataclass
class SessionInfo:
    number: int
    title: str
    starts_at: datetime
    ends_at: datetime


@dataclass
class EditionInfo:
    """Notifications' copy of an edition, from scheduling.EditionScheduled."""

    slug: str
    title: str
    venue: dict[str, str]
    registration_deadline: datetime
    sessions: list[SessionInfo]
    scheduled_at: datetime


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


@dataclass
class Outcome:
    """What one delivery attempt changes on a mail."""

    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    sent_at: datetime | None = None


def notification_id(caused_by: str, kind: str, recipient: str) -> str:
    return str(uuid.uuid5(NOTIFICATION_NAMESPACE, f"{caused_by}\n{kind}\n{recipient}"))


def after_attempt(mail: Mail, error: str | None, now: datetime) -> Outcome:
    """The mail's state after an attempt that succeeded (error None) or failed with `error`."""
    attempts = mail.attempts + 1
    if error is None:
        return Outcome(SENT, attempts, mail.next_attempt_at, None, now)
    if attempts >= MAX_ATTEMPTS:
        return Outcome(FAILED, attempts, mail.next_attempt_at, error)
    return Outcome(PENDING, attempts, now + RETRY_DELAYS[attempts - 1], error)


def mail_language(member: RegisteredMember) -> str:
    return "en" if member.language == "en" else "nl"


SIZE_CLASS_NAMES = {
    "nl": {"klein": "kleine gemeente", "middelgroot": "middelgrote gemeente", "groot": "grote gemeente"},
    "en": {"klein": "small municipality", "middelgroot": "medium-sized municipality", "groot": "large municipality"},
}


def fee_text(fee: Fee, language: str) -> str:
    """'200 euro', or 'kosteloos, middelgrote gemeente' when the fee is waived."""
    if fee.waived or fee.amount_cents == 0:
        free = "free of charge" if language == "en" else "kosteloos"
        reason = SIZE_CLASS_NAMES[language].get(fee.reason or "", fee.reason)
        return f"{free}, {reason}" if reason else free
    euros, cents = divmod(fee.amount_cents, 100)
    if cents:
        separator = "." if language == "en" else ","
        return f"{euros}{separator}{cents:02d} euro"
    return f"{euros} euro"


MONTHS = {
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
           "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}
WEEKDAYS = {
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


def day_text(moment: datetime, language: str) -> str:
    """'dinsdag 15 oktober 2019' in Amsterdam time."""
    local = moment.astimezone(AMSTERDAM)
    return f"{WEEKDAYS[language][local.weekday()]} {local.day} {MONTHS[language][local.month - 1]} {local.year}"


def clock_text(moment: datetime, language: str) -> str:
    local = moment.astimezone(AMSTERDAM)
    return f"{local.hour:02d}:{local.minute:02d}" if language == "en" else f"{local.hour:02d}.{local.minute:02d}"


def moment_text(moment: datetime, language: str) -> str:
    """'vrijdag 27 september 2019 om 12.00 uur' / 'Friday 27 September 2019 at 12:00'."""
    if language == "en":
        return f"{day_text(moment, language)} at {clock_text(moment, language)}"
    return f"{day_text(moment, language)} om {clock_text(moment, language)} uur"


def session_text(session: SessionInfo, language: str) -> str:
    span = f"{clock_text(session.starts_at, language)}-{clock_text(session.ends_at, language)}"
    return f"{day_text(session.starts_at, language)}, {span}" + ("" if language == "en" else " uur")


def acknowledgement_context(event: TrioRegistered, member: RegisteredMember, edition: EditionInfo | None,
                            language: str) -> dict[str, Any]:
    """Everything the acknowledgement templates show one member. An unknown edition is named by its slug."""
    return {
        "name": member.name,
        "others": [m.name for m in event.members if m.member_id != member.member_id],
        "edition_slug": event.edition,
        "edition_title": edition.title if edition else None,
        "case_title": event.case.title,
        "neighbourhood": event.case.neighbourhood,
        "municipality": event.municipality.name,
        "fee": fee_text(event.fee, language),
        "priority": event.priority,
        "deadline": moment_text(edition.registration_deadline, language) if edition else None,
        "venue": ", ".join(v for v in (edition.venue.get("name"), edition.venue.get("city")) if v) if edition else None,
        "sessions": [
            {"number": s.number, "title": s.title, "when": session_text(s, language)}
            for s in sorted(edition.sessions, key=lambda s: s.number)
        ] if edition else [],
        "registration_id": event.registration_id,
    }
