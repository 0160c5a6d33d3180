"""Replicas, each service alone on a fresh vhost and database, fed events the main run recorded: notifications
1 → 2 behind a slow SMTP server, registration 1 → 2 taking a burst of RegisterTrio, scheduling 1 → 3 placing
approved trios in an over-subscribed edition (and checked: no place given twice, exactly as many placed as
there are places)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika

from bench.driver import Driver
from bench.scenarios import MAILS_PER_TRIO, known, register_many, schedule, settled
from bench.system import SmtpServer, System
from tests.support import wait_until

Raw = aio_pika.abc.AbstractIncomingMessage


def data_of(message: Raw) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(message.body).get("data", {})
    return data


async def republish(url: str, messages: list[Raw] | list[Recorded]) -> None:
    """The recorded events again, as their publishers sent them, on the events exchange (confirmed)."""
    connection = await aio_pika.connect_robust(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange("werkplaatsen.events", "topic", durable=True)
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        m.body,
                        message_id=m.message_id,
                        type=m.type,
                        correlation_id=m.correlation_id,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=m.routing_key or "",
                )
                for m in messages
            )
        )
    finally:
        await connection.close()


async def alone(workdir: Path, service: str, *, latency_ms: float = 0.0, env: dict[str, str] | None = None) -> System:
    """One process of SERVICE on a fresh vhost and database, with an SMTP server of its own; replicas are added
    to it (`System.add`) between the runs that compare them."""
    run = workdir / service
    run.mkdir(parents=True, exist_ok=True)
    smtp = await SmtpServer(run / "mails.jsonl", latency_ms=latency_ms).start()
    system = System(run, smtp, services=(service,), extra_env=env or {})
    try:
        await system.start()
    except BaseException:
        await system.stop()
        smtp.stop()
        raise
    return system


async def stop(system: System) -> None:
    await system.stop()
    system.smtp.stop()


async def notifications_scaling(
    workdir: Path, events: list[Raw], editions: list[Raw], latency_ms: float, timeout: float, smtp_concurrency: int
) -> dict[str, Any]:
    """Half of the TrioRegistered events to one replica, then, a second one started beside it, the other half;
    each replica with `smtp_concurrency` SMTP conversations in flight (few enough that the server's latency, not
    the CPU, limits one replica: what the target is about). Mails/s from the first publish to the last mail."""
    half = len(events) // 2
    results: dict[str, Any] = {
        "smtp_latency_ms": latency_ms,
        "smtp_concurrency": smtp_concurrency,
        "trios": half,
        "mails": MAILS_PER_TRIO * half,
    }
    env = {"NOTIFICATIONS_SMTP_CONCURRENCY": str(smtp_concurrency)}
    system = await alone(workdir, "notifications", latency_ms=latency_ms, env=env)
    try:
        await republish(system.amqp_url, editions)  # the editions land first, as they did in the real run
        await wait_until(system.deliveries, timeout=timeout, what="EditionScheduled consumed")
        for replicas, part in ((1, events[:half]), (2, events[half : 2 * half])):
            if replicas == 2:
                await system.add("notifications")
            sent_before = len(system.smtp.poll())
            started = time.time()
            await republish(system.amqp_url, part)
            expected = sent_before + MAILS_PER_TRIO * len(part)
            await wait_until(
                lambda: len(system.smtp.poll()) >= expected, timeout=timeout, interval=0.05, what="scaling mails"
            )
            last = max(m["t"] for m in system.smtp.mails)
            results[f"replicas_{replicas}"] = {
                "seconds": round(last - started, 3),
                "mails_per_s": round(MAILS_PER_TRIO * len(part) / (last - started), 1),
                "peak_rss_mb": system.peak_rss_mb(),
            }
    finally:
        await stop(system)
    return results | {"ratio": ratio(results, "mails_per_s", 2)}


async def registration_scaling(workdir: Path, edition_event: Raw, trios: int, timeout: float) -> dict[str, Any]:
    """A burst of RegisterTrio to one registration process, then, a second replica started beside it, another:
    registrations/s until the last TrioRegistered of each."""
    edition = data_of(edition_event)["edition"]
    results: dict[str, Any] = {"trios": trios}
    system = await alone(workdir, "registration")
    try:
        await republish(system.amqp_url, [edition_event])
        async with Driver(system.amqp_url, approve=False) as driver:
            await known(driver, edition)
            for replicas in (1, 2):
                if replicas == 2:
                    await system.add("registration")
                started = time.time()
                burst = await register_many(driver, edition, trios, f"g{replicas}")
                await wait_until(
                    lambda: all(t.registered_at or t.rejected for t in burst),
                    timeout=timeout,
                    interval=0.02,
                    what="registration burst",
                )
                if refused := [t.rejected for t in burst if t.rejected]:
                    raise RuntimeError(f"a RegisterTrio was refused: {refused[0]}")
                seconds = max(t.registered_at or 0.0 for t in burst) - started
                results[f"replicas_{replicas}"] = {
                    "seconds": round(seconds, 3),
                    "registrations_per_s": round(trios / seconds, 1),
                }
    finally:
        await stop(system)
    return results | {"ratio": ratio(results, "registrations_per_s", 2)}


@dataclass(frozen=True)
class Recorded:
    """An event to publish again, as a recorded message's properties give it."""

    body: bytes
    message_id: str | None
    type: str | None
    correlation_id: str | None
    routing_key: str | None


def for_edition(messages: list[Raw], edition: str, ids: dict[str, str]) -> list[Recorded]:
    """The events again as if about other trios of another edition: new event ids, the edition's slug, each
    registration id replaced by its new one (the same in every event about the trio)."""
    copies = []
    for message in messages:
        event = json.loads(message.body)
        event["event_id"] = str(uuid.uuid4())
        event["data"] |= {"edition": edition, "registration_id": ids[event["data"]["registration_id"]]}
        body = json.dumps(event).encode()
        copies.append(Recorded(body, event["event_id"], message.type, message.correlation_id, message.routing_key))
    return copies


async def scheduling_scaling(
    workdir: Path, edition: dict[str, Any], registered: list[Raw], approved: list[Raw], timeout: float
) -> dict[str, Any]:
    """The recorded TrioRegistered and then RegistrationApproved events of N trios to one scheduling process, then,
    two more replicas started beside it, the same events made over for a second edition: approvals/s until every
    trio is placed or waitlisted. Each edition has half as many places as trios, so it is over-subscribed: correct
    when no trio was placed twice and exactly as many were placed as there are places."""
    places = max(1, len(approved) // 2)
    capacity = {"min_trios": min(edition["capacity"]["min_trios"], places), "max_trios": places}
    second = f"{edition['edition']}-3"
    ids = {data_of(m)["registration_id"]: str(uuid.uuid4()) for m in registered}
    runs: list[tuple[int, dict[str, Any], list[Raw] | list[Recorded], list[Raw] | list[Recorded]]] = [
        (1, edition | {"capacity": capacity}, registered, approved),
        (
            3,
            edition | {"edition": second, "capacity": capacity},
            for_edition(registered, second, ids),
            for_edition(approved, second, ids),
        ),
    ]
    results: dict[str, Any] = {"trios": len(approved), "places": places}
    system = await alone(workdir, "scheduling")
    try:
        for replicas, body, trios, approvals in runs:
            while len(system.processes) < replicas:
                await system.add("scheduling")
            async with Driver(system.amqp_url, approve=False) as driver:
                driver.keep("TrioPlaced", "TrioWaitlisted")
                await schedule(driver, body)
                await republish(system.amqp_url, trios)
                await settled(system, timeout, "scheduling knows the trios")
                waiting = {json.loads(m.body)["data"]["registration_id"] for m in approvals}
                started = time.time()
                await republish(system.amqp_url, approvals)

                def decided() -> bool:
                    seen = {data_of(m)["registration_id"] for kind in driver.raw.values() for m in kind}
                    return waiting <= seen

                await wait_until(decided, timeout=timeout, interval=0.02, what="every approval placed or waitlisted")
                seconds = time.time() - started
                await settled(system, timeout, "scheduling idle")
                # A relay may publish an event twice (same message id): one placement, not two.
                placements = list(
                    {m.message_id: data_of(m)["registration_id"] for m in driver.raw["TrioPlaced"]}.values()
                )
            results[f"replicas_{replicas}"] = {
                "seconds": round(seconds, 3),
                "approvals_per_s": round(len(approvals) / seconds, 1),
                "placed": len(set(placements)),
                "placed_twice": len(placements) - len(set(placements)),
                "correct": len(placements) == len(set(placements)) == places,
            }
    finally:
        await stop(system)
    return results | {"ratio": ratio(results, "approvals_per_s", 3)}


def ratio(results: dict[str, Any], key: str, replicas: int) -> float | None:
    one, more = results["replicas_1"][key], results[f"replicas_{replicas}"][key]
    return round(more / one, 2) if one else None
