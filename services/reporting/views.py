"""What the public pages show, built from reporting's store. Pure: no I/O.

Every text that reaches a public page, the Markdown, the PDF or the feed passes through an `Anonymiser` here,
so templates only ever see cleaned strings. Cleaning happens when a page is built, not only when notes are
stored: a trio's registration (its names, its consent) may reach reporting after the session's notes did.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shared.formatting import dutch_date

from .anonymise import Anonymiser, NameKey, NameKind, Replacement, municipality_replacement, neighbourhood_replacement
from .domain import (
    DOMAINS,
    Edition,
    Municipality,
    Numbers,
    SessionReport,
    Trio,
    dutch_month,
    nameable_municipalities,
    numbers_of,
    shown_municipality,
)
from .themes import Lesson, Theme, rode_lijnen

PARTNERS = ("Platform31", "het Landelijk Platform Buurtgericht werken (LPB)", "M50", "het A&O fonds Gemeenten")


def anonymiser_for(
    key: NameKey,
    names: dict[str, NameKind],
    trios: Iterable[Trio],
    *,
    other_names: dict[str, NameKind] | None = None,
    elsewhere: Iterable[tuple[Municipality, bool]] = (),
    allowed: Iterable[str] = (),
) -> Anonymiser:
    """The anonymiser for pages about one edition: its people's names (`names`) and other editions' (`other_names`,
    see anonymise.py), the municipalities (and their trios' neighbourhoods) that may not be named in that edition,
    the municipalities not in it that another edition's trio did not consent to naming (`elsewhere`: "Barneveld
    deed vorig jaar ook mee" names that trio), and the edition's false positives (`allowed`)."""
    trios = list(trios)
    nameable = nameable_municipalities(trios)
    replacements: list[Replacement] = []
    for trio in trios:
        if trio.municipality is None or trio.municipality.code in nameable:
            continue
        replacements.extend(municipality_replacement(trio.municipality.name, trio.municipality.description))
        if trio.case is not None:
            replacements.extend(neighbourhood_replacement(trio.case.neighbourhood))
    here = {t.municipality.code for t in trios if t.municipality is not None}
    for municipality, consented in elsewhere:
        if not consented and municipality.code not in here:
            here.add(municipality.code)
            replacements.extend(municipality_replacement(municipality.name, municipality.description, elsewhere=True))
    return Anonymiser(key, names, replacements, other_names or {}, frozenset(allowed))


@dataclass(frozen=True)
class InstrumentView:
    name: str
    description: str


@dataclass(frozen=True)
class SessionView:
    edition: str
    edition_title: str | None
    city: str | None
    number: int
    title: str
    starts_at: datetime
    outcome: str | None
    lessons: list[str]
    instruments: list[InstrumentView]
    quotes: list[str]
    next_steps: list[str]
    trios: int
    municipalities: int
    numbers: Numbers | None  # None while reporting does not know who was present

    @property
    def path(self) -> str:
        return f"/reports/{self.edition}/{self.number}"


def session_view(
    report: SessionReport, edition: Edition | None, trios: list[Trio], present: list[str] | None, clean: Anonymiser
) -> SessionView:
    nameable = nameable_municipalities(trios)
    return SessionView(
        edition=report.edition,
        edition_title=edition.title if edition else None,
        city=edition.venue.get("city") if edition else None,
        number=report.session_number,
        title=clean.clean(report.title),
        starts_at=report.starts_at,
        outcome=_maybe(clean, edition.outcome(report.session_number) if edition else None),
        lessons=[clean.clean(t) for t in report.lessons],
        instruments=[InstrumentView(clean.clean(i.name), clean.clean(i.description)) for i in report.instruments],
        quotes=[clean.clean(t) for t in report.quotes],
        next_steps=[clean.clean(t) for t in report.next_steps],
        trios=report.trios,
        municipalities=report.municipalities,
        numbers=_present_numbers(trios, present, nameable),
    )


def _present_numbers(trios: list[Trio], present: list[str] | None, nameable: set[str]) -> Numbers | None:
    if not present:
        return None
    by_id = {t.registration_id: t for t in trios}
    known = [by_id[rid] for rid in present if rid in by_id and by_id[rid].registered]
    return numbers_of(known, nameable) if known else None


def _maybe(clean: Anonymiser, text: str | None) -> str | None:
    return clean.clean(text) if text else None


@dataclass(frozen=True)
class CaseView:
    title: str
    where: str  # "Veenendaal, Het Franse Gat" or "een middelgrote gemeente in Gelderland"
    summary: str
    domains: list[str]


@dataclass(frozen=True)
class CaseGroup:
    label: str  # the policy domains the cases connect: "fysiek en sociaal"
    cases: list[CaseView]


@dataclass(frozen=True)
class AttendanceLine:
    number: int
    title: str
    starts_at: datetime
    trios: int
    municipalities: int


@dataclass(frozen=True)
class RoundView:
    edition: str
    title: str
    edition_title: str
    city: str | None
    period: str
    sessions: list[SessionView]
    themes: list[Theme]
    cases: list[CaseGroup]
    numbers: Numbers
    attendance: list[AttendanceLine]
    published_at: datetime

    @property
    def path(self) -> str:
        return f"/reports/{self.edition}"

    @property
    def partners(self) -> tuple[str, ...]:
        return PARTNERS


def round_title(edition: Edition, reports: list[SessionReport]) -> str:
    return f"Verslag {edition.title}, {round_period(edition, reports)}"


def round_period(edition: Edition, reports: list[SessionReport]) -> str:
    moments = [s.starts_at for s in edition.sessions] or [r.starts_at for r in reports]
    first, last = dutch_month(min(moments)), dutch_month(max(moments))
    return first if first == last else f"{first} – {last}"


def round_view(
    edition: Edition,
    reports: list[SessionReport],
    trios: list[Trio],
    attendance: dict[int, list[str]],
    clean: Anonymiser,
    published_at: datetime,
) -> RoundView:
    """The round's report. Drafts and retracted session reports are left out, as are trios that never took
    part."""
    shown = sorted((r for r in reports if r.public), key=lambda r: r.session_number)
    sessions = [session_view(r, edition, trios, attendance.get(r.session_number), clean) for r in shown]
    nameable = nameable_municipalities(trios)
    present = {rid for ids in attendance.values() for rid in ids}
    took_part = [t for t in trios if t.registered and (t.status == "placed" or t.registration_id in present)]
    lessons = [Lesson(s.number, text) for s in sessions for text in s.lessons]
    return RoundView(
        edition=edition.slug,
        title=clean.clean(round_title(edition, shown)),
        edition_title=clean.clean(edition.title),
        city=edition.venue.get("city"),
        period=round_period(edition, shown),
        sessions=sessions,
        themes=rode_lijnen(lessons),
        cases=case_groups(took_part, nameable, clean),
        numbers=numbers_of(took_part, nameable),
        attendance=[AttendanceLine(s.number, s.title, s.starts_at, s.trios, s.municipalities) for s in sessions],
        published_at=published_at,
    )


def case_groups(trios: list[Trio], nameable: set[str], clean: Anonymiser) -> list[CaseGroup]:
    """The trios' cases, anonymised, grouped by the policy domains they connect (erased cases are left out)."""
    groups: dict[tuple[str, ...], list[CaseView]] = defaultdict(list)
    for trio in sorted(trios, key=lambda t: (t.registered_at is None, t.registered_at, t.registration_id)):
        if trio.case is None or trio.municipality is None:
            continue
        domains = tuple(sorted(set(trio.case.domains), key=DOMAINS.index))
        groups[domains].append(
            CaseView(
                title=clean.clean(trio.case.title),
                where=_where(trio, nameable, clean),
                summary=clean.clean(trio.case.summary),
                domains=list(domains),
            )
        )
    ordered = sorted(groups.items(), key=lambda g: (-len(g[1]), [DOMAINS.index(d) for d in g[0]]))
    return [CaseGroup(label=domain_list(list(domains)), cases=cases) for domains, cases in ordered]


def _where(trio: Trio, nameable: set[str], clean: Anonymiser) -> str:
    assert trio.municipality is not None and trio.case is not None
    municipality = shown_municipality(trio.municipality, nameable)
    if trio.municipality.code not in nameable:
        return municipality
    return f"{municipality}, {clean.clean(trio.case.neighbourhood)}"


def domain_list(domains: list[str]) -> str:
    """`fysiek, sociaal en veiligheid`"""
    if len(domains) <= 1:
        return "".join(domains)
    return f"{', '.join(domains[:-1])} en {domains[-1]}"


@dataclass(frozen=True)
class IndexEntry:
    path: str
    title: str
    edition: str
    edition_title: str
    session_number: int | None
    date: datetime  # the session's date; for the round's report, its publication
    updated: datetime
    summary: str


def index_entries(
    reports: list[SessionReport],
    rounds: list[tuple[Edition, datetime, list[SessionReport]]],
    editions: dict[str, Edition],
    clean_for: dict[str, Anonymiser],
) -> list[IndexEntry]:
    """Published reports, newest first: the round's reports, then the sessions."""
    entries = []
    for edition, published_at, round_reports in rounds:
        clean = clean_for[edition.slug]
        entries.append(
            IndexEntry(
                path=f"/reports/{edition.slug}",
                title=clean.clean(round_title(edition, [r for r in round_reports if r.public])),
                edition=edition.slug,
                edition_title=clean.clean(edition.title),
                session_number=None,
                date=published_at,
                updated=published_at,
                summary=f"Het verslag van de hele ronde: de lessen van "
                f"{sum(1 for r in round_reports if r.public)} bijeenkomsten, de rode lijnen en de "
                f"casussen.",
            )
        )
    for report in (r for r in reports if r.public):
        clean = clean_for[report.edition]
        known = editions.get(report.edition)
        first = clean.clean(report.lessons[0]) if report.lessons else ""
        entries.append(
            IndexEntry(
                path=f"/reports/{report.edition}/{report.session_number}",
                title=clean.clean(report.title),
                edition=report.edition,
                edition_title=clean.clean(known.title) if known else report.edition,
                session_number=report.session_number,
                date=report.starts_at,
                updated=report.published_at or report.completed_at,
                summary=f"Bijeenkomst {report.session_number} op {dutch_date(report.starts_at)}. {first}".strip(),
            )
        )
    return sorted(entries, key=lambda e: (e.session_number is not None, -e.date.timestamp()))
