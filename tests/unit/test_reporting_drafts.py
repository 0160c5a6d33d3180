"""Draft summaries: on no public page until an organiser publishes them, and the organiser's preview over HTTP
with every change the anonymiser makes; a SQLite store filled through the service's own consumers."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from services.reporting.adapters import Inbox, Outbox
from services.reporting.bootstrap import MIGRATIONS
from shared.contract.reporting import PublishReport, ReportingCommandRejected, RetractReport, ReviseReport
from shared.db import Database, migrate
from shared.messaging.processing import MessageStore
from tests.unit.test_reporting_pages import (
    EDITION,
    FIRST,
    ORGANISER_TOKEN,
    PUBLIC_URL,
    SECOND,
    Reporting,
    edition_scheduled,
    session_completed,
    text_of,
    trio_registered,
)

ORGANISER = {"Authorization": f"Bearer {ORGANISER_TOKEN}"}


@pytest.fixture
async def reporting(tmp_path: Path) -> AsyncIterator[Reporting]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'reporting.sqlite3'}")
    await migrate(db, MIGRATIONS, "reporting")
    service = Reporting(MessageStore(db, "reporting", Outbox, Inbox, ReportingCommandRejected))
    yield service
    await service.http.aclose()
    await db.dispose()


async def published_keys(reporting: Reporting) -> list[str]:
    async with reporting.store.db.sessions() as session:
        return [r.routing_key for r in (await session.execute(select(Outbox).order_by(Outbox.position))).scalars()]


async def public_paths(reporting: Reporting) -> set[str]:
    index = (await reporting.http.get("/reports")).text + (await reporting.http.get("/reports/feed.atom")).text
    return set(re.findall(rf"/reports/{EDITION}(?:/\d+)?", index))


async def preview(reporting: Reporting, number: int = 1) -> dict[str, Any]:
    response = await reporting.http.get(f"/api/reports/{EDITION}/{number}", headers=ORGANISER)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


async def test_a_completed_session_is_on_no_public_page_until_an_organiser_publishes_it(reporting: Reporting) -> None:
    await reporting.deliver(edition_scheduled())
    await reporting.deliver(session_completed(1, FIRST))
    await reporting.deliver(session_completed(2, SECOND))  # the edition's last session
    for path in (f"/reports/{EDITION}/1", f"/reports/{EDITION}/2", f"/reports/{EDITION}", f"/reports/{EDITION}.md"):
        assert (await reporting.http.get(path)).status_code == 404, path
    assert await public_paths(reporting) == set()
    assert "Er zijn nog geen verslagen gepubliceerd." in (await reporting.http.get("/reports")).text
    assert await published_keys(reporting) == []

    await reporting.publish(1)
    assert (await reporting.http.get(f"/reports/{EDITION}/1")).status_code == 200
    assert await public_paths(reporting) == {f"/reports/{EDITION}/1"}
    assert (await reporting.http.get(f"/reports/{EDITION}")).status_code == 404  # the last session is a draft yet
    await reporting.publish(2)
    assert (await reporting.http.get(f"/reports/{EDITION}")).status_code == 200
    assert await published_keys(reporting) == ["reporting.LessonReportPublished"] * 3


async def test_the_rounds_report_shows_only_published_sessions(reporting: Reporting) -> None:
    await reporting.deliver(edition_scheduled())
    await reporting.deliver(session_completed(1, FIRST, lessons=["Een les die nog een concept is."]))
    await reporting.deliver(session_completed(2, SECOND))
    await reporting.publish(2)
    round_report = text_of((await reporting.http.get(f"/reports/{EDITION}")).text)
    assert "Bijeenkomst 2: Lokale agenda" in round_report
    assert "Bijeenkomst 1:" not in round_report and "nog een concept" not in round_report
    markdown = (await reporting.http.get(f"/reports/{EDITION}.md")).text
    assert "nog een concept" not in markdown


async def test_an_edition_that_publishes_at_once_puts_the_summary_online_as_the_session_is_completed(
    reporting: Reporting,
) -> None:
    await reporting.deliver(edition_scheduled(at_once=True))
    await reporting.deliver(session_completed(1, FIRST))
    assert (await reporting.http.get(f"/reports/{EDITION}/1")).status_code == 200
    assert await published_keys(reporting) == ["reporting.LessonReportPublished"]
    assert (await preview(reporting))["status"] == "published"


async def test_the_preview_shows_the_summary_as_it_will_be_published_with_every_change_marked(
    reporting: Reporting,
) -> None:
    await reporting.deliver(
        trio_registered("r1", "GM0203", "Barneveld", False, ["Anna de Vries", "Pieter Groen", "Fatima El Amrani"])
    )
    await reporting.deliver(edition_scheduled())
    await reporting.deliver(
        session_completed(
            lessons=["Anna uit Barneveld: mail anna@barneveld.example."],
            quotes=['"De wijk is geen project." — Anna de Vries, wijkregisseur'],
        )
    )
    shown = await preview(reporting)
    assert {k: shown[k] for k in ("edition", "session_number", "status", "published_at", "retracted_at")} == {
        "edition": EDITION,
        "session_number": 1,
        "status": "draft",
        "published_at": None,
        "retracted_at": None,
    }
    assert shown["title"] == "Positionering van het wijkgerichte werken in de eigen gemeente"
    assert shown["starts_at"] == FIRST.isoformat()
    assert shown["attendance"] == {"trios": 7, "municipalities": 6}
    assert shown["url"] == f"{PUBLIC_URL}/reports/{EDITION}/1"
    (lesson,) = shown["lessons"]
    assert [plain(s) for s in lesson["segments"]] == [
        {"text": "[verwijderd]", "changed": True, "kind": "name"},
        {"text": " uit ", "changed": False, "kind": None},
        {"text": "een middelgrote gemeente in Gelderland", "changed": True, "kind": "municipality"},
        {"text": ": mail ", "changed": False, "kind": None},
        {"text": "[verwijderd]", "changed": True, "kind": "email"},
        {"text": ".", "changed": False, "kind": None},
    ]
    # Each change says by which rule and what it replaced (the address was replaced before it was stored).
    name, _, place, _, address, _ = lesson["segments"]
    assert (name["rule"], name["original"]) == ("registered_name", "Anna")
    assert name["reason"] == "naam van een deelnemer of goedkeurder van deze editie"
    assert (place["rule"], place["original"]) == ("municipality", "Barneveld")
    assert (address["rule"], address["original"]) == ("email", "[verwijderd]")
    (quote,) = shown["quotes"]
    assert [plain(s) for s in quote["segments"]] == [
        {"text": "De wijk is geen project.", "changed": False, "kind": None},
        {"text": "", "changed": True, "kind": "attribution"},
    ]
    assert shown["instruments"][0]["name"]["segments"] == [{"text": "Wijkscan", "changed": False, "kind": None}]
    assert shown["changes"] == 4

    await reporting.publish(1)
    page = text_of((await reporting.http.get(f"/reports/{EDITION}/1")).text)
    for item in (lesson, quote, shown["instruments"][0]["description"], *shown["next_steps"]):
        assert item["text"] == "".join(s["text"] for s in item["segments"])
        assert item["text"] in page


def plain(segment: dict[str, Any]) -> dict[str, Any]:
    return {k: segment[k] for k in ("text", "changed", "kind")}


async def test_a_revised_draft_is_previewed_and_published_with_its_new_notes(reporting: Reporting) -> None:
    await reporting.deliver(session_completed())
    await reporting.command(
        ReviseReport(
            edition=EDITION, session_number=1, notes={"lessons": ["Herschreven: bel 06-12345678."], "next_steps": []}
        )
    )
    shown = await preview(reporting)
    assert [item["text"] for item in shown["lessons"]] == ["Herschreven: bel [verwijderd]."]
    assert plain(shown["lessons"][0]["segments"][1]) == {"text": "[verwijderd]", "changed": True, "kind": "phone"}
    assert shown["instruments"] == [] and shown["quotes"] == [] and shown["next_steps"] == []
    await reporting.publish(1)
    assert "Herschreven: bel [verwijderd]." in text_of((await reporting.http.get(f"/reports/{EDITION}/1")).text)


async def test_the_edition_list_shows_each_summary_with_its_status_and_the_rounds_report(reporting: Reporting) -> None:
    await reporting.deliver(edition_scheduled())
    assert (await reporting.http.get(f"/api/reports/{EDITION}", headers=ORGANISER)).json()["reports"] == []
    await reporting.deliver(session_completed(1, FIRST))
    await reporting.deliver(session_completed(2, SECOND))
    await reporting.publish(2)
    await reporting.command(RetractReport(edition=EDITION, session_number=2))
    listing = (await reporting.http.get(f"/api/reports/{EDITION}", headers=ORGANISER)).json()
    assert (listing["edition"], listing["title"], listing["publish_reports_at_once"]) == (
        EDITION,
        "Werkplaatsen wijkgericht werken",
        False,
    )
    assert [(r["session_number"], r["status"], r["title"]) for r in listing["reports"]] == [
        (1, "draft", "Positionering van het wijkgerichte werken in de eigen gemeente"),
        (2, "retracted", "Lokale agenda"),
    ]
    assert listing["reports"][1]["published_at"] is not None and listing["reports"][1]["retracted_at"] is not None
    assert listing["round"]["status"] == "published" and listing["round"]["url"] == f"{PUBLIC_URL}/reports/{EDITION}"


async def test_publishing_twice_publishes_a_rejection_and_announces_once(reporting: Reporting) -> None:
    await reporting.deliver(session_completed())
    await reporting.publish(1)
    await reporting.command(PublishReport(edition=EDITION, session_number=1))
    assert await published_keys(reporting) == ["reporting.LessonReportPublished", "reporting.CommandRejected"]
    async with reporting.store.db.sessions() as session:
        rejection = (await session.execute(select(Outbox).order_by(Outbox.position.desc()))).scalars().first()
    assert rejection is not None and b'"already_published"' in rejection.body


@pytest.mark.parametrize("path", [f"/api/reports/{EDITION}", f"/api/reports/{EDITION}/1"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": ORGANISER_TOKEN}])
async def test_the_preview_and_the_list_are_for_organisers_only(
    reporting: Reporting, path: str, headers: dict[str, str]
) -> None:
    await reporting.deliver(session_completed())
    response = await reporting.http.get(path, headers=headers)
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "unauthorized"
    assert "Begin bij de opgave" not in response.text


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (f"/api/reports/{EDITION}/2", "unknown_report"),
        (f"/api/reports/{EDITION}/een", "unknown_report"),
        (f"/api/reports/{EDITION}/99999999999999999999", "unknown_report"),
        ("/api/reports/2010-voorjaar", "unknown_edition"),
        ("/api/reports/Niet%20zo", "unknown_edition"),
    ],
)
async def test_an_unknown_report_or_edition_answers_404_with_its_code(
    reporting: Reporting, path: str, code: str
) -> None:
    await reporting.deliver(session_completed())
    response = await reporting.http.get(path, headers=ORGANISER)
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == code


async def test_the_list_of_an_edition_known_only_from_its_notes(reporting: Reporting) -> None:
    await reporting.deliver(session_completed())
    listing = (await reporting.http.get(f"/api/reports/{EDITION}", headers=ORGANISER)).json()
    assert (listing["title"], listing["publish_reports_at_once"], listing["round"]) == (None, None, None)
    assert [r["status"] for r in listing["reports"]] == ["draft"]


async def test_the_preview_and_the_list_answer_as_docs_openapi_describes_them(reporting: Reporting) -> None:
    document = json.loads((Path(__file__).parents[2] / "docs" / "openapi" / "reporting.json").read_text())

    def check(instance: Any, schema: str) -> None:
        jsonschema.validate(instance, {"$ref": f"#/components/schemas/{schema}", "components": document["components"]})

    await reporting.deliver(edition_scheduled())
    await reporting.deliver(session_completed(1, FIRST, quotes=['"Zo gaat dat." — Anna, Ede']))
    await reporting.deliver(session_completed(2, SECOND))
    await reporting.publish(2)
    check(await preview(reporting), "ReportPreview")
    check((await reporting.http.get(f"/api/reports/{EDITION}", headers=ORGANISER)).json(), "EditionReports")
    paths = document["paths"]
    assert {"/api/reports/{edition}", "/api/reports/{edition}/{session_number}"} <= set(paths)
