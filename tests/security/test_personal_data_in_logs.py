"""No personal data in logs: an end-to-end run with the four services as processes (a trio registers, is refused
once, registers, is approved and mailed; a malformed event full of personal data is dead-lettered), then every
line the services logged is searched for the participants' and approver's names and addresses."""

from __future__ import annotations

import json
import uuid

import aio_pika
import httpx
import pytest

from shared.db import utcnow
from shared.messaging.rabbit import dead_letter_queue_name
from tests.e2e.conftest import ORGANIZER_TOKEN, bus, system  # noqa: F401 - the e2e fixtures, used here
from tests.e2e.test_registration_commands import codes, outcome, schedule
from tests.factories import trio
from tests.support import Bus, wait_until

pytestmark = pytest.mark.e2e


def people(tag: str) -> dict[str, object]:
    """A trio whose names and addresses occur nowhere else, so any trace of them in a log is from this test."""
    body = trio("later", tag=tag)
    for member, first in zip(body["members"], ("Annelies", "Bartholomeus", "Cornelia"), strict=True):
        member["name"] = f"{first} Zwaluw{tag}"
    body["approver"]["name"] = f"Dirkje Ooievaar{tag}"
    return body


def needles(body: dict[str, object]) -> list[str]:
    found = []
    for person in [*body["members"], body["approver"]]:  # type: ignore[misc]
        found += [person["name"], person["email"], person["email"].split("@")[0]]
    return [n.lower() for n in found]


async def dead_letter_count(system, name: str) -> int:  # noqa: F811 - the fixture's value, passed on
    async with await aio_pika.connect(system.amqp_url) as connection:
        queue = await (await connection.channel()).declare_queue(dead_letter_queue_name(name), passive=True)
        return queue.declaration_result.message_count


async def test_an_end_to_end_run_leaves_no_names_or_addresses_in_any_log(system, bus: Bus) -> None:  # noqa: F811
    tag = uuid.uuid4().hex[:8]
    body = people(tag)
    slug = await schedule(bus)
    body["edition"] = slug
    registration = system["registration"].url

    # Refused: the approver is one of the members (a rule with the people's data in the command).
    refused = {**body, "approver": {"name": body["members"][0]["name"], "email": body["members"][0]["email"]}}
    async with httpx.AsyncClient(base_url=registration, timeout=30) as http:

        async def registered() -> str | None:
            answer = await http.post("/api/registrations", json=body)
            if answer.status_code == 202:
                return answer.json()["registration_id"]
            assert answer.json()["errors"][0]["code"] == "unknown_edition", answer.text  # not heard of it yet
            return None

        first_refusal = await http.post("/api/registrations", json=refused)
        registration_id = await wait_until(registered, what="the registration accepted")
        assert first_refusal.status_code in (404, 422)
        approved = await http.post(
            f"/api/registrations/{registration_id}/approve", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}
        )
        assert approved.status_code == 200, approved.text

    # Over the broker too: a refused command and a malformed event that carries everyone's data.
    command_id = await bus.send("registration.RegisterTrio", {**body, "members": body["members"][:2]})
    assert codes(await outcome(bus, command_id, "TrioRegistered"))
    malformed = {
        "event_id": str(uuid.uuid4()),
        "type": "TrioRegistered",
        "version": 1,
        "occurred_at": utcnow().isoformat(),
        "producer": "registration",
        "correlation_id": "pii",
        "causation_id": "pii",
        "data": {
            "registration_id": str(uuid.uuid4()),
            "edition": slug,
            "members": body["members"],
            "approver": body["approver"],
        },
    }
    events = await bus.channel.declare_exchange("werkplaatsen.events", "topic", durable=True)
    await events.publish(
        aio_pika.Message(
            json.dumps(malformed).encode(),
            message_id=malformed["event_id"],
            type="TrioRegistered",
            content_type="application/json",
        ),
        routing_key="registration.TrioRegistered",
    )

    members = [m["email"] for m in body["members"]]  # type: ignore[index]
    await wait_until(
        lambda: all(system.smtp.to(a) for a in members) and system.smtp.to(body["approver"]["email"]),
        what="the acknowledgements and the approver's mail",
    )
    await wait_until(lambda: _all_dead_lettered(system), what="the malformed event dead-lettered everywhere")

    leaks = []
    for name in ("registration", "scheduling", "notifications", "reporting"):
        text = system[name].log.read_text(errors="replace").lower()
        assert text.strip(), f"{name} logged nothing: the test would prove nothing"
        leaks += [f"{name}: {needle!r}" for needle in needles(body) if needle in text]
    assert not leaks, "personal data in the logs:\n" + "\n".join(leaks)


async def _all_dead_lettered(system) -> bool:  # noqa: F811 - the fixture's value, passed on
    for name in ("scheduling", "notifications", "reporting"):
        if await dead_letter_count(system, name) < 1:
            return False
    return True
