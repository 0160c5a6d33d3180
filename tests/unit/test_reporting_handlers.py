"""Reporting handlers, driven with in-memory fakes."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.reporting import handlers
from services.reporting.domain import Edition, SessionReport
from shared.contract import Event
from shared.contract.reporting import LessonReportPublished
from shared.contract.scheduling import EditionScheduled, SessionCompleted

PUBLIC_URL = "https://werkplaatsen.example.nl"
EDITION = "2027-najaar"
HELD = datetime(2027, 10, 15, 11, tzinfo=UTC)
COMPLETED = datetime(2027, 10, 16, 9, tzinfo=UTC)


class FakeReports:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], SessionReport] = {}

    async def get(self, edition: str, session_number: int, *, for_update: bool = False) -> SessionReport | None:
        return copy.deepcopy(self.rows.get((edition, session_number)))

    async def save(self, report: SessionReport) -> None:
        self.rows[(report.edition, report.session_number)] = copy.deepcopy(report)


class FakeEditions:
    def __init__(self) -> None:
        self.rows: dict[str, Edition] = {}

    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None:
        return copy.deepcopy(self.rows.get(slug))

    async def save(self, edition: Edition) -> None:
        self.rows[edition.slug] = copy.deepcopy(edition)


def session_completed(**notes: Any) -> SessionCompleted:
    return SessionCompleted(
        edition=EDITION, session_number=1, title="Positionering van het wijkgerichte werken in de eigen gemeente",
        starts_at=HELD, attendance={"trios": 7, "municipalities": 6},
        notes={"lessons": ["Begin bij de opgave van de wijk."],
               "instruments": [{"name": "Wijkscan", "description": "Een kaart van wat er speelt."}],
               "quotes": ["De wijk is geen project."], "next_steps": ["Stip op de horizon delen."], **notes},
    )


def envelope(data: Any, occurred_at: datetime = COMPLETED) -> Event[Any]:
    return Event[type(data)](
        event_id=str(uuid.uuid4()), type=type(data).__name__, version=1, occurred_at=occurred_at,
        producer="scheduling", correlation_id="c-1", causation_id="m-1", data=data,
    )


async def publish(event: SessionCompleted, reports: FakeReports, emitted: list[Any],
                  occurred_at: datetime = COMPLETED) -> None:
    await handlers.publish_session_report(event, envelope(event, occurred_at), reports=reports, emit=emitted.append,
                                          public_url=PUBLIC_URL)


async def test_a_completed_session_is_stored_and_its_report_page_announced() -> None:
    reports, emitted = FakeReports(), []
    await publish(session_completed(), reports, emitted)
    assert emitted == [LessonReportPublished(
        edition=EDITION, session_number=1, title="Positionering van het wijkgerichte werken in de eigen gemeente",
        url=f"{PUBLIC_URL}/reports/{EDITION}/1",
    )]
    stored = reports.rows[(EDITION, 1)]
    assert (stored.trios, stored.municipalities, stored.starts_at) == (7, 6, HELD)
    assert stored.lessons == ["Begin bij de opgave van de wijk."]
    assert stored.instruments[0].name == "Wijkscan"
    assert stored.completed_at == COMPLETED


async def test_contact_details_in_the_notes_are_never_stored() -> None:
    reports = FakeReports()
    await publish(session_completed(
        lessons=["Vraag de slides op via anna@barneveld.nl"],
        quotes=['"Bel me gerust op 06-12345678" — Anna, wijkregisseur'],
        next_steps=["Afspraak plannen: 030-1234567"],
        instruments=[{"name": "Buurtbudget", "description": "Meer weten? +31 6 12345678"}],
    ), reports, [])
    stored = reports.rows[(EDITION, 1)]
    assert stored.lessons == ["Vraag de slides op via [verwijderd]"]
    assert stored.quotes == ["Bel me gerust op [verwijderd]"]
    assert stored.next_steps == ["Afspraak plannen: [verwijderd]"]
    assert stored.instruments[0].description == "Meer weten? [verwijderd]"


async def test_a_newer_version_of_a_session_updates_the_report_and_publishes_again() -> None:
    reports, emitted = FakeReports(), []
    await publish(session_completed(), reports, emitted)
    await publish(session_completed(lessons=["Nieuwe les."]), reports, emitted, COMPLETED + timedelta(hours=1))
    assert reports.rows[(EDITION, 1)].lessons == ["Nieuwe les."]
    assert [e.url for e in emitted] == [f"{PUBLIC_URL}/reports/{EDITION}/1"] * 2


async def test_an_older_version_delivered_late_changes_nothing() -> None:
    reports, emitted = FakeReports(), []
    await publish(session_completed(lessons=["Nieuwste les."]), reports, emitted)
    await publish(session_completed(lessons=["Oude les."]), reports, emitted, COMPLETED - timedelta(hours=1))
    assert reports.rows[(EDITION, 1)].lessons == ["Nieuwste les."]
    assert len(emitted) == 1


def edition_scheduled(title: str = "Werkplaatsen wijkgericht werken") -> EditionScheduled:
    return EditionScheduled(
        edition=EDITION, title=title, venue={"name": "Werkplaats", "address": "Straat 1", "city": "Utrecht"},
        capacity={"min_trios": 6, "max_trios": 8}, registration_deadline=HELD - timedelta(days=20),
        registration_closes_at=HELD - timedelta(days=10), fee={"amount_cents": 20000},
        priority_size_classes=["middelgroot"], table_size=3,
        sessions=[{"number": 1, "title": "Positionering", "outcome": "Je kunt de stip op de horizon benoemen.",
                   "starts_at": HELD, "ends_at": HELD + timedelta(hours=4)}],
    )


async def test_the_edition_is_remembered_with_each_sessions_outcome() -> None:
    editions = FakeEditions()
    await handlers.remember_edition(edition_scheduled(), editions=editions, occurred_at=COMPLETED)
    edition = editions.rows[EDITION]
    assert edition.title == "Werkplaatsen wijkgericht werken"
    assert edition.venue["city"] == "Utrecht"
    assert edition.outcome(1) == "Je kunt de stip op de horizon benoemen."
    assert edition.outcome(2) is None


async def test_an_older_edition_announcement_delivered_late_changes_nothing() -> None:
    editions = FakeEditions()
    await handlers.remember_edition(edition_scheduled("Nieuwe titel"), editions=editions, occurred_at=COMPLETED)
    await handlers.remember_edition(edition_scheduled("Oude titel"), editions=editions,
                                    occurred_at=COMPLETED - timedelta(days=1))
    assert editions.rows[EDITION].title == "Nieuwe titel"


async def test_a_session_report_is_stored_even_before_its_edition_is_known() -> None:
    reports, editions, emitted = FakeReports(), FakeEditions(), []
    await publish(session_completed(), reports, emitted)
    assert (EDITION, 1) in reports.rows and len(emitted) == 1
    await handlers.remember_edition(edition_scheduled(), editions=editions, occurred_at=COMPLETED + timedelta(days=1))
    assert editions.rows[EDITION].outcome(1) is not None
    assert reports.rows[(EDITION, 1)].lessons == ["Begin bij de opgave van de wijk."]  # untouched by the edition
