"""Mail to an edition's participants from the console, on the whole system in one process: an organiser's mail to
the placed trios reaches each of their members once (in the development mailbox), with a preview greeting one
of them first; it is in the audit log; a viewer may not send."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.console_support import Console, running_console
from tests.support import wait_until
from tests.unit.test_console_sessions import held_edition_with_trios

BODY = {
    "audience": "placed",
    "subject": "Parkeren bij het Stadskantoor",
    "text": "De parkeergarage is gesloten. Kom met de trein.",
}


@pytest.fixture
async def console(tmp_path) -> AsyncIterator[Console]:
    async with running_console(tmp_path / "var") as running:
        yield running


async def announcements(console: Console) -> list[dict[str, Any]]:
    mails = (await console.http.get("/dev/mailbox.json")).json()["mails"]
    return [m for m in mails if m["kind"] == "announcement"]


async def test_an_organiser_mails_the_placed_trios_and_each_member_gets_it_once(console: Console) -> None:
    organiser = await console.token("organisator@platform31.nl", "organiser")
    await held_edition_with_trios(console, organiser, "2028-voorjaar", count=2)

    sent = await console.api("POST", "/console/api/editions/2028-voorjaar/mail", organiser, json=BODY)

    assert sent.status_code == 201, sent.text
    assert sent.json()["recipients"] == "6"
    mails = await wait_until(lambda: _at_least(console, 6), what="the announcement's six mails")
    assert len({m["recipient"] for m in mails}) == 6
    assert all(m["subject"] == BODY["subject"] and BODY["text"] in m["text"] for m in mails)
    assert all(re.match(r"(Beste|Dear) \S", m["text"]) for m in mails)
    audit = (await console.api("GET", "/console/api/audit?limit=5", organiser)).json()
    assert any("SendAnnouncement" in line["action"] for line in audit["items"])


async def test_the_page_previews_the_mail_for_one_member_then_sends_it(console: Console) -> None:
    organiser = await console.token("organisator@platform31.nl", "organiser")
    await held_edition_with_trios(console, organiser, "2028-najaar", count=1)
    async with console.browser("schrijver@platform31.nl", "organiser") as browser:
        page = await browser.get("/console/editions/2028-najaar/mail")
        assert page.status_code == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        form = {"csrf": csrf.group(1), **BODY, "text_en": ""}
        preview = await browser.post("/console/editions/2028-najaar/mail", data=form | {"action": "preview"})
        assert preview.status_code == 200 and "Voorbeeld" in preview.text and "Zo krijgt" in preview.text
        assert await announcements(console) == []
        sent = await browser.post("/console/editions/2028-najaar/mail", data=form | {"action": "send"})
        assert sent.status_code == 303
    await wait_until(lambda: _at_least(console, 3), what="the mails of the trio's three members")


async def test_a_viewer_may_not_send_mail(console: Console) -> None:
    viewer = await console.token("kijker@platform31.nl", "viewer")
    refused = await console.api("POST", "/console/api/editions/2028-voorjaar/mail", viewer, json=BODY)
    assert refused.status_code == 403
    async with console.browser("kijker2@platform31.nl", "viewer") as browser:
        assert (await browser.get("/console/editions/2028-voorjaar/mail")).status_code == 403


async def _at_least(console: Console, count: int) -> list[dict[str, Any]] | None:
    mails = await announcements(console)
    return mails if len(mails) >= count else None
