"""Reporting's public pages, rendered from a SQLite store filled through the service's own consumers."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from services.reporting import api, consumes, entrypoints
from services.reporting.adapters import Inbox, Outbox, SessionReportRow
from services.reporting.anonymise import NameKey
from services.reporting.bootstrap import MIGRATIONS
from shared.contract import Command, Event, EventData
from shared.contract.reporting import PublishReport, ReportingCommandRejected
from shared.contract.scheduling import EditionScheduled, SessionCompleted
from shared.db import Database, migrate
from shared.messaging.messages import Incoming
from shared.messaging.processing import MessageStore
from tests.factories import by_organiser

PUBLIC_URL = "https://werkplaatsen.example.nl"
EDITION = "2027-najaar"
FIRST = datetime(2027, 10, 15, 11, tzinfo=UTC)  # 13:00 in Utrecht
SECOND = datetime(2027, 11, 7, 12, tzinfo=UTC)
KEY = NameKey.from_secret("test-secret")
ORGANISER_TOKEN = "organiser-token"
OUTCOME = "Na afloop kan je aangeven hoe het wijkgerichte werken in je gemeente gepositioneerd is."


class Reporting:
    """The reporting service minus its broker: consumers fed directly, pages served over ASGI."""

    def __init__(self, store: MessageStore) -> None:
        self.store = store
        self.consumers = consumes.consumers(store, public_url=PUBLIC_URL, key=KEY)
        routes = [
            *entrypoints.routes(store, key=KEY, public_url=PUBLIC_URL),
            *api.routes(store, key=KEY, organizer_token=ORGANISER_TOKEN, public_url=PUBLIC_URL),
        ]
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=Starlette(routes=routes)), base_url="http://reporting"
        )

    async def deliver(
        self, data: EventData, *, event_id: str | None = None, occurred_at: datetime = SECOND + timedelta(days=1)
    ) -> None:
        event = Event[type(data)](
            event_id=event_id or str(uuid.uuid4()),
            type=type(data).__name__,
            version=1,
            occurred_at=occurred_at,
            producer="scheduling",
            correlation_id="corr-1",
            causation_id="cmd-1",
            data=data,
        )
        await self.consumers[data.routing_key](
            Incoming(
                body=event.model_dump_json().encode(),
                routing_key=data.routing_key,
                message_id=event.event_id,
                message_type=event.type,
            )
        )

    async def command(self, command: Command) -> None:
        await self.consumers[command.routing_key](
            Incoming(
                body=json.dumps(by_organiser(command.routing_key, command.model_dump(mode="json"))).encode(),
                routing_key=command.routing_key,
                message_id=str(uuid.uuid4()),
                message_type=type(command).__name__,
            )
        )

    async def publish(self, *session_numbers: int) -> None:
        """What an organiser does after reading the drafts: nothing is public before."""
        for number in session_numbers:
            await self.command(PublishReport(edition=EDITION, session_number=number))

    async def count(self, model: type[Any]) -> int:
        async with self.store.db.sessions() as session:
            return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.fixture
async def reporting(tmp_path: Path) -> AsyncIterator[Reporting]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'reporting.sqlite3'}")
    await migrate(db, MIGRATIONS, "reporting")
    service = Reporting(MessageStore(db, "reporting", Outbox, Inbox, ReportingCommandRejected))
    yield service
    await service.http.aclose()
    await db.dispose()


def session_completed(number: int = 1, starts_at: datetime = FIRST, **notes: Any) -> SessionCompleted:
    return SessionCompleted(
        edition=EDITION,
        session_number=number,
        title="Positionering van het wijkgerichte werken in de eigen gemeente" if number == 1 else "Lokale agenda",
        starts_at=starts_at,
        attendance={"trios": 7, "municipalities": 6},
        notes={
            "lessons": ["Begin bij de opgave van de wijk, niet bij de organisatie."],
            "instruments": [{"name": "Wijkscan", "description": "Een kaart van wat er in de wijk speelt."}],
            "quotes": ['"De wijk is geen project maar een manier van werken." — Anna de Vries, wijkregisseur'],
            "next_steps": ["Deel de stip op de horizon met het college."],
            **notes,
        },
    )


def edition_scheduled(*, at_once: bool = False) -> EditionScheduled:
    return EditionScheduled(
        edition=EDITION,
        title="Werkplaatsen wijkgericht werken",
        venue={"name": "Werkplaats", "address": "Straat 1", "city": "Utrecht"},
        capacity={"min_trios": 6, "max_trios": 8},
        registration_deadline=FIRST - timedelta(days=20),
        registration_closes_at=FIRST - timedelta(days=10),
        fee={"amount_cents": 20000},
        priority_size_classes=["middelgroot"],
        table_size=3,
        sessions=[
            {
                "number": 1,
                "title": "Positionering van het wijkgerichte werken in de eigen gemeente",
                "outcome": OUTCOME,
                "starts_at": FIRST,
                "ends_at": FIRST + timedelta(hours=4),
            },
            {
                "number": 2,
                "title": "Lokale agenda",
                "outcome": "Je hebt prioriteiten bepaald.",
                "starts_at": SECOND,
                "ends_at": SECOND + timedelta(hours=4),
            },
        ],
        publish_reports_at_once=at_once,
    )


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_session_page_shows_theme_dutch_date_outcome_lessons_instruments_quotes_and_numbers(
    reporting: Reporting,
) -> None:
    await reporting.deliver(edition_scheduled())
    await reporting.deliver(session_completed())
    await reporting.publish(1)
    response = await reporting.http.get(f"/reports/{EDITION}/1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    text = text_of(html)
    assert '<html lang="nl">' in html
    assert "<h1>Positionering van het wijkgerichte werken in de eigen gemeente</h1>" in html
    assert "15 oktober 2027" in text
    assert "Werkplaatsen wijkgericht werken" in text
    assert OUTCOME in text
    assert "Begin bij de opgave van de wijk, niet bij de organisatie." in text
    assert "Wijkscan" in text and "Een kaart van wat er in de wijk speelt." in text
    assert "De wijk is geen project maar een manier van werken." in text
    assert "Deel de stip op de horizon met het college." in text
    assert "Aanwezige trio's 7" in text and "Gemeenten 6" in text


async def test_session_page_never_names_who_was_quoted_nor_shows_contact_details(reporting: Reporting) -> None:
    await reporting.deliver(
        session_completed(lessons=["Vraag de slides op via anna.devries@barneveld.nl of bel 06-12345678."])
    )
    await reporting.publish(1)
    html = (await reporting.http.get(f"/reports/{EDITION}/1")).text
    assert "Anna de Vries" not in html
    assert "anna.devries@barneveld.nl" not in html and "@" not in text_of(html)
    assert "12345678" not in html
    assert "Vraag de slides op via [verwijderd] of bel [verwijderd]." in text_of(html)


async def test_organisers_text_is_escaped_not_interpreted(reporting: Reporting) -> None:
    await reporting.deliver(session_completed(lessons=["<script>alert(1)</script> & meer"]))
    await reporting.publish(1)
    html = (await reporting.http.get(f"/reports/{EDITION}/1")).text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; meer" in html


async def test_a_report_that_arrives_before_its_edition_is_shown_and_gains_the_outcome_later(
    reporting: Reporting,
) -> None:
    await reporting.deliver(session_completed())
    await reporting.publish(1)
    before = await reporting.http.get(f"/reports/{EDITION}/1")
    assert before.status_code == 200
    assert "Begin bij de opgave van de wijk" in before.text
    assert OUTCOME not in before.text
    await reporting.deliver(edition_scheduled())
    after = await reporting.http.get(f"/reports/{EDITION}/1")
    assert OUTCOME in after.text
    assert "Werkplaatsen wijkgericht werken · Bijeenkomst 1" in text_of(after.text)


@pytest.mark.parametrize(
    "path",
    [
        f"/reports/{EDITION}/3",
        "/reports/2010-voorjaar/1",
        f"/reports/{EDITION}/een",
        f"/reports/{EDITION}/99999999999999999999",
    ],
)
async def test_an_unknown_report_answers_404_with_a_dutch_page(reporting: Reporting, path: str) -> None:
    await reporting.deliver(session_completed())
    response = await reporting.http.get(path)
    assert response.status_code == 404
    assert '<html lang="nl">' in response.text
    assert "Dit verslag bestaat niet" in response.text


async def test_the_index_lists_published_session_reports_newest_first(reporting: Reporting) -> None:
    await reporting.deliver(edition_scheduled())
    await reporting.deliver(session_completed(1, FIRST))
    await reporting.deliver(session_completed(2, SECOND))
    await reporting.publish(1, 2)
    response = await reporting.http.get("/reports")
    assert response.status_code == 200
    listed = response.text.split('<ul class="reports">')[1].split("</ul>")[0]
    links = re.findall(r'<a href="(/reports/[^"]+)">', listed)
    # The edition has two sessions: after the second, the round's report comes first.
    assert links == [
        f"/reports/{EDITION}",
        f"/reports/{EDITION}.pdf",
        f"/reports/{EDITION}.md",
        f"/reports/{EDITION}/2",
        f"/reports/{EDITION}/1",
    ]
    assert "7 november 2027" in response.text and "15 oktober 2027" in response.text


async def test_the_index_says_so_when_nothing_is_published_yet(reporting: Reporting) -> None:
    response = await reporting.http.get("/reports")
    assert response.status_code == 200
    assert "Er zijn nog geen verslagen gepubliceerd." in response.text


async def test_a_redelivered_session_completed_has_no_second_effect(reporting: Reporting) -> None:
    await reporting.deliver(edition_scheduled(at_once=True))
    event = session_completed()
    await reporting.deliver(event, event_id="evt-1")
    await reporting.deliver(event, event_id="evt-1")
    assert await reporting.count(SessionReportRow) == 1
    assert await reporting.count(Outbox) == 1


# The round's report, retraction and the feed


def trio_registered(rid: str, code: str, name: str, consent: bool, members: list[str]) -> Any:
    from shared.contract.registration import TrioRegistered

    domains = ["sociaal", "fysiek", "veiligheid"]
    return TrioRegistered(
        registration_id=rid,
        edition=EDITION,
        registered_at=FIRST - timedelta(days=40),
        municipality={
            "code": code,
            "name": name,
            "province": "Gelderland",
            "inhabitants": 60000,
            "size_class": "middelgroot",
            "m50_member": False,
        },
        members=[
            {
                "member_id": f"{rid}-{i}",
                "name": member,
                "email": f"{rid}{i}@gemeente.example",
                "role": "wijkambtenaar" if i == 0 else "sectorambtenaar",
                "domain": domains[i],
                "language": "nl",
            }
            for i, member in enumerate(members)
        ],
        case={
            "title": f"Pleinen in {name}",
            "neighbourhood": "De Burgt" if name == "Barneveld" else "Het Franse Gat",
            "summary": f"In {name} vraagt {members[0]} hulp bij groene pleinen.",
            "domains": ["fysiek", "sociaal"],
        },
        fee={"amount_cents": 20000, "waived": True, "reason": "middelgroot"},
        priority=True,
        preferred_domain_mix=True,
        consent={"privacy": True, "publish_municipality_name": consent},
        channel="web",
    )


async def hold_the_round(reporting: Reporting, **lessons: list[str]) -> None:
    from shared.contract.scheduling import AttendanceRecorded, TrioPlaced

    await reporting.deliver(
        trio_registered("r1", "GM0203", "Barneveld", False, ["Anna de Vries", "Pieter Groen", "Fatima El Amrani"])
    )
    await reporting.deliver(
        trio_registered("r2", "GM0345", "Veenendaal", True, ["Sanne Bos", "Mehmet Yılmaz", "Laura Mitchell"])
    )
    for rid in ("r1", "r2"):
        await reporting.deliver(TrioPlaced(registration_id=rid, edition=EDITION, via="allocation"))
    await reporting.deliver(AttendanceRecorded(edition=EDITION, session_number=1, present=["r1", "r2"]))
    await reporting.deliver(edition_scheduled())
    await reporting.deliver(
        session_completed(
            1, FIRST, lessons=lessons.get("first", ["Anna de Vries uit Barneveld: bewoners betrekken kost tijd."])
        )
    )
    await reporting.deliver(
        session_completed(
            2, SECOND, lessons=lessons.get("second", ["Bewoners betrekken lukt met een stip op de horizon."])
        )
    )
    await reporting.publish(1, 2)


async def test_after_the_last_session_the_rounds_report_is_online_anonymised_with_themes_cases_and_numbers(
    reporting: Reporting,
) -> None:
    await hold_the_round(reporting)
    response = await reporting.http.get(f"/reports/{EDITION}")
    assert response.status_code == 200
    text = text_of(response.text)
    assert "Verslag Werkplaatsen wijkgericht werken, oktober 2027 – november 2027" in text
    for partner in ("Platform31", "Landelijk Platform Buurtgericht werken", "M50", "A&amp;O fonds Gemeenten"):
        assert partner in response.text
    assert "Hoe de trio's werkten" in text
    assert "Rode lijnen" in text and "Bewoners betrekken" in text and "Zo vonden we de rode lijnen" in text
    assert "Thema: fysiek en sociaal" in text
    assert "Pleinen in een middelgrote gemeente in Gelderland" in text and "Pleinen in Veenendaal" in text
    assert "Veenendaal, Het Franse Gat" in text and "De Burgt" not in text
    assert "Deelnemende gemeenten Veenendaal; een middelgrote gemeente in Gelderland" in text
    for secret in ("Anna", "Vries", "Barneveld", "Sanne", "Bos", "Yılmaz", "@"):
        assert secret not in text
    assert "<svg" in response.text  # the size classes as a chart


async def test_the_rounds_report_as_markdown_escapes_what_markdown_or_html_would_interpret(
    reporting: Reporting,
) -> None:
    await hold_the_round(reporting, first=["<script>alert(1)</script> en *nadruk* van Anna de Vries"])
    response = await reporting.http.get(f"/reports/{EDITION}.md")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.text.startswith("# Verslag Werkplaatsen wijkgericht werken")
    assert r"- \<script\>alert(1)\</script\> en \*nadruk\* van \[verwijderd\]" in response.text
    assert "<script>" not in response.text and "Anna" not in response.text


async def test_the_rounds_report_downloads_as_a_pdf(reporting: Reporting) -> None:
    await hold_the_round(reporting)
    response = await reporting.http.get(f"/reports/{EDITION}.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert 'filename="verslag-2027-najaar.pdf"' in response.headers["content-disposition"]


@pytest.mark.parametrize("path", [f"/reports/{EDITION}", f"/reports/{EDITION}.md", f"/reports/{EDITION}.pdf"])
async def test_the_rounds_report_is_not_there_before_the_last_session(reporting: Reporting, path: str) -> None:
    await reporting.deliver(edition_scheduled())
    await reporting.deliver(session_completed(1, FIRST))
    await reporting.publish(1)
    assert (await reporting.http.get(path)).status_code == 404


async def retract(reporting: Reporting, session_number: int | None) -> None:
    from shared.contract.reporting import RetractReport

    await reporting.command(RetractReport(edition=EDITION, session_number=session_number))


async def test_a_retracted_session_report_answers_410_in_dutch_and_leaves_the_index_and_feed(
    reporting: Reporting,
) -> None:
    await hold_the_round(reporting)
    await retract(reporting, 1)
    response = await reporting.http.get(f"/reports/{EDITION}/1")
    assert response.status_code == 410
    assert '<html lang="nl">' in response.text and "Dit verslag is ingetrokken" in response.text
    assert f"/reports/{EDITION}/1" not in (await reporting.http.get("/reports")).text
    assert f"/reports/{EDITION}/1<" not in (await reporting.http.get("/reports/feed.atom")).text
    round_report = (await reporting.http.get(f"/reports/{EDITION}")).text
    assert "Bijeenkomst 1:" not in round_report and "Bijeenkomst 2: Lokale agenda" in round_report


@pytest.mark.parametrize("path", [f"/reports/{EDITION}", f"/reports/{EDITION}.md", f"/reports/{EDITION}.pdf"])
async def test_a_retracted_rounds_report_answers_410_in_every_format(reporting: Reporting, path: str) -> None:
    await hold_the_round(reporting)
    await retract(reporting, None)
    response = await reporting.http.get(path)
    assert response.status_code == 410
    assert (await reporting.http.get(f"/reports/{EDITION}/2")).status_code == 200


async def test_retracting_an_unknown_report_publishes_a_rejection(reporting: Reporting) -> None:
    await reporting.deliver(edition_scheduled())
    await retract(reporting, 9)  # the edition has no session 9: no SessionCompleted can be on its way
    async with reporting.store.db.sessions() as session:
        row = (await session.execute(select(Outbox))).scalar_one()
    assert row.routing_key == "reporting.CommandRejected"
    assert b'"unknown_report"' in row.body


async def test_the_atom_feed_lists_published_reports_with_absolute_links(reporting: Reporting) -> None:
    import xml.etree.ElementTree as ET

    await hold_the_round(reporting)
    response = await reporting.http.get("/reports/feed.atom")
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    atom = "{http://www.w3.org/2005/Atom}"
    feed = ET.fromstring(response.content)
    links = [e.find(f"{atom}link").get("href") for e in feed.findall(f"{atom}entry")]
    assert links == [
        f"{PUBLIC_URL}/reports/{EDITION}",
        f"{PUBLIC_URL}/reports/{EDITION}/2",
        f"{PUBLIC_URL}/reports/{EDITION}/1",
    ]
    assert "Anna" not in response.text and "Barneveld" not in response.text


async def test_the_session_page_shows_who_was_present_by_size_class_province_and_domain(reporting: Reporting) -> None:
    await hold_the_round(reporting)
    text = text_of((await reporting.http.get(f"/reports/{EDITION}/1")).text)
    assert "2 middelgrote gemeenten" in text
    assert "Gelderland (2)" in text
    assert "fysiek: 2 trio" in text and "veiligheid: 2 trio" in text
    assert "Veenendaal; een middelgrote gemeente in Gelderland" in text
    assert "[verwijderd] uit een middelgrote gemeente in Gelderland: bewoners betrekken kost tijd." in text


async def test_names_that_arrive_after_the_notes_are_scrubbed_all_the_same(reporting: Reporting) -> None:
    await reporting.deliver(session_completed(1, FIRST, lessons=["Gijsbrecht Oudeboom gaf het voorbeeld."]))
    await reporting.publish(1)
    # A name no rule for unregistered people knows: only its registration makes it a name.
    assert "Gijsbrecht Oudeboom" in (await reporting.http.get(f"/reports/{EDITION}/1")).text
    await reporting.deliver(
        trio_registered("r2", "GM0345", "Veenendaal", True, ["Sanne Bos", "Mehmet Yılmaz", "Gijsbrecht Oudeboom"])
    )
    assert "[verwijderd] gaf het voorbeeld." in (await reporting.http.get(f"/reports/{EDITION}/1")).text
