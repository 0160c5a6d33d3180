"""Reporting's public pages, rendered from a SQLite store filled through the service's own consumers."""

from __future__ import annotations

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

from services.reporting import entrypoints
from services.reporting.adapters import Inbox, Outbox, SessionReportRow
from services.reporting.bootstrap import MIGRATIONS
from shared.contract import Event, EventData
from shared.contract.common import CommandRejected
from shared.contract.scheduling import EditionScheduled, SessionCompleted
from shared.db import Database, migrate
from shared.messaging.messages import Incoming
from shared.messaging.processing import MessageStore

PUBLIC_URL = "https://werkplaatsen.example.nl"
EDITION = "2027-najaar"
FIRST = datetime(2027, 10, 15, 11, tzinfo=UTC)  # 13:00 in Utrecht
SECOND = datetime(2027, 11, 7, 12, tzinfo=UTC)
OUTCOME = "Na afloop kan je aangeven hoe het wijkgerichte werken in je gemeente gepositioneerd is."


class Reporting:
    """The reporting service minus its broker: consumers fed directly, pages served over ASGI."""

    def __init__(self, store: MessageStore) -> None:
        self.store = store
        self.consumers = entrypoints.consumers(store, public_url=PUBLIC_URL)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=Starlette(routes=entrypoints.routes(store))),
                                      base_url="http://reporting")

    async def deliver(self, data: EventData, *, event_id: str | None = None,
                      occurred_at: datetime = SECOND + timedelta(days=1)) -> None:
        event = Event[type(data)](
            event_id=event_id or str(uuid.uuid4()), type=type(data).__name__, version=1, occurred_at=occurred_at,
            producer="scheduling", correlation_id="corr-1", causation_id="cmd-1", data=data,
        )
        await self.consumers[data.routing_key](Incoming(
            body=event.model_dump_json().encode(), routing_key=data.routing_key, message_id=event.event_id,
            message_type=event.type,
        ))

    async def count(self, model: type[Any]) -> int:
        async with self.store.db.sessions() as session:
            return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.fixture
async def reporting(tmp_path: Path) -> AsyncIterator[Reporting]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'reporting.sqlite3'}")
    await migrate(db, MIGRATIONS, "reporting")
    service = Reporting(MessageStore(db, "reporting", Outbox, Inbox, CommandRejected))
    yield service
    await service.http.aclose()
    await db.dispose()


def session_completed(number: int = 1, starts_at: datetime = FIRST, **notes: Any) -> SessionCompleted:
    return SessionCompleted(
        edition=EDITION, session_number=number,
        title="Positionering van het wijkgerichte werken in de eigen gemeente" if number == 1 else "Lokale agenda",
        starts_at=starts_at, attendance={"trios": 7, "municipalities": 6},
        notes={
            "lessons": ["Begin bij de opgave van de wijk, niet bij de organisatie."],
            "instruments": [{"name": "Wijkscan", "description": "Een kaart van wat er in de wijk speelt."}],
            "quotes": ['"De wijk is geen project maar een manier van werken." — Anna de Vries, wijkregisseur'],
            "next_steps": ["Deel de stip op de horizon met het college."],
            **notes,
        },
    )


def edition_scheduled() -> EditionScheduled:
    return EditionScheduled(
        edition=EDITION, title="Werkplaatsen wijkgericht werken",
        venue={"name": "Werkplaats", "address": "Straat 1", "city": "Utrecht"},
        capacity={"min_trios": 6, "max_trios": 8}, registration_deadline=FIRST - timedelta(days=20),
        registration_closes_at=FIRST - timedelta(days=10), fee={"amount_cents": 20000},
        priority_size_classes=["middelgroot"], table_size=3,
        sessions=[
            {"number": 1, "title": "Positionering van het wijkgerichte werken in de eigen gemeente",
             "outcome": OUTCOME, "starts_at": FIRST, "ends_at": FIRST + timedelta(hours=4)},
            {"number": 2, "title": "Lokale agenda", "outcome": "Je hebt prioriteiten bepaald.",
             "starts_at": SECOND, "ends_at": SECOND + timedelta(hours=4)},
        ],
    )


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_session_page_shows_theme_dutch_date_outcome_lessons_instruments_quotes_and_numbers(
        reporting: Reporting) -> None:
    await reporting.deliver(edition_scheduled())
    await reporting.deliver(session_completed())
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
    await reporting.deliver(session_completed(
        lessons=["Vraag de slides op via anna.devries@barneveld.nl of bel 06-12345678."],
    ))
    html = (await reporting.http.get(f"/reports/{EDITION}/1")).text
    assert "Anna de Vries" not in html
    assert "anna.devries@barneveld.nl" not in html and "@" not in text_of(html)
    assert "12345678" not in html
    assert "Vraag de slides op via [verwijderd] of bel [verwijderd]." in text_of(html)


async def test_organisers_text_is_escaped_not_interpreted(reporting: Reporting) -> None:
    await reporting.deliver(session_completed(lessons=["<script>alert(1)</script> & meer"]))
    html = (await reporting.http.get(f"/reports/{EDITION}/1")).text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; meer" in html


async def test_a_report_that_arrives_before_its_edition_is_shown_and_gains_the_outcome_later(
        reporting: Reporting) -> None:
    await reporting.deliver(session_completed())
    before = await reporting.http.get(f"/reports/{EDITION}/1")
    assert before.status_code == 200
    assert "Begin bij de opgave van de wijk" in before.text
    assert OUTCOME not in before.text
    await reporting.deliver(edition_scheduled())
    after = await reporting.http.get(f"/reports/{EDITION}/1")
    assert OUTCOME in after.text
    assert "Werkplaatsen wijkgericht werken · Bijeenkomst 1" in text_of(after.text)


@pytest.mark.parametrize("path", [f"/reports/{EDITION}/3", "/reports/2010-voorjaar/1", f"/reports/{EDITION}/een",
                                  f"/reports/{EDITION}/99999999999999999999"])
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
    response = await reporting.http.get("/reports")
    assert response.status_code == 200
    links = re.findall(r'href="(/reports/[^"]+)"', response.text)
    assert links == [f"/reports/{EDITION}/2", f"/reports/{EDITION}/1"]
    assert "7 november 2027" in response.text and "15 oktober 2027" in response.text


async def test_the_index_says_so_when_nothing_is_published_yet(reporting: Reporting) -> None:
    response = await reporting.http.get("/reports")
    assert response.status_code == 200
    assert "Er zijn nog geen verslagen gepubliceerd." in response.text


async def test_a_redelivered_session_completed_has_no_second_effect(reporting: Reporting) -> None:
    event = session_completed()
    await reporting.deliver(event, event_id="evt-1")
    await reporting.deliver(event, event_id="evt-1")
    assert await reporting.count(SessionReportRow) == 1
    assert await reporting.count(Outbox) == 1
