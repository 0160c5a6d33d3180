"""The console's sessions on the whole system in one process: attendance, notes, reschedule and the report's
preview, publication and retraction through the API (with who may do what), the check-in at the door (taps kept
as a draft in the console's store, each counted once however often it is sent) recorded into scheduling, and the
notes form's way to a highlighted preview, a publication and the public /reports page. Every action is in the
audit log."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from frontends.console.store import repositories
from tests.console_support import ORGANISER_TOKEN, Console, new_edition, running_console
from tests.factories import notes, trio
from tests.support import hidden, wait_until

MACHINE = {"Authorization": f"Bearer {ORGANISER_TOKEN}"}


@pytest.fixture
async def console(tmp_path) -> AsyncIterator[Console]:
    async with running_console(tmp_path / "var") as running:
        yield running


async def held_edition_with_trios(console: Console, organiser: str, slug: str, count: int = 2) -> list[str]:
    """An edition whose first session has just begun, with COUNT trios placed in it: registered and approved while
    registration was open, then the edition's times moved (registration closed and the deadline passed: the places
    are allocated; the first session begins)."""
    body = new_edition(slug)
    assert (await console.api("POST", "/console/api/editions", organiser, json=body)).status_code == 201
    ids = []
    for n in range(count):
        registration = trio(slug, tag=f"{slug}{n}")

        async def registered(registration: dict[str, Any] = registration) -> str | None:
            answer = await console.http.post("/api/registrations", json=registration)
            return answer.json()["registration_id"] if answer.status_code == 202 else None  # edition not known yet

        rid = await wait_until(registered, what="registration to know the edition")
        approved = await console.http.post(f"/api/registrations/{rid}/approve", headers=MACHINE)
        assert approved.status_code == 200, approved.text
        ids.append(rid)

    async def allocation() -> dict[str, Any]:
        return (await console.http.get(f"/api/editions/{slug}/allocation", headers=MACHINE)).json()

    async def in_pool() -> bool:
        return len((await allocation())["pool"]) == count

    await wait_until(in_pool, what="scheduling to have the approved trios")
    # No session may be moved into the past: the first one begins two seconds from now.
    now = datetime.now(UTC)
    body["registration_deadline"] = (now - timedelta(days=2)).isoformat()
    body["registration_closes_at"] = (now - timedelta(days=1)).isoformat()
    for index, session in enumerate(body["sessions"]):
        session["starts_at"] = (now + timedelta(days=30 * index, seconds=2)).isoformat()
        session["ends_at"] = (now + timedelta(days=30 * index, hours=4)).isoformat()
    moved = await console.http.post("/dev/commands/scheduling.ScheduleEdition", json=body, headers=MACHINE)
    assert moved.status_code == 200, moved.text

    async def placed_and_begun() -> bool:
        first = (await console.http.get(f"/api/editions/{slug}/sessions/1", headers=MACHINE)).json()
        return len(first["placed"]) == count and first["started"]

    await wait_until(placed_and_begun, what="the trios to be placed and the first session to begin")
    return ids


async def audit(console: Console, token: str) -> list[dict[str, Any]]:
    return (await console.api("GET", "/console/api/audit?limit=200", token)).json()["items"]


def tap(registration_id: str, present: bool, *, at: datetime | None = None) -> dict[str, Any]:
    moment = at or datetime.now(UTC)
    return {
        "tap": uuid.uuid4().hex,
        "registration_id": registration_id,
        "present": present,
        "at": int(moment.timestamp() * 1000),
    }


async def send_taps(browser: httpx.AsyncClient, path: str, csrf: str, taps: list[dict[str, Any]]) -> httpx.Response:
    return await browser.post(f"{path}/checkin/taps", json={"taps": taps}, headers={"X-CSRF-Token": csrf})


# The API


async def test_a_facilitator_of_the_edition_records_attendance_and_scheduling_has_it(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    placed = await held_edition_with_trios(console, organiser, "2028-voorjaar")
    facilitator = await console.token("fenna@platform31.nl", "facilitator", editions=["2028-voorjaar"])

    recorded = await console.api(
        "POST", "/console/api/editions/2028-voorjaar/sessions/1/attendance", facilitator, json={"present": placed[:1]}
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json() == {"status": "accepted", "edition": "2028-voorjaar", "session_number": 1}

    shown = await console.api("GET", "/console/api/editions/2028-voorjaar/sessions/1", facilitator)
    assert shown.status_code == 200
    assert shown.json()["present"] == placed[:1]
    assert sorted(shown.json()["placed"]) == sorted(placed)
    scheduling = await console.http.get("/api/editions/2028-voorjaar/sessions/1", headers=MACHINE)
    assert scheduling.json()["present"] == placed[:1]

    entry = next(e for e in await audit(console, organiser) if e["action"] == "RecordAttendance")
    assert entry == entry | {
        "actor": await console.account_id("fenna@platform31.nl"),
        "subject": "session:2028-voorjaar/1",
        "outcome": "accepted",
    }


async def test_attendance_of_what_does_not_exist_is_404_of_a_future_session_409_and_a_bad_body_422(
    console: Console,
) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    placed = await held_edition_with_trios(console, organiser, "2028-najaar", count=1)
    base = "/console/api/editions/2028-najaar/sessions"

    unknown_session = await console.api("POST", f"{base}/9/attendance", organiser, json={"present": placed})
    assert unknown_session.status_code == 404
    assert unknown_session.json()["errors"][0]["code"] == "unknown_session"
    unknown_edition = await console.api(
        "POST", "/console/api/editions/bestaat-niet/sessions/1/attendance", organiser, json={"present": []}
    )
    assert unknown_edition.status_code == 404
    assert (await console.api("GET", f"{base}/9", organiser)).status_code == 404
    assert (await console.api("GET", f"{base}/een", organiser)).status_code == 404

    not_started = await console.api("POST", f"{base}/2/attendance", organiser, json={"present": placed})
    assert not_started.status_code == 409
    assert not_started.json()["errors"][0]["code"] == "not_started"

    bad = await console.api("POST", f"{base}/1/attendance", organiser, json={"present": "iedereen"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "present"
    # A trio scheduling has no copy of may be one registered a moment ago: the command waits for it in the
    # retry queues (refused only after about 36 s), so the console answers that it is on its way.
    gateway = console.gateway
    assert gateway is not None
    gateway.wait_seconds = 0.5
    try:
        stranger = await console.api("POST", f"{base}/1/attendance", organiser, json={"present": ["niet-van-hier"]})
    finally:
        gateway.wait_seconds = 10.0
    assert stranger.status_code == 202 and stranger.json()["status"] == "pending"
    outcomes = [e["outcome"] for e in await audit(console, organiser) if e["action"] == "RecordAttendance"]
    assert sorted(outcomes) == ["pending", "rejected", "rejected", "rejected"]


async def test_who_may_record_attendance_write_notes_publish_and_reschedule(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    await held_edition_with_trios(console, organiser, "2029-voorjaar", count=1)
    ours = await console.token("fenna@platform31.nl", "facilitator", editions=["2029-voorjaar"])
    theirs = await console.token("frits@platform31.nl", "facilitator", editions=["2030-voorjaar"])
    viewer = await console.token("vera@zwolle.nl", "viewer")
    base = "/console/api/editions/2029-voorjaar/sessions/1"

    async def status(token: str, what: str, body: dict[str, Any] | None = None) -> int:
        return (await console.api("POST", f"{base}/{what}", token, json=body or {})).status_code

    times = {"starts_at": "2031-01-01T10:00:00+01:00", "ends_at": "2031-01-01T12:00:00+01:00"}
    for token in (theirs, viewer):
        assert await status(token, "attendance", {"present": []}) == 403
        assert await status(token, "notes", notes()) == 403
        assert await status(token, "report/publish") == 403
    refused = await console.api("POST", f"{base}/attendance", theirs, json={"present": []})
    assert "alleen voor de edities waaraan je bent toegewezen" in refused.json()["errors"][0]["message"]
    assert await status(ours, "report/publish") == 403
    assert await status(ours, "report/retract") == 403
    assert await status(ours, "reschedule", times) == 403
    assert await status(viewer, "reschedule", times) == 403
    # What the facilitator of the edition may do.
    assert await status(ours, "attendance", {"present": []}) == 200
    assert await status(ours, "notes", notes()) == 200
    assert (await console.api("GET", base, viewer)).status_code == 200
    assert (await console.api("GET", base, theirs)).status_code == 403


async def test_notes_through_the_api_make_a_draft_that_is_revised_published_and_retracted(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    await held_edition_with_trios(console, organiser, "2029-najaar", count=1)
    base = "/console/api/editions/2029-najaar/sessions/1"

    bad = await console.api("POST", f"{base}/notes", organiser, json={"lessons": "geen lijst"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "lessons"
    assert (await console.api("POST", f"{base}/notes", organiser, json=notes())).status_code == 200

    async def report() -> dict[str, Any] | None:
        found = await console.api("GET", f"{base}/report", organiser)
        return found.json() if found.status_code == 200 else None

    draft = await wait_until(report, what="reporting's draft")
    assert draft["status"] == "draft"
    # What the anonymiser replaced is for those who write the notes, not for a viewer.
    viewer = await console.token("vera@zwolle.nl", "viewer")
    shown = (await console.api("GET", f"{base}/report", viewer)).json()
    changed = [s for item in draft["lessons"] for s in item["segments"] if s["changed"]]
    assert changed and all("original" in s for s in changed)
    assert not [s for item in shown["lessons"] for s in item["segments"] if "original" in s]
    assert [s["text"] for item in shown["lessons"] for s in item["segments"]] == [
        s["text"] for item in draft["lessons"] for s in item["segments"]
    ]
    # A word removed by mistake is marked through the API too; a viewer may not, nor may a number be marked.
    marked = await console.api("POST", f"{base}/report/false-positives", organiser, json={"phrase": "Bakker"})
    assert marked.status_code == 200, marked.text
    assert await status_of(console, viewer, f"{base}/report/false-positives", {"phrase": "Visser"}) == 403
    number = await console.api("POST", f"{base}/report/false-positives", organiser, json={"phrase": "06-1234"})
    assert number.status_code == 422 and number.json()["errors"][0]["code"] == "not_a_word"
    assert (await wait_until(report, what="the list in the preview"))["false_positives"] == ["bakker"]
    revised = notes() | {"lessons": ["Een nieuwe les."]}
    assert (await console.api("POST", f"{base}/notes", organiser, json=revised)).status_code == 200
    assert await wait_until(lambda: _lessons_are(report, ["Een nieuwe les."]), what="the revised draft")

    assert (await console.api("POST", f"{base}/report/retract", organiser)).status_code == 409  # not public yet
    async with repositories(console.db) as repos:
        assert await repos.notes.get("2029-najaar", 1) is not None  # revisable: the console keeps the draft
    published = await console.api("POST", f"{base}/report/publish", organiser)
    assert published.status_code == 200, published.text
    async with repositories(console.db) as repos:
        # No longer revisable: the notes, which may name people, stay only in reporting's anonymised copy.
        assert await repos.notes.get("2029-najaar", 1) is None
    again = await console.api("POST", f"{base}/report/publish", organiser)
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "already_published"
    assert (await console.api("POST", f"{base}/notes", organiser, json=notes())).status_code == 409
    assert (await console.api("POST", f"{base}/report/retract", organiser)).status_code == 200
    assert (await report() or {})["status"] == "retracted"

    actions = [e["action"] for e in await audit(console, organiser) if e["subject"] == "session:2029-najaar/1"]
    assert {"CompleteSession", "ReviseReport", "PublishReport", "RetractReport", "notes.draft_saved"} <= set(actions)


async def status_of(console: Console, token: str, path: str, body: dict[str, Any]) -> int:
    return (await console.api("POST", path, token, json=body)).status_code


async def _lessons_are(report: Any, lessons: list[str]) -> bool:
    found = await report()
    return found is not None and [item["text"] for item in found["lessons"]] == lessons


async def test_reschedule_through_the_api_and_an_answer_still_on_its_way_is_202(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    await held_edition_with_trios(console, organiser, "2030-najaar", count=1)
    base = "/console/api/editions/2030-najaar/sessions/2"
    starts = datetime.now(UTC) + timedelta(days=40)
    times = {"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=4)).isoformat()}

    moved = await console.api("POST", f"{base}/reschedule", organiser, json=times)
    assert moved.status_code == 200, moved.text
    shown = (await console.api("GET", base, organiser)).json()
    assert datetime.fromisoformat(shown["starts_at"]) == starts.replace(microsecond=starts.microsecond)
    backwards = {"starts_at": times["ends_at"], "ends_at": times["starts_at"]}
    refused = await console.api("POST", f"{base}/reschedule", organiser, json=backwards)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "ends_at"

    gateway = console.gateway
    assert gateway is not None
    gateway.wait_seconds = 0
    try:
        later = {"starts_at": (starts + timedelta(hours=1)).isoformat(), "ends_at": times["ends_at"]}
        pending = await console.api("POST", f"{base}/reschedule", organiser, json=later)
    finally:
        gateway.wait_seconds = 10.0
    assert pending.status_code == 202
    assert pending.json()["status"] == "pending"
    outcomes = [e["outcome"] for e in await audit(console, organiser) if e["action"] == "RescheduleSession"]
    assert outcomes == ["pending", "rejected", "accepted"]


async def test_the_sessions_operations_are_in_the_openapi_document(console: Console) -> None:
    document = (await console.http.get("/console/api/openapi.json")).json()
    validate(document)
    session = "/api/editions/{slug}/sessions/{number}"
    assert {session, *(f"{session}/{op}" for op in ("attendance", "notes", "reschedule", "report"))} <= set(
        document["paths"]
    )
    assert {f"{session}/report/publish", f"{session}/report/retract", f"{session}/report/false-positives"} <= set(
        document["paths"]
    )
    notes_body = document["paths"][f"{session}/notes"]["post"]["requestBody"]["content"]["application/json"]
    assert notes_body["schema"] == {"$ref": "#/components/schemas/SessionNotesGiven"}


# Check-in at the door


async def test_check_in_taps_count_once_however_often_they_are_sent_and_are_recorded_into_scheduling(
    console: Console,
) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    first, second = await held_edition_with_trios(console, organiser, "2031-voorjaar")
    path = "/console/editions/2031-voorjaar/sessions/1"
    async with console.browser("fenna@platform31.nl", "facilitator", ["2031-voorjaar"]) as phone:
        page = await phone.get(f"{path}/checkin")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "connect-src 'self'" in policy
        assert page.text.count('class="trio"') == 2
        assert "Anna de Vries" in page.text and "Veenendaal" in page.text
        script = await phone.get("/console/static/checkin.js")
        assert script.status_code == 200 and "localStorage" in script.text
        csrf = re.search(r'data-csrf="([^"]+)"', page.text)
        assert csrf is not None

        earlier = datetime.now(UTC) - timedelta(minutes=5)
        queue = [tap(first, True), tap(second, True)]
        answered = await send_taps(phone, path, csrf.group(1), queue)
        assert answered.status_code == 200, answered.text
        assert answered.json()["applied"] == [t["tap"] for t in queue]
        # The phone did not hear the answer and sends its queue again, with a tap made offline before them.
        late = tap(first, False, at=earlier)
        again = await send_taps(phone, path, csrf.group(1), [*queue, late])
        assert again.json()["applied"] == [late["tap"]]
        assert again.json()["received"] == [t["tap"] for t in [*queue, late]]
        assert again.json()["marks"] == {first: True, second: True}  # the later taps still win

        # Without JavaScript: the trio's own form, sent twice (the same tap id), and back to the page.
        shown = await phone.get(f"{path}/checkin")
        form = _trio_form(shown.text, second)
        sent = await phone.post(f"{path}/checkin/taps", data=form)
        assert sent.status_code == 303
        assert sent.headers["location"] == f"{path}/checkin#trio-{second}"
        assert (await phone.post(f"{path}/checkin/taps", data=form)).status_code == 303
        shown = await phone.get(f"{path}/checkin")
        assert shown.text.count('aria-pressed="true"') == 1

        recorded = await phone.post(f"{path}/checkin/record", data={"csrf": hidden(shown.text, "csrf")})
        assert recorded.status_code == 303
        assert recorded.headers["location"] == f"{path}/checkin?gedaan=vastgelegd"

        refused = await phone.post(
            f"{path}/checkin/taps", json={"taps": [tap(first, True)]}, headers={"X-CSRF-Token": "x"}
        )
        assert refused.status_code == 403

    scheduling = await console.http.get("/api/editions/2031-voorjaar/sessions/1", headers=MACHINE)
    assert scheduling.json()["present"] == [first]
    actions = [e["action"] for e in await audit(console, organiser) if e["subject"] == "session:2031-voorjaar/1"]
    assert actions.count("checkin.present") == 2
    assert actions.count("checkin.absent") == 2  # the late tap and the form's, each once
    assert actions.count("RecordAttendance") == 1


def _trio_form(page: str, registration_id: str) -> dict[str, str]:
    start = page.index(f'id="trio-{registration_id}"')
    piece = page[start : page.index("</form>", start)]
    return {name: hidden(piece, name) for name in ("csrf", "tap", "registration_id", "present")}


async def test_a_facilitator_of_another_edition_and_a_viewer_cannot_use_the_check_in(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    await held_edition_with_trios(console, organiser, "2031-najaar", count=1)
    path = "/console/editions/2031-najaar/sessions/1/checkin"
    async with console.browser("frits@platform31.nl", "facilitator", ["2032-voorjaar"]) as other:
        assert (await other.get(path)).status_code == 403
    async with console.browser("vera@zwolle.nl", "viewer") as viewer:
        assert (await viewer.get(path)).status_code == 403
        assert (await viewer.get("/console/editions/2031-najaar/sessions/1/seating")).status_code == 200


# Notes, preview, publication


async def test_notes_go_from_the_form_to_a_highlighted_preview_and_once_published_to_the_public_reports(
    console: Console,
) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    await held_edition_with_trios(console, organiser, "2032-najaar", count=1)
    path = "/console/editions/2032-najaar/sessions/1"
    async with console.browser("olga@platform31.nl", "organiser") as browser:
        form_page = await browser.get(f"{path}/notes")
        assert form_page.status_code == 200
        csrf = hidden(form_page.text, "csrf")
        fields = {
            "csrf": csrf,
            "lessons": (
                "Anna de Vries liet zien hoe je de wijk erbij haalt.\nBel 06-12345678 voor meer.\n"
                "Bij bakkerij De Bakker werd het plein groen; Chris Bakker hielp."
            ),
            "instrument_1_name": "Krachtenveldanalyse",
            "instrument_1_description": "Wie heeft invloed op de opgave?",
            "quotes": "Samen de wijk in, dat werkt.",
            "next_steps": "Een lokale agenda opstellen.",
        }
        half = await browser.post(f"{path}/notes", data={**fields, "instrument_2_description": "zonder naam"})
        assert half.status_code == 422
        assert 'id="instrument_2_name-error"' in half.text
        saved = await browser.post(f"{path}/notes", data={**fields, "action": "save"})
        assert saved.status_code == 303
        assert "Krachtenveldanalyse" in (await browser.get(f"{path}/notes")).text  # the draft comes back

        finished = await browser.post(f"{path}/notes", data={**fields, "action": "finish"})
        assert finished.status_code == 303
        assert finished.headers["location"] == f"{path}/report?gedaan=afgerond"

        async def preview() -> str | None:
            shown = await browser.get(f"{path}/report")
            return shown.text if "<mark title=" in shown.text else None

        text = await wait_until(preview, what="the preview with its highlights")
        article = text[text.index('<article class="preview"') : text.index("</article>")]
        assert "Anna de Vries" not in article and "06-12345678" not in article and "De Bakker" not in article
        assert '<mark title="naam van een deelnemer of goedkeurder van deze editie">' in article
        assert '<mark title="telefoonnummer">' in article
        # Every change is listed with what was there and by which rule; a word that is no name can be marked.
        assert re.search(r"<td>Anna de Vries</td>\s*<td>\[verwijderd\]</td>\s*<td>naam van een deelnemer", text)
        assert re.search(r"<td>Bakker</td>\s*<td>\[verwijderd\]</td>\s*<td>naam van een deelnemer", text)
        marked = await browser.post(
            f"{path}/report/false-positive", data={"csrf": hidden(text, "csrf"), "phrase": "Bakker"}
        )
        assert marked.status_code == 303
        assert marked.headers["location"] == f"{path}/report?gedaan=gemarkeerd"

        async def kept() -> str | None:
            shown = (await browser.get(f"{path}/report")).text
            return shown if "<li>Bij bakkerij De Bakker werd het plein groen; <mark" in shown else None

        text = await wait_until(kept, what="the preview keeping the false positive")
        assert "Geen naam in deze editie" in text and "<li>bakker" in text
        assert "Anna de Vries" not in text[text.index('<article class="preview"') : text.index("</article>")]
        assert "Concept: nog niet openbaar" in text
        title = re.search(r'<h2 id="verslag-titel">([^<]+)</h2>', text)
        assert title is not None
        assert title.group(1) not in (await console.http.get("/reports")).text

        published = await browser.post(f"{path}/report/publish", data={"csrf": hidden(text, "csrf")})
        assert published.status_code == 303
        assert published.headers["location"] == f"{path}/report?gedaan=gepubliceerd"
        shown = await browser.get(published.headers["location"])
        assert "Gepubliceerd" in shown.text and "Het verslag is gepubliceerd." in shown.text

    async def public() -> bool:
        return title.group(1) in (await console.http.get("/reports")).text

    await wait_until(public, what="the published report on /reports")
    actions = [e["action"] for e in await audit(console, organiser) if e["subject"] == "session:2032-najaar/1"]
    assert {"notes.draft_saved", "CompleteSession", "MarkFalsePositive", "PublishReport"} <= set(actions)


async def test_the_sessions_pages_list_the_sessions_and_reschedule_with_the_reasons_next_to_the_fields(
    console: Console,
) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    await held_edition_with_trios(console, organiser, "2033-voorjaar", count=2)
    async with console.browser("olga@platform31.nl", "organiser") as browser:
        listing = await browser.get("/console/editions/2033-voorjaar/sessions")
        assert listing.status_code == 200
        assert listing.text.count('href="/console/editions/2033-voorjaar/sessions/') == 3
        session = await browser.get("/console/editions/2033-voorjaar/sessions/2")
        assert "Bijeenkomst verzetten" in session.text
        csrf = hidden(session.text, "csrf")
        backwards = {"csrf": csrf, "starts_at": "2040-03-01T13:00", "ends_at": "2040-03-01T12:00"}
        refused = await browser.post("/console/editions/2033-voorjaar/sessions/2/reschedule", data=backwards)
        assert refused.status_code == 422
        assert 'id="ends_at-error"' in refused.text and 'aria-describedby="ends_at-error"' in refused.text
        moved = await browser.post(
            "/console/editions/2033-voorjaar/sessions/2/reschedule", data={**backwards, "ends_at": "2040-03-01T17:00"}
        )
        assert moved.status_code == 303
        shown = await browser.get(moved.headers["location"])
        assert "1 maart 2040, 13:00 tot 17:00 uur" in shown.text
        assert "De bijeenkomst is verzet." in shown.text

        seating = await browser.get("/console/editions/2033-voorjaar/sessions/2/seating")
        assert seating.status_code == 200
        assert "Tafel 1" in seating.text and "Veenendaal" in seating.text
        assert "/console/static/sessions.css" in seating.text
        assert "@media print" in (await browser.get("/console/static/sessions.css")).text
        assert "script-src" not in seating.headers["content-security-policy"]
