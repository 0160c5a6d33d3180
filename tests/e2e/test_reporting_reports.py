"""Reporting end to end: the services as processes on RabbitMQ and PostgreSQL, the read model fed by events
published on werkplaatsen.events (as registration, scheduling and notifications would), the pages over HTTP.

A round of three sessions whose notes name participants and approvers, give their addresses and phone numbers,
and name municipalities (and neighbourhoods) whose trios did not consent: no public page, Markdown or PDF may
contain any of it. The events arrive out of order: the first session's notes before anyone registered, the
edition after the first session. The summaries wait as drafts until an organiser, having read their previews,
publishes them.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import httpx
import openpyxl
import pytest

from shared.contract import EventData
from shared.contract.notifications import NotificationFailed
from shared.contract.registration import ApprovalRequested, TrioRegistered
from shared.contract.scheduling import AttendanceRecorded, EditionScheduled, RegistrationClosed, SessionCompleted
from tests.e2e.conftest import ORGANIZER_TOKEN
from tests.support import Bus, wait_until

pytestmark = pytest.mark.e2e

EDITION = f"2031-rapportage-{uuid.uuid4().hex[:6]}"
HELD = datetime(2031, 10, 14, 11, tzinfo=UTC)
SESSIONS = [HELD, HELD + timedelta(days=28), HELD + timedelta(days=91)]
FAILED_MAIL_CAUSE = str(uuid.uuid4())

# registration_id: (code, municipality, province, size class, consent, neighbourhood, members, approver)
TRIOS: dict[str, tuple[str, str, str, str, bool, str, list[tuple[str, str]], str]] = {
    "t1": (
        "GM0345",
        "Veenendaal",
        "Utrecht",
        "middelgroot",
        True,
        "Het Franse Gat",
        [("Sanne de Vries", "sociaal"), ("Mehmet Yılmaz", "fysiek"), ("Laura Mitchell", "veiligheid")],
        "Jan van den Berg",
    ),
    "t2": (
        "GM0203",
        "Barneveld",
        "Gelderland",
        "middelgroot",
        False,
        "De Burgt",
        [("Geertruida Hoogendoorn", "fysiek"), ("Bram Jansen", "sociaal"), ("Fatima El Amrani", "economie")],
        "Hendrik Zwanenburg",
    ),
    "t3": (
        "GM0307",
        "Amersfoort",
        "Utrecht",
        "groot",
        False,
        "Vathorst",
        [("Kees Oosterhuis", "fysiek"), ("Priya Raghunathan", "sociaal"), ("Wil Bakker", "bestuur")],
        "Marloes Stevens",
    ),
    "t4": (
        "GM0981",
        "Vaals",
        "Limburg",
        "klein",
        True,
        "Centrum",
        [("Joost Maas", "fysiek"), ("Ingrid Lemmens", "sociaal"), ("Ruud Kerckhoffs", "veiligheid")],
        "Noor Habets",
    ),
}
PRESENT = {1: ["t1", "t2", "t3"], 2: ["t1", "t2"], 3: ["t1", "t2", "t3"]}

NOTES = {
    1: {
        "lessons": [
            "Sanne de Vries (sanne.devries@veenendaal.example) liet zien dat bewoners betrekken begint bij hun "
            "eigen vragen.",
            "In Barneveld merkte Hoogendoorn dat een stip op de horizon helpt om keuzes te maken.",
            "<script>alert('xss')</script> Samenwerken tussen domeinen vraagt een gedeelde taal.",
        ],
        "instruments": [
            {"name": "Positioneringskompas", "description": "Vier kwadranten; vragen aan Mehmet via 06-12345678."}
        ],
        "quotes": ['"In De Burgt zien bewoners één gemeente." — Bram Jansen, Barneveld'],
        "next_steps": ["Bel Mehmet op 06-12345678 of +31 30 123 4567 voor de slides."],
    },
    2: {
        "lessons": [
            "Bewoners betrekken bij de lokale agenda lukt als Amersfoort en Barneveld het bestuur meenemen.",
            "Priya Raghunathan: de gemeente Amersfoort koppelt prioriteiten aan de stip op de horizon.",
            "Mail hendrik.zwanenburg@barneveld.example of bel 030-1234567 als Zwanenburg akkoord is.",
        ],
        "instruments": [{"name": "Agendamatrix", "description": "Wat vinden bestuur, beleid en bewoners urgent?"}],
        "quotes": [],
        "next_steps": ["Fatima stuurt de matrix rond."],
    },
    3: {
        "lessons": [
            "Vathorst laat zien: samenwerken tussen domeinen vraagt mandaat van het bestuur.",
            "Laura Mitchell en Wil Bakker: bewoners betrekken is geen project maar een houding.",
            "Jan van den Berg gaf het trio de ruimte; Marloes Stevens deed dat ook.",
            "In Veenendaal werkt de gedeelde taal inmiddels.",
        ],
        "instruments": [],
        "quotes": ["Geef kees.oosterhuis@amersfoort.example de ruimte."],
        "next_steps": [],
    },
}

FORBIDDEN_WORDS = [
    "Sanne",
    "Vries",
    "Mehmet",
    "Yılmaz",
    "Yilmaz",
    "Laura",
    "Mitchell",
    "Geertruida",
    "Hoogendoorn",
    "Bram",
    "Jansen",
    "Fatima",
    "Amrani",
    "Kees",
    "Oosterhuis",
    "Priya",
    "Raghunathan",
    "Wil Bakker",
    "Bakker",
    "Joost",
    "Ingrid",
    "Lemmens",
    "Ruud",
    "Kerckhoffs",
    "Jan",
    "Berg",
    "Hendrik",
    "Zwanenburg",
    "Marloes",
    "Stevens",
    "Noor",
    "Habets",
    "Barneveld",
    "Amersfoort",
    "De Burgt",
    "Vathorst",
]
FORBIDDEN_TEXT = ["@", "12345678", "123 4567", "1234567", "<script>"]


def trio_registered(rid: str) -> TrioRegistered:
    code, name, province, size, consent, neighbourhood, members, _ = TRIOS[rid]
    return TrioRegistered(
        registration_id=f"{EDITION}-{rid}",
        edition=EDITION,
        registered_at=HELD - timedelta(days=60 - int(rid[1])),
        municipality={
            "code": code,
            "name": name,
            "province": province,
            "inhabitants": 75000,
            "size_class": size,
            "m50_member": size == "middelgroot",
        },
        members=[
            {
                "member_id": f"{rid}-{i}",
                "name": member,
                "email": f"{rid}.{i}@{name.lower()}.example",
                "role": "wijkambtenaar" if i == 0 else "sectorambtenaar",
                "domain": domain,
                "language": "nl",
            }
            for i, (member, domain) in enumerate(members)
        ],
        case={
            "title": f"Samen aan de slag in {neighbourhood}",
            "neighbourhood": neighbourhood,
            "summary": f"In {name} wil {members[0][0]} met bewoners van {neighbourhood} de pleinen vergroenen; "
            f"bel {members[1][0]} op 06-12345678.",
            "domains": ["fysiek", "sociaal"],
        },
        fee={
            "amount_cents": 20000,
            "waived": size == "middelgroot",
            "reason": "middelgroot" if size == "middelgroot" else None,
        },
        priority=size == "middelgroot",
        preferred_domain_mix=True,
        consent={"privacy": True, "publish_municipality_name": consent},
        channel="web",
    )


def rid(short: str) -> str:
    return f"{EDITION}-{short}"


def edition_scheduled() -> EditionScheduled:
    themes = [
        "Positionering van het wijkgerichte werken in de eigen gemeente",
        "Lokale agenda",
        "Wat en wie heb je nodig?",
    ]
    return EditionScheduled(
        edition=EDITION,
        title="Werkplaatsen wijkgericht werken",
        venue={"name": "Werkplaats wijkgericht werken", "address": "Adres volgt", "city": "Utrecht"},
        capacity={"min_trios": 2, "max_trios": 3},
        registration_deadline=HELD - timedelta(days=20),
        registration_closes_at=HELD,
        fee={"amount_cents": 20000, "waived_for_size_classes": ["middelgroot"]},
        priority_size_classes=["middelgroot"],
        table_size=2,
        sessions=[
            {
                "number": n,
                "title": themes[n - 1],
                "outcome": f"Uitkomst van bijeenkomst {n}.",
                "starts_at": SESSIONS[n - 1],
                "ends_at": SESSIONS[n - 1] + timedelta(hours=4),
            }
            for n in (1, 2, 3)
        ],
    )


def session_completed(number: int) -> SessionCompleted:
    present = PRESENT[number]
    return SessionCompleted(
        edition=EDITION,
        session_number=number,
        title=edition_scheduled().sessions[number - 1].title,
        starts_at=SESSIONS[number - 1],
        attendance={"trios": len(present), "municipalities": len(present)},
        notes=NOTES[number],
    )


async def publish(bus: Bus, data: EventData, occurred_at: datetime | None = None, event_id: str | None = None) -> None:
    """Publish an event as its producing service would (envelope, properties, routing key)."""
    exchange = await bus.channel.declare_exchange("werkplaatsen.events", "topic", durable=True)
    event_id = event_id or str(uuid.uuid4())
    envelope = {
        "event_id": event_id,
        "type": type(data).__name__,
        "version": 1,
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
        "producer": data.routing_key.split(".")[0],
        "correlation_id": event_id,
        "causation_id": event_id,
        "data": data.model_dump(mode="json"),
    }
    await exchange.publish(
        aio_pika.Message(
            json.dumps(envelope).encode(),
            message_id=event_id,
            type=type(data).__name__,
            correlation_id=event_id,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        routing_key=data.routing_key,
    )


@pytest.fixture(scope="module")
async def round_held(system):  # noqa: ANN201
    """The whole round, published out of order; the drafts read (public pages and the organiser's preview) and
    then published; done when reporting announced the round's report."""
    async with Bus(system.amqp_url) as bus:
        await publish(bus, session_completed(1), HELD + timedelta(days=1))
        for short in TRIOS:
            await publish(bus, trio_registered(short), HELD - timedelta(days=50))
        for short, trio in TRIOS.items():
            await publish(
                bus,
                ApprovalRequested(
                    registration_id=rid(short),
                    approver={"name": trio[7], "email": f"approver@{short}.example"},
                    approve_url="https://werkplaatsen.example/goedkeuren",
                    expires_at=HELD,
                ),
                HELD - timedelta(days=50),
                event_id=FAILED_MAIL_CAUSE if short == "t3" else None,
            )
        await publish(bus, edition_scheduled(), HELD - timedelta(days=100))
        await publish(
            bus,
            RegistrationClosed(
                edition=EDITION, placed=[rid("t1"), rid("t2"), rid("t3")], waitlisted=[rid("t4")], undersubscribed=False
            ),
            HELD - timedelta(days=20),
        )
        for number, present in PRESENT.items():
            await publish(
                bus,
                AttendanceRecorded(edition=EDITION, session_number=number, present=[rid(s) for s in present]),
                SESSIONS[number - 1],
            )
        await publish(
            bus,
            NotificationFailed(
                notification_id=str(uuid.uuid4()),
                kind="approval_request",
                channel="email",
                caused_by=FAILED_MAIL_CAUSE,
                reason="SMTP 550 5.1.1 <approver@t3.example>: user unknown",
            ),
        )
        for number in (2, 3):
            await publish(bus, session_completed(number), SESSIONS[number - 1] + timedelta(days=1))
        async with httpx.AsyncClient(base_url=system["reporting"].url, timeout=30) as http:

            async def registrations_in() -> bool:
                response = await http.get(f"/dashboard/{EDITION}/registrations.csv", headers=organiser())
                return response.status_code == 200 and response.text.count("\r\n") == 5

            async def drafts() -> bool:
                response = await http.get(f"/api/reports/{EDITION}", headers=organiser())
                return (
                    response.status_code == 200 and [r["status"] for r in response.json()["reports"]] == ["draft"] * 3
                )

            await wait_until(registrations_in, timeout=30, what="the four registrations in reporting's read model")
            await wait_until(drafts, timeout=30, what="the three sessions' draft summaries")
            before = {path: (await http.get(path)).status_code for path in PUBLIC_PATHS}
            before_index = (await http.get("/reports")).text + (await http.get("/reports/feed.atom")).text
            preview = (await http.get(f"/api/reports/{EDITION}/1", headers=organiser())).json()
        announced_before = bus.of("LessonReportPublished", edition=EDITION)
        publish_ids = [
            await bus.send("reporting.PublishReport", {"edition": EDITION, "session_number": n}) for n in (1, 2, 3)
        ]
        published = await bus.wait_for("LessonReportPublished", count=4, edition=EDITION, timeout=60)
    return {
        "published": published,
        "publish_ids": publish_ids,
        "announced_before": announced_before,
        "before": before,
        "before_index": before_index,
        "preview": preview,
    }


PUBLIC_PATHS = [
    f"/reports/{EDITION}",
    f"/reports/{EDITION}.md",
    f"/reports/{EDITION}.pdf",
    *(f"/reports/{EDITION}/{n}" for n in (1, 2, 3)),
]


def organiser() -> dict[str, str]:
    return {"Authorization": f"Bearer {ORGANIZER_TOKEN}"}


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def assert_anonymous(text: str, where: str) -> None:
    for word in FORBIDDEN_WORDS:
        assert not re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text), f"{where} contains {word!r}"
    for fragment in FORBIDDEN_TEXT:
        assert fragment not in text, f"{where} contains {fragment!r}"


async def get(system, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=system["reporting"].url, timeout=60) as http:
        return await http.get(path, **kwargs)


async def test_no_summary_was_public_or_announced_before_an_organiser_published_it(system, round_held) -> None:
    assert round_held["before"] == dict.fromkeys(PUBLIC_PATHS, 404)
    assert EDITION not in round_held["before_index"]
    assert round_held["announced_before"] == []
    by_session = {e["data"]["session_number"]: e for e in round_held["published"]}
    assert [by_session[n]["correlation_id"] for n in (1, 2, 3)] == round_held["publish_ids"]


async def test_the_preview_marks_every_change_the_anonymiser_makes_in_the_first_sessions_summary(
    system, round_held
) -> None:
    preview = round_held["preview"]
    assert (preview["status"], preview["attendance"]) == ("draft", {"trios": 3, "municipalities": 3})

    def changes(item: dict[str, Any]) -> list[tuple[str, str]]:
        return [(s["text"], s["kind"]) for s in item["segments"] if s["changed"]]

    first, second, _ = preview["lessons"]
    assert changes(first) == [("[verwijderd]", "name"), ("[verwijderd]", "email")]
    assert changes(second) == [("een middelgrote gemeente in Gelderland", "municipality"), ("[verwijderd]", "name")]
    assert changes(preview["quotes"][0]) == [("een wijk", "neighbourhood"), ("", "attribution")]
    name, phone = ("[verwijderd]", "name"), ("[verwijderd]", "phone")
    assert changes(preview["instruments"][0]["description"]) == [name, phone]
    assert changes(preview["next_steps"][0]) == [name, phone, phone]
    texts = [i["text"] for i in (*preview["lessons"], *preview["quotes"], *preview["next_steps"])]
    assert_anonymous(" ".join(texts).replace("<script>alert('xss')</script>", ""), "the preview")
    page = text_of((await get(system, f"/reports/{EDITION}/1")).text)
    assert first["text"] in page and second["text"] in page and preview["quotes"][0]["text"] in page


async def test_each_session_and_the_round_are_announced_with_their_public_urls(system, round_held) -> None:
    base = system["reporting"].url
    by_session = {e["data"]["session_number"]: e["data"] for e in round_held["published"]}
    assert set(by_session) == {1, 2, 3, None}
    assert by_session[2]["url"] == f"{base}/reports/{EDITION}/2"
    assert by_session[None]["url"] == f"{base}/reports/{EDITION}"
    assert by_session[None]["title"].startswith("Verslag Werkplaatsen wijkgericht werken, oktober 2031")


async def test_session_pages_show_the_lessons_and_the_numbers_of_who_was_present(system, round_held) -> None:
    response = await get(system, f"/reports/{EDITION}/1")
    assert response.status_code == 200
    text = text_of(response.text)
    assert "Positionering van het wijkgerichte werken in de eigen gemeente" in text
    assert "14 oktober 2031" in text and "Uitkomst van bijeenkomst 1." in text
    assert "Aanwezige trio's 3" in text and "Gemeenten 3" in text
    assert "2 middelgrote gemeenten" in text and "1 grote gemeente" in text
    assert "Gelderland (1), Utrecht (2)" in text
    assert "Veenendaal; een grote gemeente in Utrecht; een middelgrote gemeente in Gelderland" in text
    assert "[verwijderd] ([verwijderd]) liet zien dat bewoners betrekken begint bij hun eigen vragen." in text
    assert "In een middelgrote gemeente in Gelderland merkte [verwijderd] dat een stip op de horizon helpt" in text
    assert "In een wijk zien bewoners één gemeente." in text
    second = text_of((await get(system, f"/reports/{EDITION}/2")).text)
    assert "Aanwezige trio's 2" in second and "Agendamatrix" in second


async def test_script_in_the_notes_is_shown_as_text(system, round_held) -> None:
    html = (await get(system, f"/reports/{EDITION}/1")).text
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in html
    assert "<script>" not in html


async def test_the_rounds_report_has_introduction_lessons_themes_cases_and_numbers(system, round_held) -> None:
    response = await get(system, f"/reports/{EDITION}")
    assert response.status_code == 200
    text = text_of(response.text)
    for part in (
        "Inleiding",
        "Platform31",
        "Landelijk Platform Buurtgericht werken",
        "M50",
        "A&amp;O fonds Gemeenten",
        "Hoe de trio's werkten",
        "Lessen per bijeenkomst",
        "Bijeenkomst 3: Wat en wie heb je nodig?",
        "Rode lijnen",
        "Zo vonden we de rode lijnen",
        "De casussen",
        "Thema: fysiek en sociaal",
        "In cijfers",
    ):
        assert part in text, part
    themes = text.split("Rode lijnen")[1].split("Zo vonden we")[0]
    assert "Bewoners betrekken" in themes and "Komt terug in bijeenkomst 1, 2 en 3" in themes
    assert "Stip op de horizon" in themes
    cases = text.split("De casussen")[1].split("In cijfers")[0]
    assert "Samen aan de slag in Het Franse Gat Veenendaal, Het Franse Gat" in cases
    assert "Samen aan de slag in een wijk een middelgrote gemeente in Gelderland" in cases
    assert "Vaals" not in cases  # waitlisted: never took part
    numbers = text.split("In cijfers")[1]
    assert "Trio's 3 Gemeenten 3 Bijeenkomsten 3" in numbers


async def test_no_public_page_markdown_or_pdf_names_a_person_an_address_or_an_unconsented_municipality(
    system, round_held
) -> None:
    for path in [
        "/reports",
        "/reports/feed.atom",
        f"/reports/{EDITION}",
        f"/reports/{EDITION}.md",
        *(f"/reports/{EDITION}/{n}" for n in (1, 2, 3)),
    ]:
        response = await get(system, path)
        assert response.status_code == 200, path
        assert_anonymous(response.text if path.endswith((".md", ".atom")) else text_of(response.text), path)
    markdown = (await get(system, f"/reports/{EDITION}.md")).text
    assert r"\<script\>alert('xss')\</script\>" in markdown


async def test_the_pdf_opens_and_its_text_is_anonymous(system, round_held, tmp_path) -> None:
    response = await get(system, f"/reports/{EDITION}.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "verslag.pdf"
    pdf.write_bytes(response.content)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "Producer:        WeasyPrint" in info and re.search(r"Pages:\s+[2-9]", info)
    assert "Page size:       595.276 x 841.89 pts (A4)" in info
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert "Rode lijnen" in flat and "Veenendaal" in flat and "een middelgrote gemeente in Gelderland" in flat
    assert "<script>alert('xss')</script>" in flat  # shown as text
    assert_anonymous(flat.replace("<script>alert('xss')</script>", ""), "the PDF")


async def test_the_index_and_the_feed_list_the_rounds_report_and_the_sessions(system, round_held) -> None:
    index = (await get(system, "/reports")).text
    for path in (f"/reports/{EDITION}", f"/reports/{EDITION}/1", f"/reports/{EDITION}/3"):
        assert f'href="{path}"' in index
    feed = (await get(system, "/reports/feed.atom")).text
    assert f"{system['reporting'].url}/reports/{EDITION}</id>" in feed


async def test_the_dashboard_and_exports_refuse_requests_without_the_organiser_token(system, round_held) -> None:
    for path in (
        "/dashboard",
        f"/dashboard/{EDITION}/registrations.csv",
        f"/dashboard/{EDITION}/registrations.xlsx",
        f"/dashboard/{EDITION}/attendance.csv",
        f"/dashboard/{EDITION}/attendance.xlsx",
    ):
        for headers in ({}, {"Authorization": "Bearer not-the-token"}):
            response = await get(system, path, headers=headers)
            assert response.status_code == 401, path
            assert response.json()["errors"][0]["code"] == "unauthorized"
    login_page = await get(system, "/dashboard", headers={"Accept": "text/html"})
    assert login_page.status_code == 401 and "Inloggen voor organisatoren" in login_page.text


async def test_the_dashboard_shows_the_edition_from_events_only(system, round_held) -> None:
    html = (await get(system, "/dashboard", headers=organiser())).text
    section = html.split(f'id="editie-{EDITION}"')[1].split("</section>")[0]
    assert 'data-status="placed">3<' in section and 'data-status="waitlisted">1<' in section
    assert 'data-fees="due">€ 200<' in section and 'data-fees="waived">€ 400<' in section
    assert 'data-session="2">2<' in section
    assert "Vaals" in section.split("Wachtlijst")[1]
    failures = html.split("Mislukte berichten")[1]
    assert "approval_request" in failures and "Amersfoort" in failures and "approver@t3.example" not in failures


async def test_a_browser_logs_in_once_and_the_session_cookie_opens_the_dashboard(system, round_held) -> None:
    async with httpx.AsyncClient(base_url=system["reporting"].url, timeout=30) as http:
        login = await http.post("/dashboard/login", data={"token": ORGANIZER_TOKEN})
        assert login.status_code == 303
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        page = await http.get("/dashboard", headers={"Accept": "text/html"})
        assert page.status_code == 200 and EDITION in page.text


async def test_the_exports_open_as_csv_and_xlsx(system, round_held) -> None:
    registrations = await get(system, f"/dashboard/{EDITION}/registrations.xlsx", headers=organiser())
    sheet = openpyxl.load_workbook(io.BytesIO(registrations.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 5 and rows[0][0] == "registration_id"
    assert {r[6]: r[2] for r in rows[1:]} == {
        "Veenendaal": "geplaatst",
        "Barneveld": "geplaatst",
        "Amersfoort": "geplaatst",
        "Vaals": "op de wachtlijst",
    }
    attendance = await get(system, f"/dashboard/{EDITION}/attendance.csv?sep=,", headers=organiser())
    lines = attendance.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 3 * 3
    assert sum(1 for line in lines if line.endswith(",ja")) == 3 + 2 + 3


async def test_retracting_reports_makes_their_pages_answer_410(system, round_held) -> None:
    async with Bus(system.amqp_url) as bus:
        await bus.send("reporting.RetractReport", {"edition": EDITION, "session_number": 2})
        await bus.send("reporting.RetractReport", {"edition": EDITION, "session_number": None})
        unknown = await bus.send("reporting.RetractReport", {"edition": EDITION, "session_number": 7})
        rejected = await bus.wait_for("CommandRejected", command_id=unknown)
    assert rejected[0]["producer"] == "reporting"
    assert rejected[0]["data"]["errors"][0]["code"] == "unknown_report"

    async def gone() -> bool:
        return all(
            [
                (await get(system, p)).status_code == 410
                for p in (
                    f"/reports/{EDITION}/2",
                    f"/reports/{EDITION}",
                    f"/reports/{EDITION}.pdf",
                    f"/reports/{EDITION}.md",
                )
            ]
        )

    await wait_until(gone, timeout=30, what="the retracted reports to answer 410")
    page = await get(system, f"/reports/{EDITION}/2")
    assert "Dit verslag is ingetrokken" in page.text and '<html lang="nl">' in page.text
    assert (await get(system, f"/reports/{EDITION}/1")).status_code == 200
    assert f'href="/reports/{EDITION}/2"' not in (await get(system, "/reports")).text
