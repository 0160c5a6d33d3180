"""Reporting rules: what a report holds, reporting's copy of the trios, and how dates and numbers read in Dutch
(contact details out of free text: contacts.py). Pure: no I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal

from shared import placement as placement_rule
from shared.formatting import AMSTERDAM, MONTHS
from shared.placement import Placement

from .contacts import scrubbed, unattributed_segments
from .segments import Mark, Segment, from_marks, joined, marks_of


@dataclass(frozen=True)
class Instrument:
    name: str
    description: str


ReportStatus = Literal["draft", "published", "retracted"]
# The report's free texts by section; instruments have two texts each.
SECTIONS = ("lessons", "instrument_names", "instrument_descriptions", "quotes", "next_steps")


@dataclass
class SessionReport:
    """The report of one held session, stored already scrubbed of contact details and rendered on request.

    A draft (`published_at` None) is not on any public page until an organiser publishes it; `marks` keeps
    where the stored text was changed already, per section and item (`SECTIONS`), for the organiser's preview.
    """

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
    retracted_at: datetime | None = None
    published_at: datetime | None = None
    marks: dict[str, list[list[Mark]]] = field(default_factory=dict)

    @property
    def status(self) -> ReportStatus:
        if self.retracted_at is not None:
            return "retracted"
        return "draft" if self.published_at is None else "published"

    @property
    def public(self) -> bool:
        return self.status == "published"

    def texts(self) -> list[str]:
        return [
            *self.lessons,
            *(t for i in self.instruments for t in (i.name, i.description)),
            *self.quotes,
            *self.next_steps,
        ]


def anonymised(report: SessionReport) -> SessionReport:
    """The report with its free text scrubbed of contact details and its quotes stripped of attribution, each
    change marked."""
    pieces = {section: [scrubbed([Segment(t)]) for t in texts] for section, texts in section_texts(report).items()}
    pieces["quotes"] = [scrubbed(unattributed_segments(q)) for q in report.quotes]
    return with_segments(report, pieces)


def section_texts(report: SessionReport) -> dict[str, list[str]]:
    return {
        "lessons": report.lessons,
        "instrument_names": [i.name for i in report.instruments],
        "instrument_descriptions": [i.description for i in report.instruments],
        "quotes": report.quotes,
        "next_steps": report.next_steps,
    }


def stored_segments(report: SessionReport) -> dict[str, list[list[Segment]]]:
    """The report's texts as pieces, with what was changed before it was stored marked."""
    pieces = {}
    for section, texts in section_texts(report).items():
        marks = report.marks.get(section, [])
        pieces[section] = [from_marks(text, marks[n] if n < len(marks) else []) for n, text in enumerate(texts)]
    return pieces


def with_segments(report: SessionReport, pieces: dict[str, list[list[Segment]]]) -> SessionReport:
    """The report holding these pieces' texts, and their changes as its marks."""
    text = {section: [joined(item) for item in items] for section, items in pieces.items()}
    return replace(
        report,
        lessons=text["lessons"],
        instruments=[
            Instrument(n, d) for n, d in zip(text["instrument_names"], text["instrument_descriptions"], strict=True)
        ],
        quotes=text["quotes"],
        next_steps=text["next_steps"],
        marks={section: [marks_of(item) for item in items] for section, items in pieces.items()},
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
    capacity: dict[str, int] | None = None
    publish_reports_at_once: bool = False  # False: a session's report waits as a draft for PublishReport

    def outcome(self, number: int) -> str | None:
        return next((s.outcome for s in self.sessions if s.number == number), None)

    @property
    def last_session(self) -> int:
        return max((s.number for s in self.sessions), default=0)


def report_url(public_url: str, edition: str, session_number: int | None = None) -> str:
    if session_number is None:
        return f"{public_url}/reports/{edition}"
    return f"{public_url}/reports/{edition}/{session_number}"


def local_date(moment: datetime) -> str:
    """The ISO date in Utrecht, for <time datetime="...">."""
    return moment.astimezone(AMSTERDAM).date().isoformat()


def dutch_month(moment: datetime) -> str:
    local = moment.astimezone(AMSTERDAM)
    return f"{MONTHS[local.month - 1]} {local.year}"


# Reporting's copy of the trios (event-carried state from registration and scheduling)

SizeClass = Literal["klein", "middelgroot", "groot"]
SIZE_CLASSES: tuple[SizeClass, ...] = ("klein", "middelgroot", "groot")
SIZE_ADJECTIVES = {"klein": "kleine", "middelgroot": "middelgrote", "groot": "grote"}
DOMAINS = ("fysiek", "sociaal", "veiligheid", "economie", "bestuur", "overig")
STATUSES = ("awaiting_approval", "approved", "placed", "waitlisted", "cancelled", "declined")
STATUS_LABELS = {
    "awaiting_approval": "wacht op goedkeuring",
    "approved": "goedgekeurd",
    "placed": "geplaatst",
    "waitlisted": "op de wachtlijst",
    "cancelled": "geannuleerd",
    "declined": "afgewezen",
}
ACTIVE_STATUSES = frozenset({"awaiting_approval", "approved", "placed", "waitlisted"})


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    province: str
    inhabitants: int
    size_class: SizeClass
    m50_member: bool

    @property
    def description(self) -> str:
        """How a report names a municipality that did not consent: `een middelgrote gemeente in Gelderland`."""
        return f"een {SIZE_ADJECTIVES[self.size_class]} gemeente in {self.province}"


@dataclass(frozen=True)
class Case:
    title: str
    neighbourhood: str
    summary: str
    domains: list[str]


@dataclass
class Trio:
    """What reporting knows about one registration. No person's name or address: see anonymise.py."""

    registration_id: str
    edition: str | None = None
    registered_at: datetime | None = None
    municipality: Municipality | None = None
    member_domains: list[str] = field(default_factory=list)
    member_roles: list[str] = field(default_factory=list)
    case: Case | None = None  # None once the participants' data is erased
    fee_cents: int = 0
    fee_waived: bool = False
    fee_reason: str | None = None
    publish_municipality_name: bool = False
    channel: str | None = None
    status: str | None = None  # None: only known from an event that says nothing about the status
    waitlist_position: int | None = None
    placement_at: datetime | None = None  # occurred_at of the last placement event applied
    erased_at: datetime | None = None

    @property
    def registered(self) -> bool:
        """Whether TrioRegistered has arrived (events about the trio may come before it)."""
        return self.municipality is not None

    @property
    def domains(self) -> list[str]:
        return sorted(set(self.member_domains), key=DOMAINS.index)

    @property
    def fee_due_cents(self) -> int:
        return 0 if self.fee_waived else self.fee_cents


# The trio's status follows the same rule as registration's own (shared/placement.py); False: nothing changed.


def _standing(trio: Trio) -> placement_rule.Standing[str | None]:
    return placement_rule.Standing(trio.status, trio.waitlist_position, trio.placement_at)


def _take(trio: Trio, after: placement_rule.Standing[str | None] | None) -> bool:
    if after is None:
        return False
    trio.status, trio.waitlist_position, trio.placement_at = after.status, after.waitlist_position, after.placement_at
    return True


def note_registered(trio: Trio) -> None:
    _take(trio, placement_rule.after_registration(_standing(trio)))


def approved(trio: Trio) -> bool:
    return _take(trio, placement_rule.after_approval(_standing(trio)))


def ended(trio: Trio, status: Literal["cancelled", "declined"]) -> bool:
    return _take(trio, placement_rule.after_ending(_standing(trio), status))


def placement(trio: Trio, what: Placement, occurred_at: datetime, position: int | None = None) -> bool:
    return _take(trio, placement_rule.after_placement(_standing(trio), what, occurred_at, position))


def erase(trio: Trio, now: datetime) -> bool:
    if trio.erased_at is not None:
        return False
    trio.erased_at = now
    trio.case = None
    return True


def nameable_municipalities(trios: Iterable[Trio]) -> set[str]:
    """Codes of the municipalities a report of these trios' edition may name: each of its trios consented."""
    consent: dict[str, bool] = {}
    for trio in trios:
        if trio.municipality is not None:
            code = trio.municipality.code
            consent[code] = consent.get(code, True) and trio.publish_municipality_name
    return {code for code, ok in consent.items() if ok}


def shown_municipality(municipality: Municipality, nameable: set[str]) -> str:
    return municipality.name if municipality.code in nameable else municipality.description


@dataclass
class Numbers:
    """The numbers a public page shows about a group of trios (those present at a session, or placed)."""

    trios: int
    municipalities: list[str]  # named (with consent) or described, sorted
    size_classes: dict[str, int]  # municipalities per size class
    provinces: dict[str, int]  # municipalities per province
    domains: dict[str, int]  # trios with at least one member from the domain
    both_fysiek_and_sociaal: int  # trios with the preferred mix


def numbers_of(trios: Iterable[Trio], nameable: set[str]) -> Numbers:
    known = [t for t in trios if t.municipality is not None]
    by_code = {t.municipality.code: t.municipality for t in known if t.municipality is not None}
    sizes = Counter(m.size_class for m in by_code.values())
    domains = Counter(d for t in known for d in t.domains)
    return Numbers(
        trios=len(known),
        municipalities=sorted((shown_municipality(m, nameable) for m in by_code.values()), key=_named_first),
        size_classes={c: sizes[c] for c in SIZE_CLASSES if sizes[c]},
        provinces=dict(sorted(Counter(m.province for m in by_code.values()).items())),
        domains={d: domains[d] for d in DOMAINS if domains[d]},
        both_fysiek_and_sociaal=sum(1 for t in known if {"fysiek", "sociaal"} <= set(t.domains)),
    )


def _named_first(shown: str) -> tuple[bool, str]:
    return shown.startswith("een "), shown.casefold()


@dataclass
class RoundPublication:
    """The round's report of an edition: published once its last session is held; rendered on request."""

    edition: str
    published_at: datetime
    retracted_at: datetime | None = None


@dataclass
class Attendance:
    edition: str
    session_number: int
    present: list[str]  # registration_ids
    recorded_at: datetime  # occurred_at of the AttendanceRecorded applied


@dataclass(frozen=True)
class NotificationFailure:
    notification_id: str
    kind: str
    channel: str
    caused_by: str  # event_id of the event that caused the notification
    reason: str
    failed_at: datetime


@dataclass(frozen=True)
class EventSource:
    """Which trio and edition an event was about, so a failed notification it caused can be placed."""

    event_id: str
    registration_id: str | None
    edition: str | None


@dataclass
class InvoiceCopy:
    """Reporting's copy of an invoice, from registration's billing events (which may arrive in any order)."""

    number: str
    registration_id: str
    edition: str
    buyer_name: str | None = None  # None: InvoiceIssued has not arrived yet
    buyer_reference: str | None = None
    issue_date: date | None = None
    due_date: date | None = None
    net_cents: int = 0
    vat_cents: int = 0
    total_cents: int = 0
    paid_cents: int = 0
    overdue: bool = False
    credit_note_number: str | None = None

    @property
    def issued(self) -> bool:
        return self.buyer_name is not None

    @property
    def open_cents(self) -> int:
        return 0 if self.credit_note_number else max(self.total_cents - self.paid_cents, 0)

    @property
    def overdue_cents(self) -> int:
        return self.open_cents if self.overdue else 0


def record_payment(invoice: InvoiceCopy, paid_cents: int) -> None:
    """PaymentRegistered carries the total paid so far, so the highest one seen is the truth whatever the order."""
    invoice.paid_cents = max(invoice.paid_cents, paid_cents)
