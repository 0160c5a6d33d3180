"""Registrations at a steady rate (none approved: approvals come hours later in practice): latency to TrioRegistered
and to the acknowledgement mails, and, with `watch_queues`, every queue's depth while it lasts."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from bench import meter
from bench.driver import Driver, Trio
from bench.probes import QueueDepths, queue_names
from bench.scenarios import ACKNOWLEDGEMENT, MAILS_PER_TRIO, mails_of, percentiles, settled, tag_of
from bench.system import System
from tests.factories import trio
from tests.support import wait_until


async def steady(
    system: System,
    driver: Driver,
    edition: str,
    rate: float,
    seconds: float,
    timeout: float,
    ceiling: float,
    *,
    watch_queues: bool = False,
) -> dict[str, Any]:
    smtp = system.smtp
    driver.approve = False
    count = max(1, int(rate * seconds))
    before = await meter.read(system)
    mails_before = len(smtp.poll())
    others: dict[str, Callable[[], Awaitable[int]]] = (
        {"notifications: mails pending": system.pending_mails} if "notifications" in system.databases else {}
    )
    depths = QueueDepths(system.amqp_url, queue_names(system.vhost), others) if watch_queues else None
    trios: list[Trio] = []
    async with depths or contextlib.nullcontext():
        started = time.time()
        for n in range(count):
            delay = started + n / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)  # the schedule itself: this is the rate under test
            tag = f"s{n:05d}{uuid.uuid4().hex[:4]}"
            trios.append(await driver.register(trio(edition, tag=tag), tag))
        ended = time.time()
    by_tag = {t.tag: t for t in trios}
    await wait_until(
        lambda: (
            all(t.registered_at for t in trios)
            and len(mails_of(smtp, ACKNOWLEDGEMENT, set(by_tag), mails_before)) >= MAILS_PER_TRIO * count
        ),
        timeout=timeout,
        interval=0.05,
        what="steady-rate acknowledgements",
    )
    caught_up = time.time()
    await settled(system, timeout, "steady phase idle")
    after = await meter.read(system)
    acknowledged: dict[str, list[float]] = {}
    for mail in mails_of(smtp, ACKNOWLEDGEMENT, set(by_tag), mails_before):
        acknowledged.setdefault(tag_of(mail["rcpt"][0]), []).append(mail["t"])
    to_event = [(t.registered_at - t.sent_at) * 1000 for t in trios if t.registered_at]
    to_first = [(min(acknowledged[t.tag]) - t.sent_at) * 1000 for t in trios]
    to_last = [(max(acknowledged[t.tag]) - t.sent_at) * 1000 for t in trios]
    results: dict[str, Any] = {
        "rate": rate,
        "seconds": seconds,
        "registrations": count,
        "achieved_rate": round((count - 1) / max(trios[-1].sent_at - started, 1e-9) if count > 1 else rate, 1),
        "to_trio_registered_ms": percentiles(to_event),
        "to_first_acknowledgement_ms": percentiles(to_first),
        "to_acknowledgement_mail_ms": percentiles(to_last),  # the trio's last of its three
        "caught_up_after_s": round(caught_up - ended, 3),
        # Deliveries per second of the phase's own length: at a steady rate the work arrives at that pace.
        **meter.figures(before, after, count, seconds=max(caught_up - started, 1e-9), ceiling=ceiling),
    }
    if depths is not None:
        results["queues"] = depths.summary()
    return results
