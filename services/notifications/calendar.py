"""Calendar invitations (RFC 5545/5546) for the sessions of an edition. Pure: no I/O.

One VEVENT per session with a UID that depends only on the edition and the session number, so a calendar
client replaces the earlier invitation when it receives an update with a higher SEQUENCE (a reschedule).
Times are written in Europe/Amsterdam with the zone's VTIMEZONE included.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from shared.formatting import AMSTERDAM

from .domain import EditionInfo, SessionInfo
from .wording import venue_text

PRODID = "-//Platform31//Werkplaatsen wijkgericht werken//NL"
UID_DOMAIN = "werkplaatsen.platform31.nl"
# Stand in for the attendee and the moment while `invitations` makes an edition's calendar once.
_PLACEHOLDER = ("Werkplaatsen attendee placeholder", "attendee@placeholder.invalid")
_PLACEHOLDER_STAMP = datetime(2000, 1, 1, tzinfo=UTC)
# The calendars `invitations` made, by what they are made of (the editions placed in lately); at most this many.
TEMPLATES_KEPT = 32
_TEMPLATES: dict[tuple[Any, ...], str] = {}


def session_uid(edition: str, session_number: int) -> str:
    return f"{edition}-bijeenkomst-{session_number}@{UID_DOMAIN}"


def invitation(
    edition: EditionInfo,
    sessions: list[SessionInfo],
    *,
    organizer: tuple[str, str],
    attendee: tuple[str, str],
    stamp: datetime,
    language: str,
) -> str:
    """A METHOD:REQUEST calendar with one event per session, for one attendee (name, address)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    calendar.add("calscale", "GREGORIAN")
    for session in sorted(sessions, key=lambda s: s.number):
        calendar.add_component(_event(edition, session, organizer, attendee, stamp, language))
    first = min(s.starts_at for s in sessions).astimezone(AMSTERDAM).date()
    last = max(s.ends_at for s in sessions).astimezone(AMSTERDAM).date()
    # The zone's rules for the years around the sessions are enough; the full history makes a 6 KB attachment.
    calendar.add_missing_timezones(first_date=date(first.year - 1, 1, 1), last_date=date(last.year + 2, 1, 1))
    return calendar.to_ical().decode()


def invitations(
    edition: EditionInfo, sessions: list[SessionInfo], *, organizer: tuple[str, str], stamp: datetime, language: str
) -> Callable[[tuple[str, str]], str]:
    """`invitation` for any attendee (name, address), the calendar made once: a trio's members get the same one
    but for their ATTENDEE lines, and every trio placed in the edition the same but for its DTSTAMP. Making it
    (zone rules and all) was most of a placement mail's CPU."""
    key = (
        edition.slug,
        edition.title,
        tuple(sorted((edition.venue or {}).items())),
        tuple((s.number, s.title, s.starts_at, s.ends_at, s.outcome, s.sequence) for s in sessions),
        organizer,
        language,
    )
    template = _TEMPLATES.get(key)
    if template is None:
        template = invitation(
            edition, sessions, organizer=organizer, attendee=_PLACEHOLDER, stamp=_PLACEHOLDER_STAMP, language=language
        )
        if len(_TEMPLATES) >= TEMPLATES_KEPT:
            _TEMPLATES.clear()
        _TEMPLATES[key] = template
    attendee_placeholder = f"\r\n{_attendee_lines(_PLACEHOLDER)}\r\n"
    stamp_placeholder, stamp_line = (f"\r\n{_dtstamp_line(s)}\r\n" for s in (_PLACEHOLDER_STAMP, stamp))
    if template.count(attendee_placeholder) != len(sessions) or template.count(stamp_placeholder) != len(sessions):
        return lambda attendee: invitation(  # not as expected: make each one in full instead
            edition, sessions, organizer=organizer, attendee=attendee, stamp=stamp, language=language
        )
    stamped = template.replace(stamp_placeholder, stamp_line)
    return lambda attendee: stamped.replace(attendee_placeholder, f"\r\n{_attendee_lines(attendee)}\r\n")


def _dtstamp_line(stamp: datetime) -> str:
    event = Event()
    event.add("dtstamp", stamp)
    return str(event.content_line("DTSTAMP", event["DTSTAMP"]).to_ical().decode())


def _attendee_lines(attendee: tuple[str, str]) -> str:
    """The ATTENDEE property exactly as `to_ical` writes it in an event (parameters sorted, folded at 75 octets)."""
    event = Event()
    event.add("attendee", _address(*attendee, role="REQ-PARTICIPANT"))
    return str(event.content_line("ATTENDEE", event["ATTENDEE"]).to_ical().decode())


def _event(
    edition: EditionInfo,
    session: SessionInfo,
    organizer: tuple[str, str],
    attendee: tuple[str, str],
    stamp: datetime,
    language: str,
) -> Event:
    event = Event()
    event.add("uid", session_uid(edition.slug, session.number))
    event.add("sequence", session.sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", session.starts_at.astimezone(AMSTERDAM))
    event.add("dtend", session.ends_at.astimezone(AMSTERDAM))
    label = "Session" if language == "en" else "Bijeenkomst"
    event.add("summary", f"{label} {session.number}: {session.title} ({edition.title})")
    if session.outcome:
        event.add("description", session.outcome)
    location = venue_text(edition.venue)
    if location:
        event.add("location", location)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", _address(*organizer, role=None))
    event.add("attendee", _address(*attendee, role="REQ-PARTICIPANT"))
    event.add_component(_alarm(language))
    return event


def _address(name: str, email: str, *, role: str | None) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["cn"] = vText(name)
    if role:
        address.params["role"] = vText(role)
        address.params["partstat"] = vText("NEEDS-ACTION")
        address.params["rsvp"] = vText("FALSE")
    return address


def _alarm(language: str) -> Alarm:
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", "Werkplaats wijkgericht werken" if language == "nl" else "Neighbourhood workshop")
    alarm.add("trigger", timedelta(hours=-2))
    return alarm
