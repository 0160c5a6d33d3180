"""Bad commands through real RabbitMQ to running services (registration, scheduling and reporting started as in
production, each on its own PostgreSQL database): every one is answered with a CommandRejected or lands in the
service's dead-letter queue with its reason, and a valid registration still goes through afterwards."""

from __future__ import annotations

import importlib
import json
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from services.registration.adapters import SqlEditions
from shared.contract import COMMANDS, message_name
from shared.messaging.rabbit import REASON_HEADER, RabbitTransport, dead_letter_queue_name
from shared.runtime import Service
from shared.settings import Settings
from tests import factories
from tests.fuzz.bodies import CONTENT_TYPES, Targets, at, corpus, paths, replaced, valid_body, without
from tests.fuzz.harness import ORGANIZER_TOKEN, SECRET
from tests.support import Bus, amqp_url, create_database, database_url, drop_database, wait_until

pytestmark = pytest.mark.integration

NAMES = ("registration", "scheduling", "reporting")  # the services that take commands


@pytest.fixture
async def running(vhost: str, tmp_path: Path) -> AsyncIterator[dict[str, Service]]:
    databases = {name: await create_database(f"rabbitfuzz_{name}") for name in NAMES}
    settings = Settings(
        werkplaatsen_broker_url=amqp_url(vhost),
        werkplaatsen_data_dir=tmp_path,
        werkplaatsen_secret_key=SECRET,
        werkplaatsen_organizer_token=ORGANIZER_TOKEN,
        **{f"{name}_database_url": database_url(db) for name, db in databases.items()},
    )
    services: dict[str, Service] = {}
    started: list[Service] = []
    try:
        for name in NAMES:
            services[name] = importlib.import_module(f"services.{name}.bootstrap").build(
                settings, RabbitTransport(amqp_url(vhost), name)
            )
            await services[name].start()
            started.append(services[name])
        yield services
    finally:
        for service in started:
            await service.stop()
        for db in databases.values():
            await drop_database(db)


def mutated(routing_key: str, rng: random.Random) -> tuple[str, bytes, dict[str, Any]]:
    """One broken variant of a valid command, chosen by `rng`: as bodies.bad_command, without hypothesis."""
    body = valid_body(routing_key, Targets())
    where = rng.choice(paths(body))
    kind, raw = rng.choice(
        [
            (
                "wrong_type",
                lambda: json.dumps(
                    replaced(body, where, [{"x": 1}] if isinstance(at(body, where), str) else "text")
                ).encode(),
            ),
            ("missing_field", lambda: json.dumps(without(body, where)).encode()),
            ("extra_field", lambda: json.dumps({**body, "onbekend": True}).encode()),
            (
                "nasty_value",
                lambda: json.dumps(replaced(body, where, rng.choice(["a\u0000b", 2**63, "\ud800"]))).encode(),
            ),
            ("extra_nested", lambda: json.dumps({**body, "x": {"y": [body]}}).encode()),
        ]
    )
    return kind, raw(), {"message_id": str(uuid.uuid4()), "content_type": rng.choice(CONTENT_TYPES)}


def sample(seed: int = 9) -> list[tuple[str, str, bytes, dict[str, Any]]]:
    rng = random.Random(seed)
    found = []
    for routing_key in sorted(COMMANDS):
        if routing_key.split(".")[0] not in NAMES:
            continue
        worst = [rng.choice(corpus(routing_key)) for _ in range(2)]
        found += [(routing_key, *bad) for bad in [*worst, mutated(routing_key, rng), mutated(routing_key, rng)]]
    valid = json.dumps(valid_body("registration.CancelRegistration")).encode()
    # (A message without message_id cannot be sent from here: aio-pika fills one in. The in-process fuzz covers it.)
    found.append(("registration.CancelRegistration", "long_message_id", valid, {"message_id": "m" * 250}))
    return found


async def publish(bus: Bus, routing_key: str, body: bytes, props: dict[str, Any]) -> None:
    await bus.commands.publish(
        aio_pika.Message(
            body,
            message_id=props.get("message_id"),
            content_type=props.get("content_type"),
            type=message_name(routing_key),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        routing_key=routing_key,
    )


async def dead_letters(vhost: str) -> dict[str, str]:
    """message_id -> reason of every dead letter of the three services (taken off their queues)."""
    found = {}
    async with await aio_pika.connect(amqp_url(vhost)) as connection:
        channel = await connection.channel()
        for name in NAMES:
            queue = await channel.declare_queue(dead_letter_queue_name(name), passive=True)
            while (message := await queue.get(fail=False, no_ack=True)) is not None:
                reason = message.headers.get(REASON_HEADER, b"")
                found[message.message_id or ""] = reason.decode() if isinstance(reason, bytes) else str(reason)
    return found


async def knows_edition(registration: Service, slug: str) -> bool:
    async with registration.store.db.sessions() as session:
        return await SqlEditions(session).get(slug) is not None


async def test_bad_commands_over_rabbitmq_are_each_rejected_or_dead_lettered_and_valid_work_goes_on(
    running: dict[str, Service], vhost: str
) -> None:
    bad = sample()
    async with Bus(amqp_url(vhost)) as bus:
        for routing_key, _kind, body, props in bad:
            await publish(bus, routing_key, body, props)

        def rejected() -> set[str]:
            return {e["data"]["command_id"] for e in bus.events if e["type"] == "CommandRejected"}

        with_ids = {props["message_id"] for _, _, _, props in bad if props.get("message_id")}
        letters: dict[str, str] = {}

        async def all_answered() -> bool:
            letters.update(await dead_letters(vhost))
            return with_ids <= rejected() | set(letters)

        try:
            await wait_until(all_answered, what="a CommandRejected or a dead letter for every bad command")
        except AssertionError:
            unanswered = [
                (key, kind, props)
                for key, kind, _, props in bad
                if (props.get("message_id") or "") not in rejected() | set(letters)
            ]
            raise AssertionError(f"no answer to: {unanswered}") from None
        for event in bus.events:
            if event["type"] == "CommandRejected":
                assert event["data"]["errors"], event
                assert all(e["code"] and e["message"] for e in event["data"]["errors"]), event
        assert all(reason.strip() for reason in letters.values()), letters
        assert letters.get("m" * 250, "").startswith("message_id or correlation_id longer than")

        # The services still do their work.
        edition = factories.open_edition()
        await bus.send("scheduling.ScheduleEdition", edition)
        await bus.wait_for("EditionScheduled", edition=edition["edition"])
        await wait_until(
            lambda: knows_edition(running["registration"], edition["edition"]),
            what="registration's copy of the edition",
        )
        command_id = await bus.send("registration.RegisterTrio", factories.trio(edition["edition"]))
        (registered,) = await bus.wait_for("TrioRegistered", edition=edition["edition"])
        assert registered["correlation_id"] == command_id
    print(f"\n{len(bad)} bad commands over RabbitMQ: {len(rejected())} rejected, {len(letters)} dead-lettered")
