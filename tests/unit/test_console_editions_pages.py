"""The console's editions pages on the whole system in one process: an organiser creates an edition through the
form (typed in Dutch time, sent to scheduling as aware moments), sees a refusal next to the input it is about,
copies last year's edition, edits one, closes registration early; the start page and the editions list show the
numbers that matter from reporting; a viewer reads them and the exports but is refused every change; the menu
shows each role only what it may use."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.formatting import AMSTERDAM
from tests import factories
from tests.console_support import Console, new_edition, running_console
from tests.support import hidden, wait_until

YEAR = datetime.now(UTC).year + 2  # far enough ahead for every moment of the form to be in the future


@pytest.fixture
async def console(tmp_path) -> AsyncIterator[Console]:
    async with running_console(tmp_path / "var") as running:
        yield running


def form(slug: str = f"{YEAR}-najaar", **changes: str) -> dict[str, str]:
    """The edition form as an organiser fills it in: three sessions in autumn, in Dutch time."""
    values = {
        "edition": slug,
        "title": f"Werkplaatsen wijkgericht werken najaar {YEAR}",
        "venue.name": "Stadskantoor",
        "venue.address": "Stadsplateau 1",
        "venue.city": "Utrecht",
        "capacity.min_trios": "6",
        "capacity.max_trios": "8",
        "table_size": "2",
        "registration_deadline": f"{YEAR}-09-15T12:00",
        "registration_closes_at": "",
        "priority.middelgroot": "ja",
        "fee.amount": "187,50",
        "fee.waived.middelgroot": "ja",
        "fee.waived.klein": "ja",
    }
    for index, (day, theme) in enumerate([("10-06", "Samen de wijk in"), ("11-03", "Opgaven"), ("12-01", "Agenda")]):
        values |= {
            f"sessions[{index}].title": theme,
            f"sessions[{index}].outcome": f"Wat deelnemers meenemen uit {theme.lower()}.",
            f"sessions[{index}].date": f"{YEAR}-{day}",
            f"sessions[{index}].starts": "13:00",
            f"sessions[{index}].ends": "17:00",
        }
    return values | changes


async def post_form(browser: httpx.AsyncClient, path: str, values: dict[str, str]) -> httpx.Response:
    page = await browser.get(path)
    assert page.status_code == 200, page.text[-500:]
    return await browser.post(path, data={"csrf": hidden(page.text, "csrf"), **values})


def value(page: str, name: str) -> str:
    return hidden(page, name)  # an input's value: every input writes name="..." value="..."


def menu(page: str) -> list[str]:
    nav = page.split('<nav class="menu" aria-label="Hoofdmenu">')[1].split("</nav>")[0]
    return re.findall(r">([^<>]+)</(?:a|button)>", nav)


async def test_an_organiser_creates_an_edition_through_the_form_and_scheduling_has_it(console: Console) -> None:
    async with console.browser("anna@platform31.nl", "organiser") as browser:
        created = await post_form(browser, "/console/editions/new", form())
        assert created.status_code == 303, created.text[-2000:]
        assert created.headers["location"] == f"/console/editions/{YEAR}-najaar?gedaan=aangemaakt"
        shown = await browser.get(created.headers["location"])
        assert "De editie is aangemaakt." in shown.text

    edition = (await console.http.get(f"/api/editions/{YEAR}-najaar")).json()
    assert edition["title"] == f"Werkplaatsen wijkgericht werken najaar {YEAR}"
    assert edition["venue"] == {"name": "Stadskantoor", "address": "Stadsplateau 1", "city": "Utrecht"}
    assert edition["capacity"] == {"min_trios": 6, "max_trios": 8}
    assert edition["fee"] == {"amount_cents": 18750, "waived_for_size_classes": ["klein", "middelgroot"]}
    assert edition["priority_size_classes"] == ["middelgroot"] and edition["table_size"] == 2
    assert edition["publish_reports_at_once"] is False  # unchecked: summaries wait for an organiser's publish
    starts = [datetime.fromisoformat(s["starts_at"]) for s in edition["sessions"]]
    # Typed as 13:00 in Amsterdam: summer time in October, winter time in December.
    assert starts[0] == datetime(YEAR, 10, 6, 13, tzinfo=AMSTERDAM) == datetime(YEAR, 10, 6, 11, tzinfo=UTC)
    assert starts[2] == datetime(YEAR, 12, 1, 12, tzinfo=UTC)
    assert datetime.fromisoformat(edition["registration_deadline"]) == datetime(YEAR, 9, 15, 10, tzinfo=UTC)
    # Left empty, registration closes when the first session starts.
    assert datetime.fromisoformat(edition["registration_closes_at"]) == starts[0]

    token = await console.token("bert@platform31.nl", "organiser")
    audit = (await console.api("GET", "/console/api/audit?limit=20", token)).json()["items"]
    entry = next(item for item in audit if item["action"] == "ScheduleEdition")
    assert entry["subject"] == f"edition:{YEAR}-najaar" and entry["outcome"] == "accepted"
    assert entry["actor"] == await console.account_id("anna@platform31.nl")


async def test_a_refused_field_comes_back_next_to_its_input_and_nothing_is_created(console: Console) -> None:
    async with console.browser("anna@platform31.nl", "organiser") as browser:
        # Scheduling refuses the second session: it ends before it starts.
        refused = await post_form(browser, "/console/editions/new", form(**{"sessions[1].ends": "12:00"}))
        # The form itself refuses an amount it cannot read (and asks nothing of scheduling then).
        unreadable = await post_form(browser, "/console/editions/new", form(**{"fee.amount": "twee tientjes"}))
    assert refused.status_code == 422
    page = refused.text
    end = re.search(r'<input type="time" id="veld-sessions-1-ends"[^>]*>', page)
    assert end is not None
    assert 'aria-describedby="veld-sessions-1-ends-error"' in end.group() and 'aria-invalid="true"' in end.group()
    assert 'id="veld-sessions-1-ends-error"><span class="visually-hidden">Fout: </span>De bijeenkomst eindigt' in page
    # Listed at the top too, linking to its input; what was typed is still there.
    assert '<a href="#veld-sessions-1-ends">Bijeenkomst 2, eindtijd: De bijeenkomst eindigt' in page
    assert value(page, "sessions[1].ends") == "12:00" and value(page, "venue.city") == "Utrecht"

    assert unreadable.status_code == 422
    assert (
        'id="veld-fee-amount-error"><span class="visually-hidden">Fout: </span>Vul een bedrag in euro'
        in unreadable.text
    )
    assert value(unreadable.text, "fee.amount") == "twee tientjes"
    assert (await console.http.get(f"/api/editions/{YEAR}-najaar")).status_code == 404


async def test_an_empty_required_input_a_line_break_and_a_taken_slug_are_said_next_to_their_inputs(
    console: Console,
) -> None:
    async with console.browser("anna@platform31.nl", "organiser") as browser:
        broken = await post_form(
            browser, "/console/editions/new", form(**{"title": "Najaar\r\nBcc: x@y", "sessions[2].title": "A\u2028B"})
        )
        assert broken.status_code == 422
        for field in ("veld-title-error", "veld-sessions-2-title-error"):
            assert (
                f'id="{field}"><span class="visually-hidden">Fout: </span>Dit veld moet op één regel' in broken.text
            ), field
        empty = await post_form(browser, "/console/editions/new", form(**{"venue.name": "", "sessions[0].date": ""}))
        assert empty.status_code == 422
        assert (
            'id="veld-venue-name-error"><span class="visually-hidden">Fout: </span>Dit veld is verplicht.' in empty.text
        )
        assert (
            'id="veld-sessions-0-date-error"><span class="visually-hidden">Fout: </span>Vul de datum in.' in empty.text
        )

        assert (await post_form(browser, "/console/editions/new", form())).status_code == 303
        taken = await post_form(browser, "/console/editions/new", form())
        assert taken.status_code == 409
        assert 'id="veld-edition-error"' in taken.text and f"Er is al een editie {YEAR}-najaar" in taken.text


async def test_copying_an_edition_fills_in_the_form_a_year_later(console: Console) -> None:
    token = await console.token("anna@platform31.nl", "organiser")
    body = new_edition(f"{YEAR}-voorjaar", title=f"Werkplaatsen voorjaar {YEAR}", table_size=3)
    assert (await console.api("POST", "/console/api/editions", token, json=body)).status_code == 201
    async with console.browser("bert@platform31.nl", "organiser") as browser:
        copy = await browser.get(f"/console/editions/{YEAR}-voorjaar/copy")
    assert copy.status_code == 200
    page = copy.text
    assert 'action="/console/editions/new"' in page
    assert (
        value(page, "edition") == f"{YEAR + 1}-voorjaar" and value(page, "title") == f"Werkplaatsen voorjaar {YEAR + 1}"
    )
    assert value(page, "table_size") == "3" and value(page, "venue.city") == body["venue"]["city"]
    first = datetime.fromisoformat(body["sessions"][0]["starts_at"]).astimezone(AMSTERDAM)
    assert value(page, "sessions[0].date") == first.replace(year=first.year + 1).date().isoformat()
    assert value(page, "sessions[0].starts") == f"{first:%H:%M}"
    deadline = datetime.fromisoformat(body["registration_deadline"]).astimezone(AMSTERDAM)
    assert value(page, "registration_deadline") == f"{deadline.replace(year=deadline.year + 1):%Y-%m-%dT%H:%M}"
    assert 'name="fee.amount" value="{}"'.format(body["fee"]["amount_cents"] // 100) in page


async def test_an_organiser_edits_an_edition_allocates_early_stops_registration_and_reopens_it(
    console: Console,
) -> None:
    slug = f"{YEAR}-najaar"
    async with console.browser("anna@platform31.nl", "organiser") as browser:
        at_once = {"publish_reports_at_once": "ja"}
        assert (await post_form(browser, "/console/editions/new", form(**at_once))).status_code == 303
        edit = await browser.get(f"/console/editions/{slug}/edit")
        assert value(edit.text, "capacity.max_trios") == "8" and value(edit.text, "fee.amount") == "187,50"
        assert 'name="publish_reports_at_once" value="ja" checked' in edit.text
        changed = await post_form(
            browser, f"/console/editions/{slug}/edit", form(**{"capacity.max_trios": "10", "edition": "x"}, **at_once)
        )
        assert changed.status_code == 303 and changed.headers["location"].endswith("?gedaan=gewijzigd")
        edition = (await console.http.get(f"/api/editions/{slug}")).json()
        assert edition["capacity"]["max_trios"] == 10  # and the slug stayed: an edit cannot rename an edition
        assert edition["publish_reports_at_once"] is True

        page = await browser.get(f"/console/editions/{slug}")
        csrf = hidden(page.text, "csrf")
        assert "Plaatsen nu verdelen" in page.text and "Aanmelding stoppen" in page.text
        assert "Tafelindeling opnieuw maken" not in page.text  # the allocation makes the first
        early = await browser.post(f"/console/editions/{slug}/seating", data={"csrf": csrf})
        assert early.status_code == 409 and "nog niet verdeeld" in early.text
        closed = await browser.post(f"/console/editions/{slug}/close", data={"csrf": csrf})
        assert closed.status_code == 303 and closed.headers["location"].endswith("?gedaan=verdeeld")
        shown = (await console.http.get(f"/api/editions/{slug}")).json()
        assert shown["allocated"] is True and shown["registration_open"] is True  # late trios still welcome
        again = await browser.post(f"/console/editions/{slug}/close", data={"csrf": csrf})
        assert again.status_code == 409 and "De plaatsen van deze editie zijn al verdeeld." in again.text
        allocated_page = await browser.get(closed.headers["location"])
        assert "De plaatsen zijn verdeeld. De aanmelding blijft open" in allocated_page.text
        assert "Plaatsen nu verdelen" not in allocated_page.text and "Aanmelding stoppen" in allocated_page.text
        assert "Tafelindeling opnieuw maken" in allocated_page.text
        seated = await browser.post(f"/console/editions/{slug}/seating", data={"csrf": csrf})
        assert seated.status_code == 303 and seated.headers["location"].endswith("?gedaan=ingedeeld")
        assert "De tafelindeling" in (await browser.get(seated.headers["location"])).text

        stopped = await browser.post(
            f"/console/editions/{slug}/stop", data={"csrf": csrf, "reason": "De zaal is kleiner geworden"}
        )
        assert stopped.status_code == 303 and stopped.headers["location"].endswith("?gedaan=gestopt")
        assert (await console.http.get(f"/api/editions/{slug}")).json()["registration_open"] is False
        again_stopped = await browser.post(f"/console/editions/{slug}/stop", data={"csrf": csrf})
        assert again_stopped.status_code == 409
        assert "De aanmelding voor deze editie is al gesloten." in again_stopped.text
        locked = await browser.get(f"/console/editions/{slug}/edit")
        assert "kan de editie niet meer worden gewijzigd" in locked.text
        assert f'action="/console/editions/{slug}/edit"' not in locked.text

        stopped_page = await browser.get(stopped.headers["location"])
        assert "De aanmelding is gestopt" in stopped_page.text and "Aanmelding heropenen" in stopped_page.text
        reopened = await browser.post(f"/console/editions/{slug}/reopen", data={"csrf": csrf})
        assert reopened.status_code == 303 and reopened.headers["location"].endswith("?gedaan=heropend")
        assert (await console.http.get(f"/api/editions/{slug}")).json()["registration_open"] is True
        twice = await browser.post(f"/console/editions/{slug}/reopen", data={"csrf": csrf})
        assert twice.status_code == 409 and "De aanmelding voor deze editie is nog open." in twice.text


async def test_the_api_changes_an_edition_and_reopens_its_registration(console: Console) -> None:
    token = await console.token("anna@platform31.nl", "organiser")
    slug = f"{YEAR}-api"
    assert (await console.api("POST", "/console/api/editions", token, json=new_edition(slug))).status_code == 201
    changed = await console.api(
        "PUT", f"/console/api/editions/{slug}", token, json=new_edition("other", title="Anders")
    )
    assert changed.status_code == 200 and changed.json() == {"status": "accepted", "edition": slug}
    assert (await console.http.get(f"/api/editions/{slug}")).json()["title"] == "Anders"
    assert (await console.http.get("/api/editions/other")).status_code == 404
    missing = await console.api("PUT", f"/console/api/editions/{YEAR}-nergens", token, json=new_edition("x"))
    assert missing.status_code == 404

    assert (await console.api("POST", f"/console/api/editions/{slug}/reopen", token)).status_code == 409
    assert (await console.api("POST", f"/console/api/editions/{slug}/seating", token)).status_code == 409
    assert (await console.api("POST", f"/console/api/editions/{slug}/close", token)).status_code == 200
    seating = await console.api("POST", f"/console/api/editions/{slug}/seating", token)
    assert seating.status_code == 200 and seating.json()["edition"] == slug
    assert (await console.api("POST", f"/console/api/editions/{slug}/reopen", token)).status_code == 409  # open
    too_long = await console.api("POST", f"/console/api/editions/{slug}/stop", token, json={"reason": "x" * 2001})
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "reason"
    stopped = await console.api("POST", f"/console/api/editions/{slug}/stop", token, json={"reason": "Vol"})
    assert stopped.status_code == 200 and stopped.json()["edition"] == slug
    reopened = await console.api("POST", f"/console/api/editions/{slug}/reopen", token)
    assert reopened.status_code == 200 and reopened.json()["edition"] == slug
    viewer = await console.token("vera@zwolle.nl", "viewer")
    assert (await console.api("POST", f"/console/api/editions/{slug}/reopen", viewer)).status_code == 403
    audit = (await console.api("GET", "/console/api/audit?limit=20", token)).json()["items"]
    assert [i["outcome"] for i in audit if i["action"] == "ReopenRegistration"] == ["accepted", "rejected", "rejected"]
    assert [i["outcome"] for i in audit if i["action"] == "StopRegistration"] == ["accepted"]


async def test_the_start_page_and_the_list_show_the_numbers_of_each_edition(console: Console) -> None:
    token = await console.token("anna@platform31.nl", "organiser")
    slug = f"{YEAR}-getallen"
    assert (await console.api("POST", "/console/api/editions", token, json=new_edition(slug))).status_code == 201

    async def registered() -> bool:
        response = await console.http.post("/api/registrations", json=factories.trio(slug))
        return response.status_code == 202

    await wait_until(registered, what="registration to know the edition")

    async def counted() -> dict[str, Any] | None:
        lines = (await console.api("GET", "/console/api/overview", token)).json()["editions"]
        numbers = next(line["numbers"] for line in lines if line["edition"] == slug)
        return numbers if numbers and numbers["registered"] == 1 else None

    numbers = await wait_until(counted, what="reporting to count the registration")
    assert numbers["awaiting_approval"] == 1 and numbers["placed"] == 0 and numbers["unpaid"] == 0

    async with console.browser("vera@zwolle.nl", "viewer") as browser:
        for path in ("/console/", "/console/editions", f"/console/editions/{slug}"):
            page = await browser.get(path)
            assert page.status_code == 200, path
            card = page.text.split(f'id="editie-{slug}"')[-1] if path != f"/console/editions/{slug}" else page.text
            assert 'data-number="registered">1<' in card and 'data-number="awaiting_approval">1<' in card
            assert 'data-number="placed">0 <span class="of">van 8</span>' in card
            assert f'href="/console/registrations?edition={slug}"' in card
            assert f'href="/console/editions/{slug}/sessions"' in card


async def test_a_viewer_reads_editions_and_exports_but_may_not_create_edit_or_close(console: Console) -> None:
    token = await console.token("anna@platform31.nl", "organiser")
    slug = f"{YEAR}-lezen"
    assert (await console.api("POST", "/console/api/editions", token, json=new_edition(slug))).status_code == 201
    async with console.browser("vera@zwolle.nl", "viewer") as browser:
        listed = await browser.get("/console/editions")
        assert listed.status_code == 200 and f'href="/console/editions/{slug}"' in listed.text
        assert "Nieuwe editie" not in listed.text
        one = await browser.get(f"/console/editions/{slug}")
        assert one.status_code == 200 and f"{slug}/edit" not in one.text
        assert "Plaatsen nu verdelen" not in one.text and "Aanmelding stoppen" not in one.text
        csrf = hidden(one.text, "csrf")
        for path in ("/console/editions/new", f"/console/editions/{slug}/edit", f"/console/editions/{slug}/copy"):
            refused = await browser.get(path)
            assert refused.status_code == 403, path
            assert "Met de rol meelezer mag je niet edities aanmaken en wijzigen" in refused.text
        for path in (
            "/console/editions/new",
            f"/console/editions/{slug}/edit",
            f"/console/editions/{slug}/close",
            f"/console/editions/{slug}/stop",
        ):
            assert (await browser.post(path, data={"csrf": csrf, **form(slug)})).status_code == 403, path
        exported = await browser.get(f"/console/api/editions/{slug}/exports/registrations.csv")
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        assert exported.text.lstrip("\ufeff").startswith("registration_id;")  # Dutch Excel's separator
        commas = await browser.get(f"/console/api/editions/{slug}/exports/registrations.csv", params={"sep": ","})
        assert commas.text.lstrip("\ufeff").startswith("registration_id,")
        wrong = await browser.get(f"/console/api/editions/{slug}/exports/registrations.csv", params={"sep": "|"})
        assert wrong.status_code == 400 and wrong.json()["errors"][0]["code"] == "invalid_separator"
        assert (await browser.get(f"/console/api/editions/{slug}/exports/secrets.txt")).status_code == 404
    assert (await console.http.get(f"/api/editions/{slug}")).json()["registration_open"] is True
    audit = (await console.api("GET", "/console/api/audit?limit=50", token)).json()["items"]
    assert any(i["action"] == "export.download" and i["reason"] == "registrations.csv" for i in audit)


async def test_the_menu_shows_each_role_only_what_it_may_use(console: Console) -> None:
    token = await console.token("anna@platform31.nl", "organiser")
    slug = f"{YEAR}-begeleid"
    assert (await console.api("POST", "/console/api/editions", token, json=new_edition(slug))).status_code == 201
    everything = ["Edities", "Aanmeldingen", "Facturen", "Audit", "Toegangstokens", "Accounts", "API", "Uitloggen"]
    reader = ["Edities", "Aanmeldingen", "Facturen", "Toegangstokens", "API", "Uitloggen"]
    for email, role, editions, expected in [
        ("olga@platform31.nl", "organiser", [], everything),
        ("vera@zwolle.nl", "viewer", [], reader),
        ("fenna@platform31.nl", "facilitator", [slug], reader),
    ]:
        async with console.browser(email, role, editions) as browser:
            start = await browser.get("/console/")
            assert start.status_code == 200, role
            assert menu(start.text) == expected, role
            listed = await browser.get("/console/editions")
            assert '<a href="/console/editions" aria-current="page">Edities</a>' in listed.text
            if role == "facilitator":
                # Only the edition assigned to them, not the others (the example edition of the dev system).
                assert f'id="editie-{slug}"' in start.text and start.text.count('<article class="edition"') == 1
    async with console.browser("piet@platform31.nl", "viewer") as browser:
        # A page without a form of its own links to the sign-out page, which signs out with one button.
        refused = await browser.get("/console/editions/new")
        assert '<a href="/console/logout">Uitloggen</a>' in refused.text
        confirm = await browser.get("/console/logout")
        out = await browser.post("/console/logout", data={"csrf": hidden(confirm.text, "csrf")})
        assert out.status_code == 303 and (await browser.get("/console/")).status_code == 303
