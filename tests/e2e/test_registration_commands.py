"""Registration's commands after intake, as a front end and an organiser use them: through RabbitMQ and HTTP,
against the four service processes."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aio_pika
import httpx
import pytest

from tests.e2e.conftest import ORGANIZER_TOKEN
from tests.factories import ORGANISER as ACTOR
from tests.factories import open_edition, trio
from tests.support import Bus, wait_until

pytestmark = pytest.mark.e2e

ORGANISER = {"Authorization": f"Bearer {ORGANIZER_TOKEN}"}


async def schedule(bus: Bus) -> str:
    command_id = await bus.send("scheduling.ScheduleEdition", open_edition())
    (event,) = await bus.wait_for("EditionScheduled", correlation_id=command_id)
    return event["data"]["edition"]


async def outcome(bus: Bus, command_id: str, accepted: str) -> dict[str, Any]:
    """The event `accepted` or the CommandRejected that the command caused."""
    found = await wait_until(
        lambda: bus.of(accepted, correlation_id=command_id) or bus.of("CommandRejected", correlation_id=command_id),
        what=f"outcome of {command_id}",
    )
    return found[0]


def codes(event: dict[str, Any]) -> list[tuple[str, str]]:
    assert event["type"] == "CommandRejected", event
    return [(e["field"], e["code"]) for e in event["data"]["errors"]]


async def register(bus: Bus, slug: str, body: dict[str, Any] | None = None) -> tuple[str, str]:
    """A registered trio: its registration_id and the token of its approval link."""
    for _ in range(100):
        command_id = await bus.send("registration.RegisterTrio", body or trio(slug))
        event = await outcome(bus, command_id, "TrioRegistered")
        if event["type"] == "TrioRegistered":
            (asked,) = await bus.wait_for("ApprovalRequested", correlation_id=command_id)
            return event["data"]["registration_id"], asked["data"]["approve_url"].rsplit("/", 1)[1]
        assert codes(event) == [("edition", "unknown_edition")]  # registration has not heard of it yet
        await asyncio.sleep(0.1)
    raise AssertionError("registration never learnt of the edition")


@pytest.fixture
async def edition(system, bus) -> str:
    """An open edition that registration knows of (a first trio got through)."""
    slug = await schedule(bus)
    await register(bus, slug)
    return slug


async def command(bus: Bus, routing_key: str, body: dict[str, Any], accepted: str) -> dict[str, Any]:
    return await outcome(bus, await bus.send(routing_key, body), accepted)


# Intake rules


async def test_intake_refusals_name_trio_size_incomplete_case_and_invalid_email(bus: Bus, edition: str) -> None:
    body = trio(edition)
    two = await command(bus, "registration.RegisterTrio", {**body, "members": body["members"][:2]}, "TrioRegistered")
    assert codes(two) == [("members", "trio_size")]
    blank = await command(
        bus,
        "registration.RegisterTrio",
        {**body, "case": {**body["case"], "neighbourhood": "  ", "summary": ""}},
        "TrioRegistered",
    )
    assert codes(blank) == [("case.neighbourhood", "case_incomplete"), ("case.summary", "case_incomplete")]
    members = [{**body["members"][0], "email": "anna-at-veenendaal"}, *body["members"][1:]]
    bad_mail = await command(bus, "registration.RegisterTrio", {**body, "members": members}, "TrioRegistered")
    assert codes(bad_mail) == [("members[0].email", "invalid_email")]


# Approval


async def test_approver_approves_with_the_link_and_a_second_use_changes_nothing(bus: Bus, edition: str) -> None:
    rid, token = await register(bus, edition)
    approved = await command(
        bus, "registration.ApproveRegistration", {"registration_id": rid, "token": token}, "RegistrationApproved"
    )
    assert approved["data"]["registration_id"] == rid and approved["data"]["by_organizer"] is False
    again = await command(
        bus, "registration.DeclineRegistration", {"registration_id": rid, "token": token}, "RegistrationDeclined"
    )
    assert codes(again) == [("registration_id", "already_decided")]
    assert bus.of("RegistrationDeclined", registration_id=rid) == []


async def test_tampered_foreign_and_missing_tokens_decide_nothing(bus: Bus, edition: str) -> None:
    rid, token = await register(bus, edition)
    other, other_token = await register(bus, edition)
    tampered = token[:-3] + ("xyz" if not token.endswith("xyz") else "abc")
    for body, expected in [
        ({"registration_id": rid, "token": tampered}, ("token", "invalid_token")),
        ({"registration_id": rid, "token": other_token}, ("token", "invalid_token")),
        ({"registration_id": rid}, ("token", "token_required")),
        (
            {"registration_id": str(uuid.uuid4()), "by_organizer": True, "actor": ACTOR},
            ("registration_id", "unknown_registration"),
        ),
        ({"registration_id": rid, "by_organizer": True}, ("actor", "actor_required")),
    ]:
        refused = await command(bus, "registration.ApproveRegistration", body, "RegistrationApproved")
        assert codes(refused) == [expected]
    declined = await command(
        bus,
        "registration.DeclineRegistration",
        {"registration_id": other, "token": other_token, "reason": "Geen tijd."},
        "RegistrationDeclined",
    )
    assert declined["data"]["reason"] == "Geen tijd."
    assert bus.of("RegistrationApproved", registration_id=rid) == []


async def test_organiser_decides_and_requests_a_new_link_over_http(system, bus: Bus, edition: str) -> None:
    approve, _ = await register(bus, edition)
    decline, _ = await register(bus, edition)
    base = f"{system['registration'].url}/api/registrations"
    async with httpx.AsyncClient(headers=ORGANISER) as client:
        again = await client.post(f"{base}/{approve}/approval-request", headers={"X-Correlation-ID": "letter-1"})
        assert again.status_code == 200
        (asked,) = await bus.wait_for("ApprovalRequested", correlation_id="letter-1")
        assert asked["data"]["approve_url"] == again.json()["approve_url"]
        assert (await client.post(f"{base}/{approve}/approve")).status_code == 200
        declined = await client.post(f"{base}/{decline}/decline", json={"reason": "Per brief afgezegd."})
        assert declined.status_code == 200
        late = await client.post(f"{base}/{approve}/approval-request")
        assert late.status_code == 409 and late.json()["errors"][0]["code"] == "already_decided"
        anonymous = await client.post(f"{base}/{decline}/approve", headers={"Authorization": ""})
        assert anonymous.status_code == 401
    (approved,) = await bus.wait_for("RegistrationApproved", registration_id=approve)
    (refused,) = await bus.wait_for("RegistrationDeclined", registration_id=decline)
    assert approved["data"]["by_organizer"] is refused["data"]["by_organizer"] is True
    assert refused["data"]["reason"] == "Per brief afgezegd."


# Cancellation and status


async def overview(system, edition: str) -> dict[str, dict[str, Any]]:
    async with httpx.AsyncClient(headers=ORGANISER) as client:
        response = await client.get(f"{system['registration'].url}/api/registrations", params={"edition": edition})
    return {r["registration_id"]: r for r in response.json()["registrations"]}


async def test_cancelling_twice_is_refused(bus: Bus, edition: str) -> None:
    rid, _ = await register(bus, edition)
    cancelled = await command(
        bus, "registration.CancelRegistration", {"registration_id": rid, "reason": "Ziek"}, "RegistrationCancelled"
    )
    assert cancelled["data"] == {"registration_id": rid, "edition": edition, "reason": "Ziek"}
    twice = await command(bus, "registration.CancelRegistration", {"registration_id": rid}, "RegistrationCancelled")
    assert codes(twice) == [("registration_id", "already_cancelled")]


async def publish_scheduling_event(bus: Bus, name: str, data: dict[str, Any], occurred_at: str) -> None:
    """What scheduling would publish; the deadline is weeks away, so the real one places nobody yet."""
    events = await bus.channel.declare_exchange("werkplaatsen.events", "topic", durable=True)
    event_id = str(uuid.uuid4())
    envelope = {
        "event_id": event_id,
        "type": name,
        "version": 1,
        "occurred_at": occurred_at,
        "producer": "scheduling",
        "correlation_id": event_id,
        "causation_id": event_id,
        "data": data,
    }
    await events.publish(
        aio_pika.Message(
            json.dumps(envelope).encode(), message_id=event_id, type=name, content_type="application/json"
        ),
        routing_key=f"scheduling.{name}",
    )


async def test_status_follows_places_and_waitlist_and_a_late_placement_does_not_revive_a_cancelled_trio(
    system, bus: Bus, edition: str
) -> None:
    waiting, _ = await register(bus, edition)
    leaving, _ = await register(bus, edition)
    for rid in (waiting, leaving):
        await command(
            bus,
            "registration.ApproveRegistration",
            {"registration_id": rid, "by_organizer": True, "actor": ACTOR},
            "RegistrationApproved",
        )
    await publish_scheduling_event(
        bus,
        "TrioWaitlisted",
        {"registration_id": waiting, "edition": edition, "position": 2},
        "2030-01-01T10:00:00+00:00",
    )
    await publish_scheduling_event(
        bus,
        "TrioWaitlisted",
        {"registration_id": waiting, "edition": edition, "position": 3},
        "2030-01-01T09:00:00+00:00",
    )  # stale
    await command(bus, "registration.CancelRegistration", {"registration_id": leaving}, "RegistrationCancelled")
    await publish_scheduling_event(
        bus,
        "TrioPlaced",
        {"registration_id": leaving, "edition": edition, "via": "allocation"},
        "2030-01-01T10:00:00+00:00",
    )

    async def settled() -> dict[str, dict[str, Any]] | None:
        found = await overview(system, edition)
        return found if (found[waiting]["status"], found[waiting]["waitlist_position"]) == ("waitlisted", 2) else None

    await wait_until(settled, what="waitlist position 2")
    await publish_scheduling_event(
        bus,
        "TrioPlaced",
        {"registration_id": waiting, "edition": edition, "via": "waitlist"},
        "2030-01-01T11:00:00+00:00",
    )
    await wait_until(lambda: _status(system, edition, waiting, "placed"), what="placed")
    assert (await overview(system, edition))[leaving]["status"] == "cancelled"


async def _status(system, edition: str, rid: str, status: str) -> bool:
    return (await overview(system, edition))[rid]["status"] == status


# Privacy


async def test_erasure_anonymises_the_trio_and_is_announced_once(system, bus: Bus, edition: str) -> None:
    body = trio(edition)
    rid, _ = await register(bus, edition, body)
    replies = await bus.channel.declare_queue(exclusive=True)
    received: list[dict[str, Any]] = []

    async def collect(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            received.append(json.loads(message.body))

    await replies.consume(collect)
    await bus.send("registration.EraseParticipantData", {"registration_id": rid}, reply_to=replies.name)
    await bus.wait_for("ParticipantDataErased", registration_id=rid)
    await bus.send("registration.EraseParticipantData", {"registration_id": rid}, reply_to=replies.name)
    await wait_until(lambda: len(received) == 2, what="both replies")
    assert [r["status"] for r in received] == ["accepted", "accepted"]
    assert len(bus.of("ParticipantDataErased", registration_id=rid)) == 1
    found = (await overview(system, edition))[rid]
    assert found["erased"] is True and found["municipality"]["size_class"] == "middelgroot"
    listed = json.dumps(found)
    assert not any(m["email"] in listed or m["name"] in listed for m in body["members"])
    assert body["approver"]["email"] not in listed and body["case"]["title"] not in listed


# An organiser replaces a member


def calendar_of(message: Any) -> str | None:
    part = next((p for p in message.walk() if p.get_content_type() == "text/calendar"), None)
    return part.get_content() if part is not None else None


async def test_a_replaced_members_successor_gets_the_welcome_and_the_invitation_by_mail_and_the_history_shows_it(
    system, bus: Bus, edition: str
) -> None:
    body = trio(edition)
    rid, _ = await register(bus, edition, body)
    await command(
        bus,
        "registration.ApproveRegistration",
        {"registration_id": rid, "by_organizer": True, "actor": ACTOR, "reason": "Akkoord per mail."},
        "RegistrationApproved",
    )
    await bus.send("scheduling.CloseRegistration", {"edition": edition, "actor": ACTOR})
    await bus.wait_for("TrioPlaced", registration_id=rid, timeout=60)
    leaving = body["members"][1]["email"]

    def subjects() -> list[str]:
        return sorted(str(m["Subject"]).split(":")[0] for m in system.smtp.to(leaving))

    expected = ["Aanmelding ontvangen", "Deelname goedgekeurd", "Plaats bevestigd"]
    await wait_until(lambda: subjects() == sorted(expected), timeout=60, what="the mails of the member who leaves")

    noor = {
        "name": "Noor El Amrani",
        "email": f"noor.{rid[:8]}@veenendaal.example",
        "role": "sectorambtenaar",
        "domain": "fysiek",
        "language": "nl",
    }
    without_actor = {"registration_id": rid, "member_index": 1, "member": noor, "reason": "Van functie gewisseld."}
    sent = await bus.send("registration.ReplaceMember", json.dumps(without_actor).encode())  # bytes: as it is
    refused = await outcome(bus, sent, "MemberReplaced")
    assert codes(refused) == [("actor", "actor_required")]
    replaced = await command(
        bus,
        "registration.ReplaceMember",
        {"registration_id": rid, "member_index": 1, "member": noor, "reason": "Van functie gewisseld.", "actor": ACTOR},
        "MemberReplaced",
    )
    assert replaced["type"] == "MemberReplaced" and replaced["data"]["position"] == 1
    assert replaced["data"]["member"]["email"] == noor["email"]

    (welcome,) = await wait_until(lambda: system.smtp.to(noor["email"]), timeout=60, what="the welcome mail")
    assert welcome["Subject"].startswith("Welkom in het trio van Veenendaal")
    assert "Jullie trio heeft een plaats." in welcome.get_body(("plain",)).get_content()
    invitation = calendar_of(welcome)
    assert invitation is not None and "METHOD:REQUEST" in invitation and noor["email"] in invitation.lower()
    assert subjects() == sorted(expected)  # nothing more for the member who left

    async with httpx.AsyncClient(headers=ORGANISER) as client:
        detail = (await client.get(f"{system['registration'].url}/api/registrations/{rid}")).json()
    assert [m["email"] for m in detail["members"]][1] == noor["email"]
    assert leaving not in json.dumps(detail)
    history = [(h["type"], h["actor"]) for h in detail["history"]]
    assert ("RegistrationApproved", ACTOR["account_id"]) in history and ("TrioPlaced", None) in history
    assert ("MemberReplaced", ACTOR["account_id"]) in history
