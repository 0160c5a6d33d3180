"""The system as a front end sees it: four service processes, RabbitMQ, PostgreSQL and an SMTP server."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.e2e.conftest import ORGANIZER_TOKEN
from tests.factories import held_edition, notes, open_edition, trio
from tests.support import Bus, wait_until

pytestmark = pytest.mark.e2e

ORGANISER = {"Authorization": f"Bearer {ORGANIZER_TOKEN}"}


async def schedule(bus: Bus, body: dict) -> dict:
    command_id = await bus.send("scheduling.ScheduleEdition", body)
    (event,) = await bus.wait_for("EditionScheduled", correlation_id=command_id)
    return event


async def register(bus: Bus, body: dict, **send: object) -> tuple[str, dict]:
    """Send RegisterTrio; retried only while registration has not yet received the edition it just heard of."""
    for _ in range(100):
        command_id = await bus.send("registration.RegisterTrio", body, **send)
        outcome = await wait_until(
            lambda: (
                bus.of("TrioRegistered", correlation_id=command_id)
                or bus.of("CommandRejected", correlation_id=command_id)
            ),
            what="outcome of RegisterTrio",
        )
        event = outcome[0]
        if event["type"] == "TrioRegistered":
            return command_id, event
        codes = [e["code"] for e in event["data"]["errors"]]
        assert codes == ["unknown_edition"], codes
        await asyncio.sleep(0.1)
    raise AssertionError("registration never learnt of the edition")


async def test_registered_trio_is_announced_with_correlation_and_each_member_gets_a_dutch_acknowledgement(
    system, bus
) -> None:
    edition = await schedule(bus, open_edition())
    body = trio(edition["data"]["edition"])
    command_id, event = await register(bus, body)

    assert event["correlation_id"] == command_id and event["causation_id"] == command_id
    assert event["producer"] == "registration"
    data = event["data"]
    assert data["municipality"]["name"] == "Veenendaal" and data["municipality"]["size_class"] == "middelgroot"
    assert data["fee"]["waived"] is True
    smtp = system.smtp
    for member in body["members"]:
        mails = await wait_until(lambda m=member: smtp.to(m["email"]), what="mail to member")
        assert len(mails) == 1
        text = mails[0].get_body(("plain",)).get_content()
        assert body["case"]["title"] in text
    anna = smtp.to(body["members"][0]["email"])[0]
    assert "Werkplaatsen wijkgericht werken" in anna.get_body(("plain",)).get_content()


async def acked(process, routing_key: str) -> float:
    """How many messages of this routing key the service has finished, from its Prometheus metrics."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{process.url}/metrics")).text
    total = 0.0
    for line in text.splitlines():
        if (
            line.startswith("werkplaatsen_messages_total{")
            and f'routing_key="{routing_key}"' in line
            and 'outcome="ack"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_command_sent_twice_with_the_same_message_id_takes_effect_once(system, bus) -> None:
    edition = await schedule(bus, open_edition())
    body = trio(edition["data"]["edition"])
    command_id, _ = await register(bus, body)
    before = await acked(system["registration"], "registration.RegisterTrio")
    await bus.send("registration.RegisterTrio", body, message_id=command_id)
    await bus.send("registration.RegisterTrio", body, message_id=command_id)
    await wait_until(lambda: _more(system["registration"], before, 2), what="duplicates consumed")

    assert len(bus.of("TrioRegistered", correlation_id=command_id)) == 1
    for member in body["members"]:
        await wait_until(lambda m=member: system.smtp.to(m["email"]), what="acknowledgement")
    await wait_until(lambda: _more(system["notifications"], 0, 1, "registration.TrioRegistered"))
    assert [len(system.smtp.to(m["email"])) for m in body["members"]] == [1, 1, 1]


async def _more(process, before: float, by: int, routing_key: str = "registration.RegisterTrio") -> bool:
    return await acked(process, routing_key) >= before + by


async def test_malformed_command_is_rejected_with_a_reason_and_the_service_keeps_serving(system, bus) -> None:
    bad_json = await bus.send("registration.RegisterTrio", b"{this is not json")
    (rejected,) = await bus.wait_for("CommandRejected", correlation_id=bad_json)
    assert rejected["data"]["errors"][0]["code"] == "invalid_json"
    assert rejected["data"]["command_type"] == "RegisterTrio"

    wrong_shape = await bus.send("registration.RegisterTrio", {"edition": "x", "members": "three"})
    (rejected,) = await bus.wait_for("CommandRejected", correlation_id=wrong_shape)
    fields = {e["field"] for e in rejected["data"]["errors"] if e["code"] == "schema"}
    assert {"members", "municipality", "case"} <= fields

    edition = await schedule(bus, open_edition())
    await register(bus, trio(edition["data"]["edition"]))


async def test_a_completed_session_is_public_only_once_an_organiser_has_read_and_published_it(system, bus) -> None:
    edition = (await schedule(bus, held_edition()))["data"]["edition"]
    command_id = await bus.send(
        "scheduling.CompleteSession", {"edition": edition, "session_number": 1, "notes": notes()}
    )
    await bus.wait_for("SessionCompleted", correlation_id=command_id)
    async with httpx.AsyncClient(base_url=system["reporting"].url) as client:

        async def draft() -> dict | None:
            response = await client.get(f"/api/reports/{edition}/1", headers=ORGANISER)
            return response.json() if response.status_code == 200 else None

        preview = await wait_until(draft, what="the draft summary in reporting")
        assert preview["status"] == "draft"
        changed = [s for item in preview["lessons"] for s in item["segments"] if s["changed"]]
        assert [(s["text"], s["kind"], s["rule"]) for s in changed] == [("[verwijderd]", "phone", "phone")]
        assert (await client.get(f"/reports/{edition}/1")).status_code == 404
        assert f"/reports/{edition}/1" not in (await client.get("/reports")).text
        assert bus.of("LessonReportPublished", edition=edition) == []

        publish_id = await bus.send("reporting.PublishReport", {"edition": edition, "session_number": 1})
        (published,) = await bus.wait_for("LessonReportPublished", correlation_id=publish_id)
        assert published["data"]["url"] == f"{system['reporting'].url}/reports/{edition}/1"
        page = await client.get(f"/reports/{edition}/1")
    assert page.status_code == 200
    assert "Maak de stip op de horizon samen met de wijk." in page.text
    assert "Krachtenveldanalyse" in page.text
    assert "06-12345678" not in page.text


async def test_an_edition_that_publishes_at_once_puts_the_lesson_page_online_as_the_session_is_completed(
    system, bus
) -> None:
    edition = (await schedule(bus, held_edition(publish_reports_at_once=True)))["data"]["edition"]
    command_id = await bus.send(
        "scheduling.CompleteSession", {"edition": edition, "session_number": 1, "notes": notes()}
    )
    (completed,) = await bus.wait_for("SessionCompleted", correlation_id=command_id)
    (published,) = await bus.wait_for("LessonReportPublished", correlation_id=command_id)
    assert completed["data"]["title"] == published["data"]["title"]
    async with httpx.AsyncClient() as client:
        page = await client.get(published["data"]["url"])
    assert page.status_code == 200 and "Krachtenveldanalyse" in page.text


async def test_front_end_reads_open_editions_with_places_left(system, bus) -> None:
    slug = (await schedule(bus, open_edition()))["data"]["edition"]
    async with httpx.AsyncClient() as client:
        editions = (await client.get(f"{system['scheduling'].url}/api/editions")).json()["editions"]
    (mine,) = [e for e in editions if e["slug"] == slug]
    assert mine["registration_open"] is True and mine["places_left"] == 8
    assert mine["sessions"][0]["title"].startswith("Positionering")
    assert mine["venue"]["city"] == "Utrecht"


async def test_web_form_endpoint_accepts_a_trio_and_explains_errors_in_dutch(system, bus) -> None:
    slug = (await schedule(bus, open_edition()))["data"]["edition"]
    await register(bus, trio(slug))  # registration now knows the edition
    url = f"{system['registration'].url}/api/registrations"
    async with httpx.AsyncClient() as client:
        key, body = str(uuid.uuid4()), trio(slug)  # a client repeating its request sends the same body
        accepted = await client.post(url, json=body, headers={"Idempotency-Key": key})
        again = await client.post(url, json=body, headers={"Idempotency-Key": key})
        refused = await client.post(url, json=trio(slug, consent={"privacy": False}))
    assert accepted.status_code == 202 and again.status_code == 202
    assert again.json()["registration_id"] == accepted.json()["registration_id"]
    assert refused.status_code == 422
    (error,) = refused.json()["errors"]
    assert error["code"] == "privacy_consent_required" and error["field"] == "consent.privacy"
    await bus.wait_for("TrioRegistered", registration_id=accepted.json()["registration_id"])


async def test_service_killed_mid_stream_loses_nothing_and_sends_no_duplicate_mail(system, bus) -> None:
    slug = (await schedule(bus, open_edition()))["data"]["edition"]
    await register(bus, trio(slug))
    bodies = [trio(slug) for _ in range(30)]
    ids = [str(uuid.uuid4()) for _ in bodies]
    for index, (body, command_id) in enumerate(zip(bodies, ids, strict=True)):
        await bus.send("registration.RegisterTrio", body, message_id=command_id)
        if index == 10:
            system["registration"].kill()
    system["registration"].start()
    await system["registration"].wait_ready()

    for command_id in ids:
        await bus.wait_for("TrioRegistered", correlation_id=command_id, timeout=60)
    for body in bodies:
        for member in body["members"]:
            await wait_until(lambda m=member: system.smtp.to(m["email"]), timeout=60, what="acknowledgement")
    # Let anything that could still be duplicated arrive before counting: one more full round trip.
    await register(bus, trio(slug))
    for command_id in ids:
        # A relay that died after the confirm may publish an event twice, always with the same event_id.
        assert len({e["event_id"] for e in bus.of("TrioRegistered", correlation_id=command_id)}) == 1
    for body in bodies:
        for member in body["members"]:
            assert len(system.smtp.to(member["email"])) == 1


async def test_organiser_endpoints_answer_401_without_the_organiser_token(system, bus) -> None:
    from tests.e2e.conftest import ORGANIZER_TOKEN

    slug = (await schedule(bus, open_edition()))["data"]["edition"]
    _, event = await register(bus, trio(slug))
    url = f"{system['registration'].url}/api/registrations"
    async with httpx.AsyncClient() as client:
        refused = await client.get(url, params={"edition": slug})
        allowed = await client.get(
            url, params={"edition": slug}, headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}
        )
    assert refused.status_code == 401
    assert [r["registration_id"] for r in allowed.json()["registrations"]] == [event["data"]["registration_id"]]


async def test_command_with_reply_to_gets_its_outcome_on_that_queue(system, bus) -> None:
    import json

    slug = (await schedule(bus, open_edition()))["data"]["edition"]
    await register(bus, trio(slug))
    replies = await bus.channel.declare_queue(exclusive=True)
    accepted_id = await bus.send("registration.RegisterTrio", trio(slug), reply_to=replies.name)
    rejected_id = await bus.send("registration.RegisterTrio", trio(slug, municipality="GM9999"), reply_to=replies.name)
    received: dict[str, dict] = {}

    async def collect(message) -> None:
        async with message.process():
            body = json.loads(message.body)
            received[body["command_id"]] = body

    await replies.consume(collect)
    await wait_until(lambda: len(received) == 2, what="two replies")
    registered = await bus.wait_for("TrioRegistered", correlation_id=accepted_id)
    assert received[accepted_id]["status"] == "accepted"
    assert received[accepted_id]["ids"]["registration_id"] == registered[0]["data"]["registration_id"]
    assert received[rejected_id]["status"] == "rejected"
    assert [e["code"] for e in received[rejected_id]["errors"]] == ["unknown_municipality"]
