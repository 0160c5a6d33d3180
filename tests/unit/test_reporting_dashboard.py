"""The organiser's overview: built from events only, behind the organiser token, with CSV and XLSX exports."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import openpyxl
import pytest
from starlette.applications import Starlette

from services.reporting import consumes, dashboard
from services.reporting.adapters import Inbox, Outbox
from services.reporting.anonymise import NameKey
from services.reporting.bootstrap import MIGRATIONS
from shared.contract import Event, EventData
from shared.contract.notifications import NotificationFailed
from shared.contract.registration import ApprovalRequested, RegistrationDeclined, TrioRegistered
from shared.contract.reporting import ReportingCommandRejected
from shared.contract.scheduling import AttendanceRecorded, EditionScheduled, TrioPlaced, TrioWaitlisted
from shared.db import Database, migrate
from shared.links import sign
from shared.messaging.messages import Incoming
from shared.messaging.processing import MessageStore

TOKEN = "organiser-token-for-tests"
SECRET = "test-secret"
EDITION = "2027-najaar"
FIRST = datetime(2027, 10, 15, 11, tzinfo=UTC)
EVENT_FOR_MAIL = "evt-approval-r3"


class Overview:
    def __init__(self, store: MessageStore, public_url: str) -> None:
        key = NameKey.from_secret(SECRET)
        self.consumers = consumes.consumers(store, public_url=public_url, key=key)
        app = Starlette(routes=dashboard.routes(store, organizer_token=TOKEN, secret_key=SECRET, public_url=public_url))
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting")

    async def deliver(
        self, data: EventData, event_id: str | None = None, occurred_at: datetime = FIRST - timedelta(days=10)
    ) -> None:
        event = Event[type(data)](
            event_id=event_id or str(uuid.uuid4()),
            type=type(data).__name__,
            version=1,
            occurred_at=occurred_at,
            producer=data.routing_key.split(".")[0],
            correlation_id="c",
            causation_id="c",
            data=data,
        )
        await self.consumers[data.routing_key](
            Incoming(body=event.model_dump_json().encode(), routing_key=data.routing_key, message_id=event.event_id)
        )


async def make(tmp_path: Path, public_url: str) -> tuple[Overview, Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'reporting.sqlite3'}")
    await migrate(db, MIGRATIONS, "reporting")
    return Overview(MessageStore(db, "reporting", Outbox, Inbox, ReportingCommandRejected), public_url), db


@pytest.fixture
async def overview(tmp_path: Path) -> AsyncIterator[Overview]:
    service, db = await make(tmp_path, "https://werkplaatsen.example.nl")
    yield service
    await service.http.aclose()
    await db.dispose()


def registered(
    rid: str,
    name: str,
    size: str,
    province: str,
    domains: list[str],
    waived: bool,
    day: int,
    title: str = "Groene pleinen",
) -> TrioRegistered:
    return TrioRegistered(
        registration_id=rid,
        edition=EDITION,
        registered_at=datetime(2027, 9, day, 10, tzinfo=UTC),
        municipality={
            "code": f"GM{day:04d}",
            "name": name,
            "province": province,
            "inhabitants": 50000,
            "size_class": size,
            "m50_member": False,
        },
        members=[
            {
                "member_id": f"{rid}{i}",
                "name": f"Lid {i} van {name}",
                "email": f"{rid}{i}@gemeente.example",
                "role": "wijkambtenaar" if i == 0 else "sectorambtenaar",
                "domain": d,
                "language": "nl",
            }
            for i, d in enumerate(domains)
        ],
        case={"title": title, "neighbourhood": "Centrum", "summary": "Een opgave.", "domains": ["fysiek", "sociaal"]},
        fee={"amount_cents": 20000, "waived": waived, "reason": "middelgroot" if waived else None},
        priority=waived,
        preferred_domain_mix=True,
        consent={"privacy": True, "publish_municipality_name": False},
        channel="web",
    )


async def fill(overview: Overview) -> None:
    await overview.deliver(
        EditionScheduled(
            edition=EDITION,
            title="Werkplaatsen wijkgericht werken",
            venue={"name": "Werkplaats", "address": "Straat 1", "city": "Utrecht"},
            capacity={"min_trios": 1, "max_trios": 2},
            registration_deadline=FIRST - timedelta(days=20),
            registration_closes_at=FIRST,
            fee={"amount_cents": 20000, "waived_for_size_classes": ["middelgroot"]},
            priority_size_classes=["middelgroot"],
            table_size=2,
            sessions=[
                {
                    "number": n,
                    "title": f"Thema {n}",
                    "outcome": "Uitkomst.",
                    "starts_at": FIRST + timedelta(days=30 * (n - 1)),
                    "ends_at": FIRST + timedelta(days=30 * (n - 1), hours=4),
                }
                for n in (1, 2)
            ],
        )
    )
    await overview.deliver(
        registered("r1", "Barneveld", "middelgroot", "Gelderland", ["sociaal", "fysiek", "fysiek"], True, 1)
    )
    await overview.deliver(
        registered(
            "r2",
            "Utrecht",
            "groot",
            "Utrecht",
            ["sociaal", "veiligheid", "economie"],
            False,
            3,
            title='=HYPERLINK("http://evil.example","klik")',
        )
    )
    await overview.deliver(registered("r3", "Vaals", "klein", "Limburg", ["fysiek", "sociaal", "bestuur"], False, 3))
    await overview.deliver(registered("r4", "Ede", "groot", "Gelderland", ["fysiek", "sociaal", "economie"], False, 5))
    await overview.deliver(
        ApprovalRequested(
            registration_id="r3",
            approver={"name": "Bea Baas", "email": "b@x.example"},
            approve_url="https://x.example/a",
            expires_at=FIRST,
        ),
        EVENT_FOR_MAIL,
    )
    await overview.deliver(TrioPlaced(registration_id="r1", edition=EDITION, via="allocation"))
    await overview.deliver(TrioPlaced(registration_id="r2", edition=EDITION, via="allocation"))
    await overview.deliver(TrioWaitlisted(registration_id="r3", edition=EDITION, position=1))
    await overview.deliver(
        RegistrationDeclined(registration_id="r4", edition=EDITION, declined_at=FIRST, by_organizer=True)
    )
    await overview.deliver(AttendanceRecorded(edition=EDITION, session_number=1, present=["r1", "r2"]))
    await overview.deliver(
        NotificationFailed(
            notification_id="n1",
            kind="approval_request",
            channel="email",
            caused_by=EVENT_FOR_MAIL,
            reason="SMTP 550 b@x.example rejected",
        )
    )


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard",
        f"/dashboard/{EDITION}/registrations.csv",
        f"/dashboard/{EDITION}/registrations.xlsx",
        f"/dashboard/{EDITION}/attendance.csv",
        f"/dashboard/{EDITION}/attendance.xlsx",
    ],
)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Cookie": "werkplaatsen_organisator=forged"}],
)
async def test_the_overview_and_exports_refuse_requests_without_the_organiser_token(
    overview: Overview, path: str, headers: dict[str, str]
) -> None:
    response = await overview.http.get(path, headers=headers)
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "unauthorized"


async def test_a_browser_without_a_session_gets_the_dutch_login_page(overview: Overview) -> None:
    response = await overview.http.get("/dashboard", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 401
    assert '<html lang="nl">' in response.text and "Inloggen voor organisatoren" in response.text
    assert 'action="/dashboard/login"' in response.text


async def test_logging_in_with_the_token_sets_a_secure_httponly_strict_cookie_that_opens_the_overview(
    overview: Overview,
) -> None:
    wrong = await overview.http.post("/dashboard/login", data={"token": "wrong"})
    assert wrong.status_code == 401 and "Dit token klopt niet" in wrong.text and "set-cookie" not in wrong.headers
    response = await overview.http.post("/dashboard/login", data={"token": TOKEN})
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("werkplaatsen_organisator=")
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/dashboard", "Max-Age=43200"):
        assert flag.lower() in cookie.lower()
    value = cookie.split(";")[0].split("=", 1)[1]
    page = await overview.http.get("/dashboard", headers={"Cookie": f"werkplaatsen_organisator={value}"})
    assert page.status_code == 200 and "Overzicht voor organisatoren" in page.text
    assert page.headers["cache-control"] == "no-store"


async def test_a_session_signed_for_another_organiser_token_is_refused(overview: Overview) -> None:
    other = sign(SECRET, "session", dashboard.fingerprint("previous-token"))
    response = await overview.http.get("/dashboard", headers={"Cookie": f"werkplaatsen_organisator={other}"})
    assert response.status_code == 401


async def test_logging_out_removes_the_cookie(overview: Overview) -> None:
    response = await overview.http.post("/dashboard/logout")
    assert response.status_code == 303
    assert (
        'werkplaatsen_organisator="";' in response.headers["set-cookie"]
        or "Max-Age=0" in response.headers["set-cookie"]
    )


async def test_on_plain_http_on_this_machine_the_cookie_is_not_marked_secure(tmp_path: Path) -> None:
    service, db = await make(tmp_path, "http://localhost:8000")
    try:
        response = await service.http.post("/dashboard/login", data={"token": TOKEN})
        assert "secure" not in response.headers["set-cookie"].lower()
    finally:
        await service.http.aclose()
        await db.dispose()


async def test_the_overview_shows_statuses_sizes_fees_waitlist_attendance_and_failed_notifications(
    overview: Overview,
) -> None:
    await fill(overview)
    page = (await overview.http.get("/dashboard", headers=bearer())).text
    for status, count in [
        ("awaiting_approval", 0),
        ("placed", 2),
        ("waitlisted", 1),
        ("declined", 1),
        ("cancelled", 0),
        ("approved", 0),
    ]:
        assert f'data-status="{status}">{count}<' in page
    assert 'data-fees="due">€ 200<' in page  # Utrecht pays, Barneveld is middelgroot
    assert 'data-fees="waived">€ 200<' in page
    assert 'data-fees="open">€ 200<' in page  # Vaals, waitlisted
    assert 'data-session="1">2<' in page and 'data-session="2">nog niet vastgelegd<' in page
    assert "Vaals" in page.split("Wachtlijst")[1].split("</table>")[0]
    failures = page.split("Mislukte berichten")[1]
    assert "approval_request" in failures and "Vaals" in failures and EDITION in failures
    assert "b@x.example" not in page
    assert page.count("<svg") == 2 and "Aanmeldingen in de tijd" in page
    assert "Lid 0" not in page  # names are not even kept


async def test_the_registrations_export_as_csv_has_a_row_per_trio_without_personal_data(overview: Overview) -> None:
    await fill(overview)
    response = await overview.http.get(f"/dashboard/{EDITION}/registrations.csv", headers=bearer())
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="aanmeldingen-2027-najaar.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert [(r["gemeente"], r["status"], r["grootteklasse"]) for r in rows] == [
        ("Barneveld", "geplaatst", "middelgroot"),
        ("Utrecht", "geplaatst", "groot"),
        ("Vaals", "op de wachtlijst", "klein"),
        ("Ede", "afgewezen", "groot"),
    ]
    assert rows[2]["wachtlijstpositie"] == "1"
    assert rows[1]["casus_titel"].startswith("'=HYPERLINK")  # never a formula in a spreadsheet
    assert "@" not in response.text and "Lid 0" not in response.text


async def test_the_attendance_export_opens_in_openpyxl_with_a_row_per_session_and_trio(overview: Overview) -> None:
    await fill(overview)
    response = await overview.http.get(f"/dashboard/{EDITION}/attendance.xlsx", headers=bearer())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("editie", "bijeenkomst")
    assert [(r[1], r[5], r[9]) for r in rows[1:]] == [
        (1, "Barneveld", "ja"),
        (1, "Utrecht", "ja"),
        (2, "Barneveld", "onbekend"),
        (2, "Utrecht", "onbekend"),
    ]


async def test_the_registrations_export_as_xlsx_keeps_formula_like_text_as_text(overview: Overview) -> None:
    await fill(overview)
    response = await overview.http.get(f"/dashboard/{EDITION}/registrations.xlsx", headers=bearer())
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    titles = [cell.value for cell in sheet["N"]]
    assert titles[0] == "casus_titel"
    formula_like = next(c for c in sheet["N"] if str(c.value).startswith("=HYPERLINK"))
    assert formula_like.data_type == "s"


@pytest.mark.parametrize(
    "path",
    [
        f"/dashboard/{EDITION}/registrations.json",
        "/dashboard/2099-onbekend/attendance.csv",
        "/dashboard/NIET_GELDIG/registrations.csv",
    ],
)
async def test_an_unknown_export_answers_404(overview: Overview, path: str) -> None:
    await fill(overview)
    assert (await overview.http.get(path, headers=bearer())).status_code == 404
