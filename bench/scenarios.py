"""The burst, the steady rate and the notifications scaling, each against a running system."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import aio_pika

from bench.driver import Driver, Trio
from bench.system import SmtpServer, System, cpu_per
from shared.db import utcnow
from tests.factories import open_edition, trio
from tests.support import wait_until

ACKNOWLEDGEMENT = ("Aanmelding ontvangen", "Registration received")
PLACED = ("Plaats bevestigd", "Place confirmed")
MAILS_PER_TRIO = 3


def edition_past_deadline() -> dict[str, Any]:
    """Registration still open, but the deadline has passed: every approved trio is placed or waitlisted at once."""
    body = open_edition(f"bench-{uuid.uuid4().hex[:8]}")
    now = utcnow()
    body["registration_deadline"] = (now - timedelta(hours=1)).isoformat()
    body["registration_closes_at"] = (now + timedelta(days=1)).isoformat()
    return body


def tag_of(address: str) -> str:
    return address.split("@", 1)[0].split(".", 1)[1]


def mails_of(smtp: SmtpServer, subjects: tuple[str, ...], tags: set[str] | None = None) -> list[dict[str, Any]]:
    return [
        m for m in smtp.poll() if m["subject"].startswith(subjects) and (tags is None or tag_of(m["rcpt"][0]) in tags)
    ]


async def schedule(driver: Driver, body: dict[str, Any]) -> str:
    command_id = await driver.send("scheduling.ScheduleEdition", body)
    reply = await wait_until(lambda: driver.replies.get(command_id), timeout=60, what="ScheduleEdition outcome")
    if reply["type"] != "EditionScheduled":
        raise RuntimeError(f"edition refused: {reply}")
    return body["edition"]


async def warm_up(driver: Driver, smtp: SmtpServer, edition: str) -> None:
    """One trio through the whole pipeline, so the measurement starts with every service knowing the edition."""
    for _ in range(300):
        tag = f"warm{uuid.uuid4().hex[:6]}"
        registered = await driver.register(trio(edition, tag=tag), tag)
        await wait_until(lambda: registered.registered_at or registered.rejected, timeout=60, what="warm-up outcome")
        if registered.registered_at:
            break
        await asyncio.sleep(0.1)  # registration has not heard of the edition yet
    else:
        raise RuntimeError("registration never learnt of the edition")
    await wait_until(lambda: registered.outcome, timeout=60, what="warm-up placement")
    await wait_until(
        lambda: len(mails_of(smtp, ACKNOWLEDGEMENT, {tag})) >= MAILS_PER_TRIO,
        timeout=60,
        what="warm-up acknowledgements",
    )


async def burst(system: System, driver: Driver, edition: str, registrations: int, timeout: float) -> dict[str, Any]:
    smtp = system.smtp
    deliveries_before = await system.deliveries()
    mails_before = len(smtp.poll())
    cpu_before = system.cpu_seconds()
    tags = {f"b{n:05d}{uuid.uuid4().hex[:4]}" for n in range(registrations)}
    started = time.time()
    trios = [await driver.register(trio(edition, tag=tag), tag, wait=False) for tag in sorted(tags)]
    await driver.drain()
    published = time.time()

    def done() -> bool:
        if any(t.rejected for t in trios):
            raise RuntimeError(f"a RegisterTrio was refused: {next(t.rejected for t in trios if t.rejected)}")
        placed = sum(t.outcome == "TrioPlaced" for t in trios)
        return (
            all(t.outcome for t in trios)
            and len(mails_of(smtp, ACKNOWLEDGEMENT, tags)) >= MAILS_PER_TRIO * registrations
            and len(mails_of(smtp, PLACED, tags)) >= MAILS_PER_TRIO * placed
        )

    await wait_until(done, timeout=timeout, interval=0.02, what="burst fully processed")
    finished = time.time()
    await driver.drain()
    seconds = finished - started
    deliveries = await system.deliveries() - deliveries_before
    await wait_until(system.idle, timeout=timeout, interval=0.5, what="the burst's last mails")
    cpu_after = system.cpu_seconds()
    all_mails = max(m["t"] for m in smtp.poll())
    return {
        "registrations": registrations,
        "placed": sum(t.outcome == "TrioPlaced" for t in trios),
        "waitlisted": sum(t.outcome == "TrioWaitlisted" for t in trios),
        "publish_seconds": round(published - started, 3),
        "seconds": round(seconds, 3),
        "registrations_per_s": round(registrations / seconds, 1),
        "deliveries": int(deliveries),
        "deliveries_per_s": round(deliveries / seconds, 1),
        "mails": len(smtp.mails) - mails_before,
        "all_mails_seconds": round(all_mails - started, 3),
        # Until every mail is out: each service's whole share of the burst's work.
        "cpu_ms_per_registration": cpu_per(cpu_before, cpu_after, registrations),
    }


async def steady(
    system: System, driver: Driver, edition: str, rate: float, seconds: float, timeout: float
) -> dict[str, Any]:
    smtp = system.smtp
    count = max(1, int(rate * seconds))
    cpu_before = system.cpu_seconds()
    started = time.time()
    trios: list[Trio] = []
    for n in range(count):
        delay = started + n / rate - time.time()
        if delay > 0:
            await asyncio.sleep(delay)  # the schedule itself: this is the rate under test
        tag = f"s{n:05d}{uuid.uuid4().hex[:4]}"
        trios.append(await driver.register(trio(edition, tag=tag), tag))
    by_tag = {t.tag: t for t in trios}
    await wait_until(
        lambda: (
            all(t.registered_at for t in trios)
            and len(mails_of(smtp, ACKNOWLEDGEMENT, set(by_tag))) >= MAILS_PER_TRIO * count
        ),
        timeout=timeout,
        interval=0.05,
        what="steady-rate acknowledgements",
    )
    cpu_after = system.cpu_seconds()
    acknowledged: dict[str, float] = {}
    for mail in mails_of(smtp, ACKNOWLEDGEMENT, set(by_tag)):
        tag = tag_of(mail["rcpt"][0])
        acknowledged[tag] = max(acknowledged.get(tag, 0.0), mail["t"])  # when the trio's last member got it
    to_event = [(t.registered_at - t.sent_at) * 1000 for t in trios if t.registered_at]
    to_mail = [(acknowledged[t.tag] - t.sent_at) * 1000 for t in trios]
    return {
        "rate": rate,
        "seconds": seconds,
        "registrations": count,
        "achieved_rate": round((count - 1) / max(trios[-1].sent_at - started, 1e-9) if count > 1 else rate, 1),
        "to_trio_registered_ms": percentiles(to_event),
        "to_acknowledgement_mail_ms": percentiles(to_mail),
        "cpu_ms_per_registration": cpu_per(cpu_before, cpu_after, count),
    }


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {
        "p50": round(cuts[49], 1),
        "p95": round(cuts[94], 1),
        "p99": round(cuts[98], 1),
        "max": round(ordered[-1], 1),
    }


async def notifications_scaling(
    workdir: Path,
    events: list[aio_pika.abc.AbstractIncomingMessage],
    edition_event: aio_pika.abc.AbstractIncomingMessage,
    latency_ms: float,
    timeout: float,
    smtp_concurrency: int,
) -> dict[str, Any]:
    """Notifications alone, behind a slow SMTP server: the same TrioRegistered events to 1 and to 2 replicas, each
    with `smtp_concurrency` SMTP conversations in flight (few enough that the server's latency, not the CPU,
    limits one replica: what the target is about)."""
    results: dict[str, Any] = {
        "smtp_latency_ms": latency_ms,
        "smtp_concurrency": smtp_concurrency,
        "trios": len(events),
        "mails": MAILS_PER_TRIO * len(events),
    }
    for replicas in (1, 2):
        run = workdir / f"scaling-{replicas}"
        run.mkdir(parents=True, exist_ok=True)
        smtp = await SmtpServer(run / "mails.jsonl", latency_ms=latency_ms).start()
        system = System(
            run, smtp, services=("notifications",), extra_env={"NOTIFICATIONS_SMTP_CONCURRENCY": str(smtp_concurrency)}
        )
        try:
            await system.start()
            for _ in range(replicas - 1):
                await system.add("notifications")
            results[f"replicas_{replicas}"] = await _replay(system, events, edition_event, timeout)
            results[f"replicas_{replicas}"]["peak_rss_mb"] = system.peak_rss_mb()
        finally:
            await system.stop()
            smtp.stop()
    one, two = results["replicas_1"]["mails_per_s"], results["replicas_2"]["mails_per_s"]
    results["ratio"] = round(two / one, 2) if one else None
    return results


async def _replay(
    system: System,
    events: list[aio_pika.abc.AbstractIncomingMessage],
    edition_event: aio_pika.abc.AbstractIncomingMessage,
    timeout: float,
) -> dict[str, Any]:
    connection = await aio_pika.connect_robust(system.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange("werkplaatsen.events", "topic", durable=True)

        async def publish(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await exchange.publish(
                aio_pika.Message(
                    message.body,
                    message_id=message.message_id,
                    type=message.type,
                    correlation_id=message.correlation_id,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=message.routing_key or "",
            )

        await publish(edition_event)
        # The edition lands first, as it did in the real run.
        await wait_until(lambda: system.deliveries(), timeout=timeout, what="EditionScheduled consumed")
        started = time.time()
        await asyncio.gather(*(publish(m) for m in events))
        expected = MAILS_PER_TRIO * len(events)
        await wait_until(
            lambda: len(system.smtp.poll()) >= expected, timeout=timeout, interval=0.05, what="scaling mails"
        )
    finally:
        await connection.close()
    last = max(m["t"] for m in system.smtp.mails)
    return {"seconds": round(last - started, 3), "mails_per_s": round(expected / (last - started), 1)}
