"""The subscribable calendar of an edition (RFC 5545, via icalendar): one event per session."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from icalendar.enums import STATUS

from .domain import Edition, Session

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
UID_DOMAIN = "werkplaatsen.platform31.nl"
PRODID = "-//Platform31//Werkplaatsen wijkgericht werken//NL"


def session_uid(edition: str, number: int) -> str:
    """Stable per edition and session, so a moved session replaces the earlier entry (with a higher SEQUENCE)."""
    return f"{edition}-bijeenkomst-{number}@{UID_DOMAIN}"


def edition_calendar(edition: Edition, now: datetime, url: str | None = None) -> bytes:
    calendar = Calendar.new(
        prodid=PRODID,
        method="PUBLISH",
        name=f"{edition.title} ({edition.slug})",
        description=f"De bijeenkomsten van {edition.title}, {edition.venue.get('city', '')}.",
        refresh_interval=timedelta(hours=12),
        url=url,
        subcomponents=[_event(edition, s, now) for s in sorted(edition.sessions, key=lambda s: s.number)],
    )
    calendar.add("X-WR-TIMEZONE", "Europe/Amsterdam")
    calendar.add("X-PUBLISHED-TTL", timedelta(hours=12))
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _event(edition: Edition, session: Session, now: datetime) -> Event:
    venue = edition.venue
    location = ", ".join(part for part in (venue.get("name"), venue.get("address"), venue.get("city")) if part)
    return Event.new(
        uid=session_uid(edition.slug, session.number),
        summary=f"Werkplaats {session.number}: {session.title}",
        description=session.outcome,
        location=location,
        start=session.starts_at.astimezone(AMSTERDAM),
        end=session.ends_at.astimezone(AMSTERDAM),
        sequence=session.sequence,
        stamp=now,
        status=STATUS.CONFIRMED,
    )
