"""Registration's web pages over HTTP (httpx against the ASGI app) on a SQLite store built by the migrations."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from services.registration import consumes
from services.registration.adapters import (
    Inbox,
    Outbox,
    RegistrationQuery,
    RegistrationRow,
    RegistrationStore,
    SqlRegistrationQueries,
    load_municipalities,
)
from services.registration.bootstrap import MIGRATIONS
from services.registration.config import RegistrationConfig
from services.registration.tokens import ApprovalLinks
from services.registration.web import web_routes
from services.registration.web.csrf import CSRF_COOKIE
from shared.contract.registration import RegistrationCommandRejected
from shared.db import Database, migrate, utcnow
from shared.formatting import dutch_datetime
from shared.links import sign, status_path
from shared.messaging.messages import Incoming
from shared.settings import Settings
from tests.factories import by_organiser
from tests.support import hidden

SECRET = "web-test-secret"
PUBLIC_URL = "https://werkplaatsen.example.nl"
EDITION = "2027-najaar"
MUNICIPALITIES = load_municipalities(RegistrationConfig())


@dataclass
class Site:
    store: RegistrationStore
    client: httpx.AsyncClient
    app: Starlette

    def anonymous(self) -> httpx.AsyncClient:
        """Another browser: no cookies."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver")

    async def close(self) -> None:
        await self.client.aclose()
        await self.store.db.dispose()

    async def registrations(self) -> list[dict[str, Any]]:
        async with self.store.db.sessions() as session:
            found, _ = await SqlRegistrationQueries(session).page(RegistrationQuery(limit=500))
            return found

    async def registration_of(self, email: str) -> str:
        """The id of the registration with this member, from its TrioRegistered in the outbox."""
        async with self.store.db.sessions() as session:
            rows = (await session.execute(select(Outbox).where(Outbox.message_type == "TrioRegistered"))).scalars()
            for row in rows:
                data = json.loads(row.body)["data"]
                if email.lower() in [m["email"] for m in data["members"]]:
                    return str(data["registration_id"])
        raise AssertionError(f"no TrioRegistered with {email}")

    async def approve_url(self, registration_id: str) -> str:
        """The approve_url of the ApprovalRequested waiting in the outbox, as notifications would mail it."""
        async with self.store.db.sessions() as session:
            rows = (await session.execute(select(Outbox).where(Outbox.message_type == "ApprovalRequested"))).scalars()
            for row in rows:
                data = json.loads(row.body)["data"]
                if data["registration_id"] == registration_id:
                    return data["approve_url"]
        raise AssertionError("no ApprovalRequested in the outbox")


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / f'registration-{uuid.uuid4().hex[:6]}.sqlite3'}"


async def open_site(database_url: str, validity: timedelta = timedelta(days=14), edition: bool = True) -> Site:
    db = Database(database_url)
    await migrate(db, MIGRATIONS, "registration")
    store = RegistrationStore(
        db,
        "registration",
        Outbox,
        Inbox,
        RegistrationCommandRejected,
        approvals=ApprovalLinks(SECRET, PUBLIC_URL, validity),
    )
    if edition:
        await schedule_edition(store)
    # Plain http on this machine: development, so the CSRF cookie is not Secure and the test client sends it back.
    settings = Settings(werkplaatsen_secret_key=SECRET, werkplaatsen_public_url="http://localhost")
    app = Starlette(routes=web_routes(store, consumes.consumers(store, MUNICIPALITIES), MUNICIPALITIES, settings))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    return Site(store, client, app)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    s = await open_site(sqlite_url(tmp_path))
    yield s
    await s.close()


async def deliver(
    store: RegistrationStore, routing_key: str, data: dict[str, Any], occurred_at: datetime | None = None
) -> None:
    """A scheduling event as registration's consumer receives it."""
    envelope = {
        "event_id": str(uuid.uuid4()),
        "type": routing_key.split(".")[1],
        "version": 1,
        "occurred_at": (occurred_at or utcnow()).isoformat(),
        "producer": "scheduling",
        "correlation_id": "c-test",
        "causation_id": "c-test",
        "data": data,
    }
    consumer = consumes.consumers(store, MUNICIPALITIES)[routing_key]
    await consumer(
        Incoming(
            body=json.dumps(envelope).encode(),
            routing_key=routing_key,
            message_id=envelope["event_id"],
            message_type=envelope["type"],
        )
    )


async def command(store: RegistrationStore, routing_key: str, body: dict[str, Any]) -> None:
    consumer = consumes.consumers(store, MUNICIPALITIES)[routing_key]
    await consumer(
        Incoming(
            body=json.dumps(by_organiser(routing_key, body)).encode(),
            routing_key=routing_key,
            message_id=str(uuid.uuid4()),
            message_type=routing_key.split(".")[1],
        )
    )


async def schedule_edition(
    store: RegistrationStore,
    slug: str = EDITION,
    *,
    deadline: datetime | None = None,
    closes_at: datetime | None = None,
    title: str = "Werkplaatsen wijkgericht werken, najaar 2027",
) -> None:
    starts = utcnow() + timedelta(days=45)
    await deliver(
        store,
        "scheduling.EditionScheduled",
        {
            "edition": slug,
            "title": title,
            "venue": {"name": "Werkplaats", "address": "Adres volgt", "city": "Utrecht"},
            "capacity": {"min_trios": 6, "max_trios": 8},
            "registration_deadline": (deadline or starts - timedelta(days=14)).isoformat(),
            "registration_closes_at": (closes_at or starts).isoformat(),
            "fee": {"amount_cents": 20000, "waived_for_size_classes": ["middelgroot"]},
            "priority_size_classes": ["middelgroot"],
            "table_size": 3,
            "sessions": [
                {
                    "number": 1,
                    "title": "Positionering",
                    "outcome": "Stip op de horizon",
                    "starts_at": starts.isoformat(),
                    "ends_at": (starts + timedelta(hours=4)).isoformat(),
                }
            ],
        },
    )


def trio_form(page: str, tag: str | None = None, **changes: Any) -> dict[str, Any]:
    """The registration form as a participant fills it in: Veenendaal (middelgroot, no fee)."""
    tag = tag or uuid.uuid4().hex[:6]
    form: dict[str, Any] = {
        "csrf": hidden(page, "csrf"),
        "form_key": hidden(page, "form_key"),
        "edition": EDITION,
        "municipality": "Veenendaal",
        "members[0].name": "Anna de Vries",
        "members[0].email": f"anna.{tag}@veenendaal.example",
        "members[0].role": "wijkambtenaar",
        "members[0].domain": "sociaal",
        "members[0].job_title": "wijkregisseur",
        "members[0].language": "nl",
        "members[1].name": "Bram Jansen",
        "members[1].email": f"bram.{tag}@veenendaal.example",
        "members[1].role": "sectorambtenaar",
        "members[1].domain": "fysiek",
        "members[1].job_title": "",
        "members[1].language": "nl",
        "members[2].name": "Chris Bakker",
        "members[2].email": f"chris.{tag}@veenendaal.example",
        "members[2].role": "sectorambtenaar",
        "members[2].domain": "veiligheid",
        "members[2].job_title": "",
        "members[2].language": "en",
        "case.title": "Groene pleinen tegen wateroverlast",
        "case.neighbourhood": "Dragonder-Oost",
        "case.summary": "Pleinen aanpassen met bewoners zodat regenwater wordt opgevangen.",
        "case.domains": ["fysiek", "sociaal"],
        "approver.name": "Dirk Visser",
        "approver.email": f"dirk.{tag}@veenendaal.example",
        "consent.privacy": "ja",
        "invoice.address": "",
        "invoice.reference": "",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


async def register(site: Site, **changes: Any) -> tuple[str, str]:
    """Register a trio through the form; the status link (as the acknowledgement mails it) and the id."""
    page = (await site.client.get("/")).text
    form = trio_form(page, **changes)
    response = await site.client.post("/", data=form)
    assert response.status_code == 200 and "Controleer je mail" in response.text, response.text
    registration_id = await site.registration_of(form["members[0].email"])
    return status_path(SECRET, registration_id), registration_id


def same_page(a: str, b: str) -> bool:
    """Whether two pages are the same but for their per-response CSP nonce."""
    return re.sub(r'nonce="[^"]*"', "", a) == re.sub(r'nonce="[^"]*"', "", b)


def error_of(page: str, field_id: str) -> str:
    """The error message shown next to the field with this id."""
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>', page, re.S)
    assert match, f"no error next to {field_id}"
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1)))


def input_value(page: str, field_id: str) -> str:
    match = re.search(rf'<input id="{re.escape(field_id)}"[^>]*value="([^"]*)"', page)
    assert match, f"no input {field_id}"
    return html.unescape(match.group(1))


# The form


async def test_the_form_is_dutch_labelled_and_preselects_the_only_open_edition(site: Site) -> None:
    response = await site.client.get("/")
    assert response.status_code == 200
    page = response.text
    assert '<html lang="nl">' in page
    assert "Aanmelden voor de Werkplaatsen wijkgericht werken" in page
    ids = re.findall(r'<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"', page)
    assert {
        "municipality",
        "members-0-name",
        "members-2-email",
        "members-1-role",
        "case-summary",
        "approver-email",
        "consent-privacy",
        "invoice-reference",
    } <= set(ids)
    for field_id in ids:
        assert f'for="{field_id}"' in page, f"{field_id} has no label"
    assert page.count("<legend>Lid ") == 3
    assert re.search(rf'<option value="{EDITION}" selected>', page)
    assert '<datalist id="gemeenten">' in page and 'value="Veenendaal"' in page
    assert "€ 200,00 per trio" in page  # the invoice section explains when invoice details are needed


async def test_pages_carry_a_nonce_csp_and_never_leak_their_url(site: Site) -> None:
    response = await site.client.get("/")
    csp = response.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert f'<script nonce="{nonce}">' in response.text and f'<style nonce="{nonce}">' in response.text
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    again = await site.client.get("/")
    assert re.search(r"'nonce-([^']+)'", again.headers["content-security-policy"]).group(1) != nonce


async def test_the_csrf_cookie_is_http_only_and_same_site_lax(site: Site) -> None:
    response = await site.client.get("/")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "path=/" in cookie.lower()


async def test_a_filled_in_form_registers_the_trio_and_shows_the_next_steps_and_says_check_your_mail(
    site: Site,
) -> None:
    page = (await site.client.get("/")).text
    response = await site.client.post("/", data=trio_form(page, tag="ok"))
    assert response.status_code == 200
    text = response.text
    assert "Bedankt, jullie aanmelding is ontvangen" in text
    assert "Controleer je mail. De drie leden van het trio uit Veenendaal krijgen" in text
    assert "bestuurder of leidinggevende per e-mail om de deelname goed te keuren" in text
    # The edition's allocation deadline (14 days before the first session) is still to come: its date is shown.
    assert re.search(r"Op \d+ \w+ \d{4}, \d\d:\d\d uur verdelen we de plaatsen", text)
    assert "middelgrote gemeenten voor" in text
    assert "Geen eigen bijdrage (middelgrote gemeente)" in text
    (registration,) = await site.registrations()
    assert registration["municipality"]["code"] == "GM0345"
    assert [m["email"] for m in registration["members"]] == [
        "anna.ok@veenendaal.example",
        "bram.ok@veenendaal.example",
        "chris.ok@veenendaal.example",
    ]
    assert registration["members"][1]["job_title"] is None
    assert registration["members"][2]["language"] == "en"
    assert registration["case"]["domains"] == ["fysiek", "sociaal"]
    # The page is made from what was posted: neither the id nor the status link (the mail has it) is on it.
    assert registration["registration_id"] not in text and "?token=" not in text


async def test_submitting_the_same_form_twice_registers_the_trio_once(site: Site) -> None:
    page = (await site.client.get("/")).text
    form = trio_form(page)
    first = await site.client.post("/", data=form)
    second = await site.client.post("/", data=form)
    assert first.status_code == second.status_code == 200
    assert "Bedankt" in second.text and same_page(second.text, first.text)
    assert len(await site.registrations()) == 1


async def test_a_municipality_typed_by_name_without_accents_or_case_is_resolved(site: Site) -> None:
    await register(site, municipality="súdwest-fryslan")
    await register(
        site,
        municipality="utrecht (gm0344)",
        **{"invoice.address": "Postbus 16200, Utrecht", "invoice.reference": "PO-2027-1"},
    )
    assert sorted(r["municipality"]["name"] for r in await site.registrations()) == ["Súdwest-Fryslân", "Utrecht"]


async def test_errors_appear_next_to_their_fields_and_in_a_summary_with_the_entered_values_kept(site: Site) -> None:
    page = (await site.client.get("/")).text
    form = trio_form(
        page,
        **{
            "members[1].domain": "sociaal",
            "members[2].domain": "sociaal",
            "consent.privacy": None,
            "case.domains": ["fysiek"],
            "case.title": "Samen <b>sterk</b> in de wijk",
        },
    )
    response = await site.client.post("/", data=form)
    assert response.status_code == 422
    text = response.text
    assert "<title>Fout: Aanmelden" in text
    assert re.search(r'class="error-summary" role="alert"', text)
    assert "Het trio moet meerdere beleidsdomeinen vertegenwoordigen" in error_of(text, "members")
    assert "toestemming" in error_of(text, "consent-privacy")
    assert "minstens twee beleidsdomeinen" in error_of(text, "case-domains")
    assert 'href="#members"' in text and 'href="#consent-privacy"' in text and 'href="#case-domains"' in text
    assert re.search(
        r'<input type="checkbox" id="consent-privacy"[^>]*aria-describedby="consent-privacy-error"'
        r'[^>]*aria-invalid="true"',
        text,
    )
    # What the participant typed is still there, escaped.
    assert input_value(text, "members-0-name") == "Anna de Vries"
    assert input_value(text, "case-title") == "Samen <b>sterk</b> in de wijk"
    assert "Samen &lt;b&gt;sterk&lt;/b&gt; in de wijk" in text and "<b>sterk</b>" not in text
    assert re.search(r'<option value="sociaal" selected>', text)
    assert re.search(r'id="case-domains-fysiek" name="case.domains" value="fysiek" checked', text)
    assert hidden(text, "form_key") != form["form_key"]  # the refused command keeps its message id
    assert await site.registrations() == []


async def test_a_corrected_form_is_accepted_after_a_refusal(site: Site) -> None:
    page = (await site.client.get("/")).text
    refused = await site.client.post("/", data=trio_form(page, tag="fix", **{"consent.privacy": None}))
    assert refused.status_code == 422
    accepted = await site.client.post("/", data=trio_form(refused.text, tag="fix"))
    assert accepted.status_code == 200 and "Bedankt" in accepted.text
    assert len(await site.registrations()) == 1


async def test_a_field_error_path_lands_on_its_input(site: Site) -> None:
    page = (await site.client.get("/")).text
    response = await site.client.post(
        "/", data=trio_form(page, **{"members[1].email": "geen-adres", "members[2].name": "", "members[0].role": ""})
    )
    assert response.status_code == 422
    text = response.text
    assert error_of(text, "members-1-email") == "Fout: Dit is geen geldig e-mailadres."
    assert error_of(text, "members-2-name") == "Fout: Vul dit veld in."
    assert error_of(text, "members-0-role") == "Fout: Maak een keuze."
    assert re.search(
        r'<input id="members-1-email"[^>]*aria-describedby="members-1-email-error" aria-invalid="true"', text
    )
    assert input_value(text, "members-1-email") == "geen-adres"


async def test_every_required_field_left_blank_is_reported_at_once_in_page_order(site: Site) -> None:
    page = (await site.client.get("/")).text
    blank = {"csrf": hidden(page, "csrf"), "form_key": hidden(page, "form_key"), "edition": EDITION}
    response = await site.client.post("/", data=blank)
    assert response.status_code == 422
    summary = re.search(r'<div class="error-summary".*?</div>', response.text, re.S).group()
    anchors = re.findall(r'href="#([^"]+)"', summary)
    assert anchors[:3] == ["municipality", "members-0-name", "members-0-email"]
    assert {
        "members-2-domain",
        "case-title",
        "case-neighbourhood",
        "case-summary",
        "approver-name",
        "approver-email",
    } <= set(anchors)
    assert anchors.index("case-title") < anchors.index("approver-name")
    assert "Vul de gemeente in" in error_of(response.text, "municipality")


async def test_an_unknown_municipality_is_reported_even_when_other_fields_are_malformed(site: Site) -> None:
    page = (await site.client.get("/")).text
    response = await site.client.post(
        "/", data=trio_form(page, municipality="Atlantis", **{"members[0].email": "geen-adres"})
    )
    assert response.status_code == 422
    assert "We vinden geen gemeente" in error_of(response.text, "municipality")
    assert "geen geldig e-mailadres" in error_of(response.text, "members-0-email")


async def test_an_ambiguous_municipality_is_explained_together_with_the_other_problems(site: Site) -> None:
    page = (await site.client.get("/")).text
    response = await site.client.post("/", data=trio_form(page, municipality="Bergen", **{"consent.privacy": None}))
    assert response.status_code == 422
    message = error_of(response.text, "municipality")
    assert "Bergen (L.)" in message and "Bergen (NH.)" in message
    assert "toestemming" in error_of(response.text, "consent-privacy")
    assert input_value(response.text, "municipality") == "Bergen"


async def test_an_unknown_municipality_asks_to_choose_from_the_list(site: Site) -> None:
    page = (await site.client.get("/")).text
    response = await site.client.post("/", data=trio_form(page, municipality="Atlantis"))
    assert response.status_code == 422
    assert "We vinden geen gemeente met deze naam of code" in error_of(response.text, "municipality")


async def test_a_fee_due_without_invoice_details_points_at_the_invoice_section(site: Site) -> None:
    page = (await site.client.get("/")).text
    response = await site.client.post("/", data=trio_form(page, municipality="Utrecht"))
    assert response.status_code == 422
    assert "factuurgegevens" in error_of(response.text, "invoice")
    # The municipality was understood: the page already tells the fee and priority, even without JavaScript.
    assert "Utrecht (Utrecht): grote gemeente." in response.text
    assert "Eigen bijdrage: € 200,00 per trio." in response.text


async def test_a_post_without_the_csrf_cookie_registers_nothing_and_keeps_the_values(site: Site) -> None:
    page = (await site.client.get("/")).text
    async with site.anonymous() as other:
        response = await other.post("/", data=trio_form(page))
    assert response.status_code == 403
    assert "Het formulier was verlopen" in response.text
    assert input_value(response.text, "approver-name") == "Dirk Visser"
    assert await site.registrations() == []


async def test_a_csrf_token_signed_for_another_cookie_is_refused(site: Site) -> None:
    page = (await site.client.get("/")).text
    forged = sign(SECRET, "csrf", "another-browser-cookie-value-0123456789")
    response = await site.client.post("/", data=trio_form(page, csrf=forged))
    assert response.status_code == 403
    response = await site.client.post("/", data=trio_form(page, csrf="not-signed"))
    assert response.status_code == 403
    assert await site.registrations() == []


async def test_a_made_up_form_key_cannot_claim_another_commands_outcome(site: Site) -> None:
    page = (await site.client.get("/")).text
    response = await site.client.post("/", data=trio_form(page, form_key=str(uuid.uuid4())))
    assert response.status_code == 400
    assert await site.registrations() == []


async def test_bodies_over_64_kib_are_refused(site: Site) -> None:
    page = (await site.client.get("/")).text
    response = await site.client.post("/", data=trio_form(page, **{"case.summary": "x" * 70_000}))
    assert response.status_code == 413
    assert "64 KiB" in response.text
    assert await site.registrations() == []


async def test_only_url_encoded_forms_are_read(site: Site) -> None:
    response = await site.client.post("/", json={"edition": EDITION})
    assert response.status_code == 415


async def test_without_an_open_edition_the_page_says_so(tmp_path: Path) -> None:
    site = await open_site(sqlite_url(tmp_path), edition=False)
    try:
        response = await site.client.get("/")
        assert response.status_code == 200
        assert "geen editie waarvoor je je kunt aanmelden" in response.text
    finally:
        await site.close()


async def test_an_edition_whose_places_are_allocated_still_takes_trios_and_the_form_says_they_go_to_the_waitlist(
    site: Site,
) -> None:
    # CloseRegistration (or the deadline) allocated the places; registration stays open until the first session.
    await schedule_edition(site.store, deadline=utcnow() - timedelta(hours=1))
    page = (await site.client.get("/")).text
    assert "De plaatsen voor Werkplaatsen wijkgericht werken, najaar 2027 zijn al verdeeld" in page
    assert "anders komen jullie op de wachtlijst" in page
    assert "plaatsen verdeeld; aanmelden voor een vrije plaats of de wachtlijst tot" in page
    registration_id, _ = await register(site)
    assert registration_id


async def test_an_edition_whose_registration_was_stopped_is_not_offered_and_the_page_says_so(tmp_path: Path) -> None:
    site = await open_site(sqlite_url(tmp_path), edition=False)
    try:
        stopped_at = utcnow() - timedelta(minutes=5)
        await schedule_edition(site.store, deadline=stopped_at - timedelta(days=1), closes_at=stopped_at)
        response = await site.client.get("/")
        assert "geen editie waarvoor je je kunt aanmelden" in response.text
        closed = "De aanmelding voor Werkplaatsen wijkgericht werken, najaar 2027 is gesloten: nieuwe aanmeldingen"
        assert closed in response.text
        await schedule_edition(site.store, "2028-voorjaar", title="Voorjaar 2028")
        page = (await site.client.get("/")).text
        assert "Voorjaar 2028" in page and "najaar 2027 is gesloten: nieuwe aanmeldingen nemen we niet meer aan" in page
    finally:
        await site.close()


# The municipality API


async def test_municipality_search_ignores_case_and_accents_and_finds_codes(site: Site) -> None:
    found = (await site.client.get("/api/municipalities", params={"q": "SUDWEST"})).json()["municipalities"]
    assert found == [{"code": "GM1900", "name": "Súdwest-Fryslân", "province": "Fryslân"}]
    by_code = (await site.client.get("/api/municipalities", params={"q": "gm0345"})).json()["municipalities"]
    assert [m["name"] for m in by_code] == ["Veenendaal"]
    names = [
        m["name"]
        for m in (await site.client.get("/api/municipalities", params={"q": "bergen"})).json()["municipalities"]
    ]
    assert names[:2] == ["Bergen (L.)", "Bergen (NH.)"] and "Steenbergen" in names


async def test_municipality_search_returns_at_most_twenty(site: Site) -> None:
    response = await site.client.get("/api/municipalities", params={"q": "e"})
    assert len(response.json()["municipalities"]) == 20
    assert (await site.client.get("/api/municipalities", params={"q": ""})).json() == {"municipalities": []}


async def test_municipality_details_give_size_fee_and_priority_for_the_edition(site: Site) -> None:
    veenendaal = (await site.client.get("/api/municipalities/GM0345", params={"edition": EDITION})).json()
    assert veenendaal == {
        "code": "GM0345",
        "name": "Veenendaal",
        "province": "Utrecht",
        "inhabitants": veenendaal["inhabitants"],
        "size_class": "middelgroot",
        "m50_member": veenendaal["m50_member"],
        "edition": EDITION,
        "fee_cents": 0,
        "fee_waived": True,
        "priority": True,
    }
    utrecht = (await site.client.get("/api/municipalities/GM0344", params={"edition": EDITION})).json()
    assert (utrecht["size_class"], utrecht["fee_cents"], utrecht["priority"]) == ("groot", 20000, False)
    # Without ?edition= the only open edition counts.
    assert (await site.client.get("/api/municipalities/GM0344")).json()["fee_cents"] == 20000


async def test_an_unknown_municipality_or_edition_is_404_with_an_error_object(site: Site) -> None:
    response = await site.client.get("/api/municipalities/GM9999")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "unknown_municipality"
    response = await site.client.get("/api/municipalities/GM0344", params={"edition": "1999-voorjaar"})
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "unknown_edition"


# The status page and cancelling


async def test_the_status_page_shows_the_trio_awaiting_approval(site: Site) -> None:
    link, _ = await register(site)
    response = await site.client.get(link)
    assert response.status_code == 200
    text = response.text
    assert "Wacht op goedkeuring" in text and "We hebben Dirk Visser per e-mail gevraagd" in text
    for shown in (
        "Werkplaatsen wijkgericht werken, najaar 2027",
        "Veenendaal",
        "Groene pleinen tegen wateroverlast",
        "Anna de Vries",
        "Bram Jansen",
        "Chris Bakker",
        "Geen eigen bijdrage",
    ):
        assert shown in text
    assert "Aanmelding annuleren" in text
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "no-store" in response.headers["cache-control"]


async def test_a_wrong_status_token_reveals_nothing(site: Site) -> None:
    _, registration_id = await register(site)
    other_id = str(uuid.uuid4())
    answers = [
        await site.client.get(f"/registrations/{registration_id}", params={"token": "x" + "y" * 40}),
        await site.client.get(f"/registrations/{registration_id}"),
        # A genuine token, for another registration, or for another purpose:
        await site.client.get(f"/registrations/{registration_id}", params={"token": sign(SECRET, "status", other_id)}),
        await site.client.get(
            f"/registrations/{registration_id}", params={"token": sign(SECRET, "approve", registration_id)}
        ),
        await site.client.get(f"/registrations/{other_id}", params={"token": sign(SECRET, "status", other_id)}),
    ]
    assert {a.status_code for a in answers} == {404}
    assert len({a.text.split("<main", 1)[1] for a in answers}) == 1
    assert "Veenendaal" not in answers[0].text


async def test_cancelling_asks_for_confirmation_and_then_shows_the_cancelled_status(site: Site) -> None:
    link, registration_id = await register(site)
    status_page = (await site.client.get(link)).text
    cancel_link = html.unescape(re.search(r'href="(/registrations/[^"]+/cancel\?token=[^"]+)"', status_page).group(1))
    confirm = await site.client.get(cancel_link)
    assert confirm.status_code == 200
    assert "Weet je zeker dat je de aanmelding" in confirm.text
    form = {name: hidden(confirm.text, name) for name in ("csrf", "token", "form_key")}
    response = await site.client.post(
        f"/registrations/{registration_id}/cancel", data={**form, "reason": "Reorganisatie"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == link
    after = (await site.client.get(link)).text
    assert "Geannuleerd" in after and "Aanmelding annuleren" not in after
    (registration,) = await site.registrations()
    assert (registration["status"], registration["cancel_reason"]) == ("cancelled", "Reorganisatie")
    # Pressing the button again changes nothing and shows the same status.
    again = await site.client.post(f"/registrations/{registration_id}/cancel", data={**form, "reason": "Reorganisatie"})
    assert again.status_code == 303
    assert (await site.registrations())[0]["status"] == "cancelled"


async def test_cancelling_without_the_csrf_cookie_or_with_a_wrong_token_changes_nothing(site: Site) -> None:
    link, registration_id = await register(site)
    confirm = (await site.client.get(link.replace("?", "/cancel?"))).text
    form = {name: hidden(confirm, name) for name in ("csrf", "token", "form_key")}
    async with site.anonymous() as other:
        forged = await other.post(f"/registrations/{registration_id}/cancel", data=form)
    assert forged.status_code == 403
    wrong = await site.client.post(f"/registrations/{registration_id}/cancel", data={**form, "token": "nope"})
    assert wrong.status_code == 404
    assert (await site.registrations())[0]["status"] == "awaiting_approval"


# Approval


async def test_the_approval_page_shows_the_trio_municipality_case_and_fee(site: Site) -> None:
    _, registration_id = await register(
        site,
        municipality="Utrecht",
        **{"invoice.address": "Postbus 16200, 3500 CE Utrecht", "invoice.reference": "PO-1"},
    )
    url = await site.approve_url(registration_id)
    assert url.startswith(f"{PUBLIC_URL}/approve/")
    response = await site.client.get(url.removeprefix(PUBLIC_URL))
    assert response.status_code == 200
    text = response.text
    for shown in (
        "Utrecht",
        "Anna de Vries",
        "Groene pleinen tegen wateroverlast",
        "Dragonder-Oost",
        "Pleinen aanpassen met bewoners",
        "€ 200,00 per trio",
    ):
        assert shown in text
    assert 'name="decision" value="approve"' in text and 'name="decision" value="decline"' in text
    assert 'name="csrf"' not in text
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_an_approver_approves_without_any_cookie_and_the_trio_sees_it(site: Site) -> None:
    link, registration_id = await register(site)
    path = (await site.approve_url(registration_id)).removeprefix(PUBLIC_URL)
    async with site.anonymous() as approver:
        response = await approver.post(path, data={"decision": "approve"})
    assert response.status_code == 200
    assert "de deelname is goedgekeurd" in response.text
    status_page = (await site.client.get(link)).text
    assert "Goedgekeurd" in status_page and "Dirk Visser heeft de deelname goedgekeurd" in status_page


async def test_second_use_of_an_approval_link_changes_nothing(site: Site) -> None:
    _, registration_id = await register(site)
    path = (await site.approve_url(registration_id)).removeprefix(PUBLIC_URL)
    first = await site.client.post(path, data={"decision": "approve"})
    repeated = await site.client.post(path, data={"decision": "approve"})  # a double click
    assert first.status_code == repeated.status_code == 200
    other = await site.client.post(path, data={"decision": "decline", "reason": "Toch niet"})
    assert other.status_code == 409
    assert "Over deze aanmelding is al beslist" in other.text
    page = await site.client.get(path)
    assert page.status_code == 409 and "Goedgekeurd" in page.text
    assert (await site.registrations())[0]["status"] == "approved"


async def test_declining_with_a_reason(site: Site) -> None:
    _, registration_id = await register(site)
    path = (await site.approve_url(registration_id)).removeprefix(PUBLIC_URL)
    response = await site.client.post(path, data={"decision": "decline", "reason": "Geen capaciteit dit najaar"})
    assert response.status_code == 200 and "De deelname is afgewezen" in response.text
    (registration,) = await site.registrations()
    assert (registration["status"], registration["decision_reason"]) == ("declined", "Geen capaciteit dit najaar")


async def test_a_decision_is_required_and_a_too_long_reason_is_shown_next_to_its_field(site: Site) -> None:
    _, registration_id = await register(site)
    path = (await site.approve_url(registration_id)).removeprefix(PUBLIC_URL)
    missing = await site.client.post(path, data={"reason": ""})
    assert missing.status_code == 422 and "Kies of je de deelname goedkeurt of afwijst" in missing.text
    too_long = await site.client.post(path, data={"decision": "decline", "reason": "x" * 2001})
    assert too_long.status_code == 422
    assert 'id="reason-error"' in too_long.text
    assert (await site.registrations())[0]["status"] == "awaiting_approval"


async def test_a_tampered_or_foreign_approval_token_shows_an_invalid_link_page(site: Site) -> None:
    _, registration_id = await register(site)
    path = (await site.approve_url(registration_id)).removeprefix(PUBLIC_URL)
    for bad in (
        path[:-3] + "abc",
        f"/approve/{sign(SECRET, 'status', registration_id)}",
        f"/approve/{sign(SECRET, 'approve', str(uuid.uuid4()))}",
        "/approve/" + "a" * 600,
    ):
        assert (await site.client.get(bad)).status_code == 404
        response = await site.client.post(bad, data={"decision": "approve"})
        assert response.status_code == 404 and "Deze link werkt niet" in response.text
    assert (await site.registrations())[0]["status"] == "awaiting_approval"


async def test_an_expired_approval_link_shows_the_expired_page(tmp_path: Path) -> None:
    site = await open_site(sqlite_url(tmp_path), validity=timedelta(seconds=0))
    try:
        _, registration_id = await register(site)
        path = (await site.approve_url(registration_id)).removeprefix(PUBLIC_URL)
        page = await site.client.get(path)
        assert page.status_code == 410 and "Deze link is verlopen" in page.text
        response = await site.client.post(path, data={"decision": "approve"})
        assert response.status_code == 410 and "Deze link is verlopen" in response.text
        assert (await site.registrations())[0]["status"] == "awaiting_approval"
    finally:
        await site.close()


async def test_an_approval_link_of_a_cancelled_registration_says_so(site: Site) -> None:
    link, registration_id = await register(site)
    path = (await site.approve_url(registration_id)).removeprefix(PUBLIC_URL)
    confirm = (await site.client.get(link.replace("?", "/cancel?"))).text
    await site.client.post(
        f"/registrations/{registration_id}/cancel",
        data={name: hidden(confirm, name) for name in ("csrf", "token", "form_key")},
    )
    response = await site.client.post(path, data={"decision": "approve"})
    assert response.status_code == 409 and "zelf geannuleerd" in response.text


async def test_web_commands_are_processed_once_per_message(site: Site) -> None:
    await register(site)
    async with site.store.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(RegistrationRow)) == 1


async def test_the_status_page_follows_the_places_scheduling_allocates(site: Site) -> None:
    link, registration_id = await register(site)
    path = (await site.approve_url(registration_id)).removeprefix(PUBLIC_URL)
    await site.client.post(path, data={"decision": "approve"})
    await deliver(
        site.store, "scheduling.TrioWaitlisted", {"registration_id": registration_id, "edition": EDITION, "position": 2}
    )
    waiting = (await site.client.get(link)).text
    assert "Op de wachtlijst (plaats 2)" in waiting and "op plaats 2" in waiting
    assert "Aanmelding annuleren" in waiting
    await deliver(
        site.store, "scheduling.TrioPlaced", {"registration_id": registration_id, "edition": EDITION, "via": "waitlist"}
    )
    placed = (await site.client.get(link)).text
    assert "Geplaatst" in placed and "Jullie hebben een plaats in deze editie" in placed


async def test_a_placed_trio_sees_its_sessions_with_the_table_of_the_latest_seating_plan(site: Site) -> None:
    link, registration_id = await register(site)
    path = (await site.approve_url(registration_id)).removeprefix(PUBLIC_URL)
    await site.client.post(path, data={"decision": "approve"})
    await deliver(
        site.store,
        "scheduling.TrioPlaced",
        {"registration_id": registration_id, "edition": EDITION, "via": "allocation"},
    )
    before_seating = (await site.client.get(link)).text
    assert "1. Positionering" in before_seating and "volgt nog" in before_seating
    t0 = utcnow()
    plan = {"edition": EDITION, "session_number": 1}
    await deliver(
        site.store,
        "scheduling.SeatingPlanned",
        {
            **plan,
            "tables": [
                {"table": 1, "registration_ids": [str(uuid.uuid4())]},
                {"table": 2, "registration_ids": [registration_id, str(uuid.uuid4())]},
            ],
        },
        occurred_at=t0,
    )
    # A replan that scheduling made earlier, delivered late, does not overwrite the newer plan.
    await deliver(
        site.store,
        "scheduling.SeatingPlanned",
        {**plan, "tables": [{"table": 5, "registration_ids": [registration_id]}]},
        occurred_at=t0 - timedelta(seconds=5),
    )
    seated = (await site.client.get(link)).text
    assert "Tafel 2" in seated and "Tafel 5" not in seated and "volgt nog" not in seated
    # Seated on its own after the plan (scheduling.TrioSeated): the newer fact shows.
    await deliver(
        site.store,
        "scheduling.TrioSeated",
        {"edition": EDITION, "registration_id": registration_id, "seats": [{"session_number": 1, "table": 3}]},
        occurred_at=t0 + timedelta(seconds=5),
    )
    reseated = (await site.client.get(link)).text
    assert "Tafel 3" in reseated and "Tafel 2" not in reseated
    moved = utcnow() + timedelta(days=50)
    await deliver(
        site.store,
        "scheduling.SessionRescheduled",
        {**plan, "starts_at": moved.isoformat(), "ends_at": (moved + timedelta(hours=3)).isoformat(), "sequence": 1},
    )
    rescheduled = (await site.client.get(link)).text
    assert dutch_datetime(moved) in rescheduled and "Tafel 3" in rescheduled


async def test_a_declined_registration_shows_declined_on_both_pages(site: Site) -> None:
    link, registration_id = await register(site)
    path = (await site.approve_url(registration_id)).removeprefix(PUBLIC_URL)
    await site.client.post(path, data={"decision": "decline"})
    status_page = (await site.client.get(link)).text
    assert "Afgewezen" in status_page and "Aanmelding annuleren" not in status_page
    again = await site.client.get(path)
    assert again.status_code == 409 and "Afgewezen" in again.text
    # Its cancel page leads back to the status: there is nothing left to cancel.
    cancel_page = await site.client.get(link.replace("?", "/cancel?"))
    assert cancel_page.status_code == 303 and cancel_page.headers["location"] == link


async def test_after_erasure_the_links_show_nothing_of_the_trio(site: Site) -> None:
    link, registration_id = await register(site)
    path = (await site.approve_url(registration_id)).removeprefix(PUBLIC_URL)
    await command(site.store, "registration.EraseParticipantData", {"registration_id": registration_id})
    for response in (
        await site.client.get(link),
        await site.client.get(path),
        await site.client.post(path, data={"decision": "approve"}),
    ):
        assert response.status_code == 404
        assert "Anna" not in response.text and "Veenendaal" not in response.text


async def test_every_post_is_limited_to_64_kib(site: Site) -> None:
    _, registration_id = await register(site)
    path = (await site.approve_url(registration_id)).removeprefix(PUBLIC_URL)
    big = {"reason": "x" * 70_000}
    assert (await site.client.post(path, data={"decision": "decline", **big})).status_code == 413
    assert (await site.client.post(f"/registrations/{registration_id}/cancel", data=big)).status_code == 413
    assert (await site.registrations())[0]["status"] == "awaiting_approval"
