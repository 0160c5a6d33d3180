"""The console's registrations on the whole system in one process: trios registered on the public API appear in
the list (filtered, searched), the detail page tells their whole history with reasons and who acted; an organiser
approves on the approver's behalf, places a trio by hand (a full edition answers 409 with the reason), moves one
on the waitlist, replaces a member (who gets the welcome mail), corrects the case and erases after confirming, by
page and by API, each in the audit log; viewers and facilitators read but may not act."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.console_support import ORGANISER_TOKEN, Console, new_edition, running_console
from tests.factories import trio
from tests.support import hidden, wait_until

API = "/console/api/registrations"
INVOICE = {"address": "Gemeente\nPostbus 16200\n3500 CE Utrecht", "reference": "PO-2028-17"}
ACTIONS = ("approve", "decline", "cancel", "erase", "correct", "replace-member", "place", "move")


@pytest.fixture
async def console(tmp_path) -> AsyncIterator[Console]:
    async with running_console(tmp_path / "var") as running:
        yield running


async def edition(console: Console, token: str, slug: str, *, max_trios: int = 8) -> str:
    body = new_edition(slug, capacity={"min_trios": 1, "max_trios": max_trios})
    created = await console.api("POST", "/console/api/editions", token, json=body)
    assert created.status_code == 201, created.text
    return slug


async def register(console: Console, slug: str, **changes: Any) -> str:
    """A trio registered on the public API, once registration has heard of the edition (an event away). Any
    municipality but Veenendaal (medium-sized, free of charge) pays, so it gives the invoice details."""
    if changes.get("municipality", "GM0345") != "GM0345":
        changes.setdefault("invoice", INVOICE)
    body = trio(slug, **changes)

    async def registered() -> str | None:
        response = await console.http.post("/api/registrations", json=body)
        if response.status_code == 202:
            registration_id: str = response.json()["registration_id"]
            return registration_id
        assert response.json()["errors"][0]["code"] == "unknown_edition", response.text
        return None

    found: str = await wait_until(registered, what="registration to know the edition")
    return found


async def registration(console: Console, token: str, registration_id: str) -> dict[str, Any]:
    shown = await console.api("GET", f"{API}/{registration_id}", token)
    assert shown.status_code == 200, shown.text
    body: dict[str, Any] = shown.json()
    return body


async def status_of(console: Console, token: str, registration_id: str, status: str) -> dict[str, Any] | None:
    found = await registration(console, token, registration_id)
    return found if found["status"] == status else None


async def scheduling_knows_approved(console: Console, slug: str, count: int) -> bool:
    """Scheduling has heard of COUNT approvals (an event away from the console's approve)."""
    found = await console.http.get(
        f"/api/editions/{slug}/trios", headers={"Authorization": f"Bearer {ORGANISER_TOKEN}"}
    )
    counts = found.json()["counts"]
    return bool(counts["approved"] + counts["placed"] + counts["waitlisted"] == count)


async def audit(console: Console, token: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await console.api("GET", "/console/api/audit?limit=100", token)).json()["items"]
    return items


async def post_form(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    """A form posted from the page it is on, with that page's CSRF token."""
    shown = await client.get(path.rsplit("/", 1)[0] if not path.endswith("/erase") else path)
    return await client.post(path, data={"csrf": hidden(shown.text, "csrf"), **fields})


async def test_a_registered_trio_appears_in_the_list_and_filters_and_search_find_it(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    slug = await edition(console, organiser, "2028-lijst")
    veenendaal = await register(console, slug, municipality="GM0345")
    utrecht = await register(console, slug, municipality="GM0344")

    async def both_listed() -> list[str] | None:
        found = (await console.api("GET", f"{API}?edition={slug}", organiser)).json()
        ids = [r["registration_id"] for r in found["registrations"]]
        return ids if found["total"] == 2 else None

    assert set(await wait_until(both_listed, what="both trios in the list")) == {veenendaal, utrecht}

    async def listed(query: str) -> list[str]:
        found = await console.api("GET", f"{API}?edition={slug}&{query}", organiser)
        assert found.status_code == 200, found.text
        return [r["registration_id"] for r in found.json()["registrations"]]

    assert await listed("size_class=middelgroot") == [veenendaal]
    assert await listed("size_class=groot") == [utrecht]
    assert await listed("q=utrecht") == [utrecht]
    assert set(await listed("q=anna de vries")) == {veenendaal, utrecht}  # a member's name
    assert set(await listed("status=awaiting_approval")) == {veenendaal, utrecht}
    assert await listed("status=placed") == []
    assert await listed("paid=true") == []
    paged = (await console.api("GET", f"{API}?edition={slug}&limit=1", organiser)).json()
    assert (len(paged["registrations"]), paged["total"], paged["next_offset"]) == (1, 2, 1)

    bad = await console.api("GET", f"{API}?status=bijna", organiser)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "status"

    async with console.browser("bea@platform31.nl", "organiser") as browser:
        listing = await browser.get("/console/registrations", params={"edition": slug, "q": "Veenendaal"})
        assert listing.status_code == 200
        assert f"/console/registrations/{veenendaal}" in listing.text
        assert f"/console/registrations/{utrecht}" not in listing.text
        assert '<label for="filter-q">' in listing.text
        refused = await browser.get("/console/registrations", params={"size_class": "reusachtig"})
        assert refused.status_code == 422
        assert 'id="filter-size-class-error"' in refused.text


async def test_the_detail_page_tells_the_history_in_order_with_the_reason_and_who_approved(console: Console) -> None:
    async with console.browser("anna@platform31.nl", "organiser") as browser:
        created = await browser.post("/console/api/editions", json=new_edition("2028-historie"))
        assert created.status_code == 201, created.text
        registration_id = await register(console, "2028-historie")
        page = f"/console/registrations/{registration_id}"

        approved = await post_form(browser, f"{page}/approve", reason="Akkoord van de wethouder per mail van 3 mei")
        assert approved.status_code == 303, approved.text
        assert approved.headers["location"] == f"{page}?gedaan=approve#melding"

        shown = await browser.get(approved.headers["location"])
        assert shown.status_code == 200
        text = shown.text
        assert "De aanmelding is goedgekeurd namens de goedkeurder." in text
        registered_at = text.index("Aangemeld via het aanmeldformulier")
        approved_at = text.index("Goedgekeurd door de organisatie namens de goedkeurder")
        assert registered_at < approved_at
        assert "Reden: Akkoord van de wethouder per mail van 3 mei" in text
        assert "anna@platform31.nl (console)" in text
        assert "Anna de Vries" in text  # the trio's members

        audited = await browser.get("/console/api/audit?limit=20")
        entry = next(e for e in audited.json()["items"] if e["action"] == "ApproveRegistration")
        assert entry["subject"] == f"registration:{registration_id}"
        assert (entry["outcome"], entry["reason"]) == ("accepted", "Akkoord van de wethouder per mail van 3 mei")

        again = await post_form(browser, f"{page}/decline", reason="toch niet")
        assert again.status_code == 409  # decided already: the page again, with the service's reason
        assert "error-summary" in again.text


async def test_approving_or_declining_on_the_approvers_behalf_needs_a_reason(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    registration_id = await register(console, await edition(console, organiser, "2028-reden"))
    for action in ("approve", "decline"):
        refused = await console.api("POST", f"{API}/{registration_id}/{action}", organiser, json={})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "reason"
        assert refused.json()["errors"][0]["code"] == "reason_required"
    assert (await registration(console, organiser, registration_id))["status"] == "awaiting_approval"
    declined = await console.api(
        "POST", f"{API}/{registration_id}/decline", organiser, json={"reason": "Geen wijkambtenaar in dienst"}
    )
    assert declined.status_code == 200, declined.text
    history = (await registration(console, organiser, registration_id))["history"]
    assert history[-1]["reason"] == "Geen wijkambtenaar in dienst"


async def test_a_trio_placed_by_hand_keeps_its_reason_and_a_full_edition_answers_409_with_why(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    slug = await edition(console, organiser, "2028-hand", max_trios=1)
    first, second = await register(console, slug), await register(console, slug, municipality="GM0344")
    for registration_id in (first, second):
        approved = await console.api(
            "POST", f"{API}/{registration_id}/approve", organiser, json={"reason": "Goedkeurder belde"}
        )
        assert approved.status_code == 200, approved.text
    await wait_until(lambda: scheduling_knows_approved(console, slug, 2), what="scheduling to know the approvals")

    placed = await console.api(
        "POST", f"{API}/{first}/place", organiser, json={"reason": "Wethouder heeft het trio persoonlijk voorgedragen"}
    )
    assert placed.status_code == 200, placed.text
    assert placed.json()["registration_id"] == first
    shown = await wait_until(lambda: status_of(console, organiser, first, "placed"), what="the trio placed")
    assert "Wethouder heeft het trio persoonlijk voorgedragen" in [e["reason"] for e in shown["history"]]

    full = await console.api("POST", f"{API}/{second}/place", organiser, json={"reason": "Ook graag"})
    assert full.status_code == 409
    error = full.json()["errors"][0]
    assert error["code"] == "edition_full"
    assert "plaatsen van deze editie zijn bezet" in error["message"]

    without_reason = await console.api("POST", f"{API}/{second}/place", organiser, json={"reason": " "})
    assert without_reason.status_code == 422
    assert without_reason.json()["errors"][0]["field"] == "reason"

    entries = [(e["action"], e["outcome"]) for e in await audit(console, organiser)]
    assert ("PlaceTrio", "accepted") in entries
    assert ("PlaceTrio", "rejected") in entries


async def test_a_waitlisted_trio_moves_ahead_with_a_reason_from_the_detail_page(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    slug = await edition(console, organiser, "2028-wachtlijst", max_trios=1)
    trios = [await register(console, slug, municipality=code) for code in ("GM0345", "GM0344", "GM0014")]
    for registration_id in trios:
        await console.api("POST", f"{API}/{registration_id}/approve", organiser, json={"reason": "per mail"})
    await wait_until(lambda: scheduling_knows_approved(console, slug, 3), what="scheduling to know the approvals")
    closed = await console.api("POST", f"/console/api/editions/{slug}/close", organiser)
    assert closed.status_code == 200, closed.text
    last = trios[-1]
    waiting = await wait_until(lambda: status_of(console, organiser, last, "waitlisted"), what="the waitlist")
    assert waiting["waitlist_position"] == 2

    async with console.browser("bea@platform31.nl", "organiser") as browser:
        page = f"/console/registrations/{last}"
        assert 'id="form-move"' in (await browser.get(page)).text
        moved = await post_form(browser, f"{page}/move", position="1", reason="Zat vorig jaar al op de wachtlijst")
        assert moved.status_code == 303, moved.text

        async def first_in_line() -> bool:
            return (await registration(console, organiser, last))["waitlist_position"] == 1

        await wait_until(first_in_line, what="the trio first on the waitlist")
        assert "Reden: Zat vorig jaar al op de wachtlijst" in (await browser.get(page)).text
        assert ("MoveOnWaitlist", "accepted") in [(e["action"], e["outcome"]) for e in await audit(console, organiser)]
        too_far = await post_form(browser, f"{page}/move", position="9", reason="achteraan")
        assert too_far.status_code == 422
        assert 'id="move-position-error"' in too_far.text


async def test_a_replaced_member_is_welcomed_by_mail_and_the_old_member_is_gone(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    registration_id = await register(console, await edition(console, organiser, "2028-vervang"))
    new_member = {
        "name": "Dewi Kramer",
        "email": "dewi.kramer@veenendaal.example",
        "role": "sectorambtenaar",
        "domain": "fysiek",
    }
    replaced = await console.api(
        "POST",
        f"{API}/{registration_id}/replace-member",
        organiser,
        json={"member_index": 1, "member": new_member, "reason": "Bram is van baan gewisseld"},
    )
    assert replaced.status_code == 200, replaced.text

    async def welcomed() -> bool:
        mails = (await console.http.get("/dev/mailbox.json")).json()["mails"]
        return any(m["recipient"] == "dewi.kramer@veenendaal.example" for m in mails)

    await wait_until(welcomed, what="the welcome mail to the new member")
    async with console.browser("bea@platform31.nl", "organiser") as browser:
        shown = await browser.get(f"/console/registrations/{registration_id}")
        assert "Dewi Kramer" in shown.text
        assert "Bram Jansen" not in shown.text
        assert "Reden: Bram is van baan gewisseld" in shown.text
    assert ("ReplaceMember", "accepted") in [(e["action"], e["outcome"]) for e in await audit(console, organiser)]


async def test_the_case_is_corrected_and_the_registration_cancelled_on_the_page_with_reasons(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    registration_id = await register(console, await edition(console, organiser, "2028-correctie"))
    async with console.browser("bea@platform31.nl", "organiser") as browser:
        page = f"/console/registrations/{registration_id}"
        case = {
            "part": "case",
            "case.title": "Groene pleinen en schoolpleinen",
            "case.neighbourhood": "Dragonder-Oost",
            "case.summary": "Pleinen aanpassen met bewoners en scholen.",
            "case.domains.fysiek": "ja",
            "case.domains.sociaal": "ja",
        }
        without_reason = await post_form(browser, f"{page}/correct", **case)
        assert without_reason.status_code == 422
        assert 'id="correct-case-reason-error"' in without_reason.text
        assert 'aria-describedby="correct-case-reason-hint correct-case-reason-error"' in without_reason.text
        assert "Groene pleinen en schoolpleinen" in without_reason.text  # what was typed stays

        corrected = await post_form(browser, f"{page}/correct", reason="Titel was verkeerd overgenomen", **case)
        assert corrected.status_code == 303, corrected.text
        shown = (await browser.get(page)).text
        assert "Gecorrigeerd: titel van de casus" in shown
        assert "Groene pleinen en schoolpleinen" in shown

        cancelled = await post_form(browser, f"{page}/cancel", reason="Trio trekt zich terug wegens reorganisatie")
        assert cancelled.status_code == 303, cancelled.text
        shown = (await browser.get(cancelled.headers["location"])).text
        assert "De aanmelding is geannuleerd." in shown
        assert "Reden: Trio trekt zich terug wegens reorganisatie" in shown
        assert 'id="form-cancel"' not in shown
    assert (await registration(console, organiser, registration_id))["status"] == "cancelled"
    entries = [(e["action"], e["outcome"]) for e in await audit(console, organiser)]
    assert {("CorrectRegistration", "accepted"), ("CancelRegistration", "accepted")} <= set(entries)


async def test_erasing_asks_for_confirmation_first(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    registration_id = await register(console, await edition(console, organiser, "2028-wissen"))
    unconfirmed = await console.api("POST", f"{API}/{registration_id}/erase", organiser, json={})
    assert unconfirmed.status_code == 422
    assert unconfirmed.json()["errors"][0]["code"] == "confirmation_required"
    async with console.browser("bea@platform31.nl", "organiser") as browser:
        page = f"/console/registrations/{registration_id}"
        confirm = await browser.get(f"{page}/erase")
        assert confirm.status_code == 200 and "Anna de Vries" in confirm.text
        refused = await post_form(browser, f"{page}/erase")
        assert refused.status_code == 422
        assert 'id="erase-confirm-error"' in refused.text
        erased = await post_form(browser, f"{page}/erase", confirm="ja", reason="Verzoek van de deelnemer")
        assert erased.status_code == 303, erased.text
        shown = (await browser.get(page)).text
        assert "Persoonsgegevens verwijderd" in shown
        assert "Anna de Vries" not in shown
    entry = next(e for e in await audit(console, organiser) if e["action"] == "EraseParticipantData")
    assert (entry["outcome"], entry["reason"]) == ("accepted", "Verzoek van de deelnemer")


async def test_an_unknown_registration_is_404_in_the_api_and_on_the_page(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    assert (await console.api("GET", f"{API}/onbekend", organiser)).status_code == 404
    refused = await console.api("POST", f"{API}/onbekend/cancel", organiser, json={"reason": "weg"})
    assert refused.status_code == 404
    assert refused.json()["errors"][0]["code"] == "unknown_registration"
    async with console.browser("bea@platform31.nl", "organiser") as browser:
        assert (await browser.get("/console/registrations/onbekend")).status_code == 404
        forged = await browser.post("/console/registrations/onbekend/cancel", data={"csrf": "nagemaakt"})
        assert forged.status_code == 403 and "Dit formulier is verlopen" in forged.text


async def test_without_a_login_the_pages_send_to_the_login_and_the_api_answers_401(console: Console) -> None:
    for path in ("/console/registrations", "/console/registrations/iets"):
        response = await console.http.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/console/login")
    assert (await console.http.get(API)).status_code == 401
    assert (await console.http.post(f"{API}/iets/approve", json={"reason": "x"})).status_code == 401


async def test_a_viewer_reads_registrations_but_every_action_is_refused(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    registration_id = await register(console, await edition(console, organiser, "2028-meelezer"))
    viewer = await console.token("vera@zwolle.nl", "viewer")
    assert (await console.api("GET", f"{API}?edition=2028-meelezer", viewer)).status_code == 200
    assert (await console.api("GET", f"{API}/{registration_id}", viewer)).status_code == 200
    for action in ACTIONS:
        refused = await console.api("POST", f"{API}/{registration_id}/{action}", viewer, json={"reason": "mag ik?"})
        assert refused.status_code == 403, action
        assert "Met de rol meelezer mag je niet aanmeldingen beheren" in refused.json()["errors"][0]["message"]

    async with console.browser("victor@zwolle.nl", "viewer") as browser:
        listing = await browser.get("/console/registrations")
        assert listing.status_code == 200 and registration_id in listing.text
        shown = await browser.get(f"/console/registrations/{registration_id}")
        assert shown.status_code == 200 and "Anna de Vries" in shown.text
        assert "<h2>Handelingen</h2>" not in shown.text
        csrf = hidden(shown.text, "csrf")
        for action in ACTIONS:
            refused = await browser.post(
                f"/console/registrations/{registration_id}/{action}", data={"csrf": csrf, "reason": "mag ik?"}
            )
            assert refused.status_code == 403, action
        assert (await browser.get(f"/console/registrations/{registration_id}/erase")).status_code == 403
    assert (await registration(console, organiser, registration_id))["status"] == "awaiting_approval"
    assert not [e for e in await audit(console, organiser) if e["subject"] == f"registration:{registration_id}"]


async def test_a_facilitator_may_not_act_on_registrations_even_of_their_own_edition(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    registration_id = await register(console, await edition(console, organiser, "2028-begeleider"))
    facilitator = await console.token("fenna@platform31.nl", "facilitator", editions=["2028-begeleider"])
    stranger = await console.token("floor@platform31.nl", "facilitator", editions=["2028-elders"])
    for action in ACTIONS:
        refused = await console.api("POST", f"{API}/{registration_id}/{action}", facilitator, json={"reason": "x"})
        assert refused.status_code == 403, action
    # Reading follows the facilitator's editions.
    assert (await console.api("GET", f"{API}/{registration_id}", facilitator)).status_code == 200
    assert (await console.api("GET", f"{API}/{registration_id}", stranger)).status_code == 403
    assert (await console.api("GET", f"{API}?edition=2028-begeleider", facilitator)).status_code == 200
    assert (await console.api("GET", API, facilitator)).status_code == 403
    async with console.browser("fleur@platform31.nl", "facilitator", editions=["2028-begeleider"]) as browser:
        listing = await browser.get("/console/registrations")
        assert listing.status_code == 303  # to the first of their own editions
        assert listing.headers["location"].endswith("edition=2028-begeleider")
        shown = await browser.get(f"/console/registrations/{registration_id}")
        csrf = hidden(shown.text, "csrf")
        refused = await browser.post(
            f"/console/registrations/{registration_id}/approve", data={"csrf": csrf, "reason": "x"}
        )
        assert refused.status_code == 403
        assert "aanmeldingen beheren" in refused.text


async def test_the_openapi_document_describes_the_registration_operations(console: Console) -> None:
    document = (await console.http.get("/console/api/openapi.json")).json()
    validate(document)
    paths = document["paths"]
    assert {"/api/registrations", "/api/registrations/{registration_id}"} <= set(paths)
    for action in ACTIONS:
        operation = paths[f"/api/registrations/{{registration_id}}/{action}"]["post"]
        assert {"200", "403", "404", "409", "422"} <= set(operation["responses"])
    place = document["components"]["schemas"]["PlaceBody"]
    assert set(place["properties"]) == {"reason"} and place["required"] == ["reason"]
    assert "registration_id" not in document["components"]["schemas"]["ReplaceMemberBody"]["properties"]
    assert document["components"]["schemas"]["EraseBody"]["required"] == ["confirm"]
