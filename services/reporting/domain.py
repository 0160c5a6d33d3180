"""Reporting rules: what a public session report holds, anonymisation, and how dates read in Dutch. Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
REMOVED = "[verwijderd]"

MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
          "november", "december")

EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)

# A phone number: a country code (+31, 0031, any +NN) or the Dutch trunk 0, then the number's digits, which may be
# grouped by a space, dot, hyphen or slash (" - " too), with an optional "(0)" or parenthesised area code.
_GAP = r"(?:\s?[.\-/]\s?|\s|\)\s?)?"
PHONE = re.compile(
    rf"""
    (?<![\w+@])
    (?:
        (?:\+|00)\d{{1,3}}{_GAP}(?:\(0\){_GAP})?   # +31 6..., 0031 6..., +31 (0)6...
        \d(?:{_GAP}\d){{6,11}}
      | (?:\((?=0\d{{1,3}}\)))?0\d(?:{_GAP}\d){{8}}  # 06-12345678, 030-1234567, (030) 123 45 67
    )
    (?!\d)
    """,
    re.VERBOSE,
)
# "01-10-2019 13:00" has the digits of a phone number; a leading date means it is not one.
DATE_PREFIX = re.compile(r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")

# "Quoted words" — Name, role: the part after the dash says who spoke.
ATTRIBUTED_QUOTE = re.compile(r"""^\s*["“”„'‘’«»](?P<words>.+)["“”'‘’«»]\s*[—–-]+\s*\S.*$""", re.DOTALL)


def scrub(text: str) -> str:
    """Replace email addresses and phone numbers in free text by "[verwijderd]"."""
    text = EMAIL.sub(REMOVED, text)
    return PHONE.sub(lambda m: m.group(0) if DATE_PREFIX.match(m.group(0)) else REMOVED, text)


def unattributed(quote: str) -> str:
    """A quote without a trailing attribution such as `"..." — Anna, wijkmanager`: quotes are shown anonymously."""
    match = ATTRIBUTED_QUOTE.match(quote)
    return match.group("words").strip() if match else quote


@dataclass(frozen=True)
class Instrument:
    name: str
    description: str


@dataclass
class SessionReport:
    """The public report of one held session, stored already anonymised and rendered on request."""

    edition: str
    session_number: int
    title: str  # the session's theme
    starts_at: datetime
    trios: int
    municipalities: int
    completed_at: datetime  # occurred_at of the SessionCompleted it was made from
    lessons: list[str] = field(default_factory=list)
    instruments: list[Instrument] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)


def anonymised(report: SessionReport) -> SessionReport:
    """The report with its free text scrubbed of contact details and its quotes stripped of attribution."""
    return replace(
        report,
        lessons=[scrub(t) for t in report.lessons],
        instruments=[Instrument(scrub(i.name), scrub(i.description)) for i in report.instruments],
        quotes=[scrub(unattributed(q)) for q in report.quotes],
        next_steps=[scrub(t) for t in report.next_steps],
    )


@dataclass(frozen=True)
class PlannedSession:
    number: int
    title: str
    outcome: str  # what participants come away with
    starts_at: datetime


@dataclass
class Edition:
    """Reporting's copy of an edition, from scheduling.EditionScheduled."""

    slug: str
    title: str
    venue: dict[str, Any]
    sessions: list[PlannedSession]
    scheduled_at: datetime  # occurred_at of the EditionScheduled this copy came from

    def outcome(self, number: int) -> str | None:
        return next((s.outcome for s in self.sessions if s.number == number), None)


def report_url(public_url: str, edition: str, session_number: int) -> str:
    return f"{public_url}/reports/{edition}/{session_number}"


def dutch_date(moment: datetime) -> str:
    """`15 oktober 2027`: the date in Utrecht, as Dutch readers write it."""
    local = moment.astimezone(AMSTERDAM)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def local_date(moment: datetime) -> str:
    """The ISO date in Utrecht, for <time datetime="...">."""
    return moment.astimezone(AMSTERDAM).date().isoformat()
