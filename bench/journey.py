"""Bursts against a running system: registrations alone, the full journey into an edition with room for all, and
the waitlist burst (8 places, every other trio waitlisted)."""

from __future__ import annotations

import time
from typing import Any

from bench import meter
from bench.driver import Driver
from bench.scenarios import (
    ACKNOWLEDGEMENT,
    APPROVAL_REQUEST,
    MAILS_PER_TRIO,
    PLACED,
    mail_counts,
    mails_of,
    new_edition,
    outcomes,
    refused,
    register_many,
    settled,
)
from bench.system import System
from tests.support import wait_until


async def register_only(
    system: System, driver: Driver, edition: str, trios: int, timeout: float, ceiling: float
) -> dict[str, Any]:
    """N registrations into an open edition, none approved: 3 acknowledgements and an approval request each. The
    clock stops when the last of those mails is at the SMTP server."""
    smtp = system.smtp
    driver.approve = False
    before = await meter.read(system)
    mails_before = len(smtp.poll())
    started = time.time()
    registered = await register_many(driver, edition, trios, "r")
    published = time.time()
    tags = {t.tag for t in registered}

    def every_mail() -> bool:
        refused(registered)
        return (
            all(t.registered_at for t in registered)
            and len(mails_of(smtp, ACKNOWLEDGEMENT, tags, mails_before)) >= MAILS_PER_TRIO * trios
            and len(mails_of(smtp, APPROVAL_REQUEST, tags, mails_before)) >= trios
        )

    await wait_until(every_mail, timeout=timeout, interval=0.02, what="register-only mails")
    last = max(m["t"] for m in mails_of(smtp, ACKNOWLEDGEMENT + APPROVAL_REQUEST, tags, mails_before))
    seconds = last - started
    await settled(system, timeout, "register-only idle")
    after = await meter.read(system)
    return {
        "registrations": trios,
        "publish_seconds": round(published - started, 3),
        "seconds": round(seconds, 3),
        "trios_per_s": round(trios / seconds, 1),
        "registered_per_s": round(trios / (max(t.registered_at or 0 for t in registered) - started), 1),
        "mails": mail_counts(smtp.mails[mails_before:]),
        **meter.figures(before, after, trios, seconds=seconds, ceiling=ceiling),
    }


async def full_journey(system: System, driver: Driver, trios: int, timeout: float, ceiling: float) -> dict[str, Any]:
    """N trios into one edition with room for all, each approved as soon as it is registered and placed at once
    (every second one pays the fee). The clock stops when every trio is placed and, the system idle, the last
    mail arrived."""
    smtp = system.smtp
    driver.approve = True
    edition, body = await new_edition(system, driver, max_trios=trios + 10)
    before = await meter.read(system)
    mails_before = len(smtp.poll())
    started = time.time()
    journeys = await register_many(driver, edition, trios, "j", paying=True)
    await outcomes(journeys, timeout, "every journey trio placed")
    placed_at = time.time()
    await settled(system, timeout, "the journey's last mails")
    after = await meter.read(system)
    mails = smtp.poll()[mails_before:]
    seconds = max(m["t"] for m in mails) - started
    placed = sum(t.outcome == "TrioPlaced" for t in journeys)
    if placed != trios:
        raise RuntimeError(f"journey: {trios - placed} of {trios} trios not placed in an edition with room for all")
    return {
        "registrations": trios,
        "edition": body,
        "placed": placed,
        "placed_seconds": round(placed_at - started, 3),
        "seconds": round(seconds, 3),
        "trios_per_s": round(trios / seconds, 1),
        "mails": mail_counts(mails),
        "mails_total": len(mails),
        "mails_per_s": round(len(mails) / seconds, 1),
        **meter.figures(before, after, trios, seconds=seconds, ceiling=ceiling),
    }


async def waitlist_burst(system: System, driver: Driver, trios: int, timeout: float, ceiling: float) -> dict[str, Any]:
    """The programme's 8 places, N trios approved at once: the rest are waitlisted. The clock stops when every
    trio is placed or waitlisted and its acknowledgements and confirmations are out; CPU until idle."""
    smtp = system.smtp
    driver.approve = True
    edition, _ = await new_edition(system, driver)
    before = await meter.read(system)
    mails_before = len(smtp.poll())
    started = time.time()
    burst = await register_many(driver, edition, trios, "b")
    published = time.time()
    tags = {t.tag for t in burst}

    def done() -> bool:
        refused(burst)
        placed = sum(t.outcome == "TrioPlaced" for t in burst)
        return (
            all(t.outcome for t in burst)
            and len(mails_of(smtp, ACKNOWLEDGEMENT, tags, mails_before)) >= MAILS_PER_TRIO * trios
            and len(mails_of(smtp, PLACED, tags, mails_before)) >= MAILS_PER_TRIO * placed
        )

    await wait_until(done, timeout=timeout, interval=0.02, what="waitlist burst fully processed")
    seconds = time.time() - started
    processed = await meter.read(system)
    await settled(system, timeout, "the waitlist burst's last mails")
    after = await meter.read(system)
    mails = smtp.poll()[mails_before:]
    return {
        "registrations": trios,
        "placed": sum(t.outcome == "TrioPlaced" for t in burst),
        "waitlisted": sum(t.outcome == "TrioWaitlisted" for t in burst),
        "publish_seconds": round(published - started, 3),
        "seconds": round(seconds, 3),
        "registrations_per_s": round(trios / seconds, 1),
        "all_mails_seconds": round(max(m["t"] for m in mails) - started, 3),
        "mails": mail_counts(mails),
        "mails_total": len(mails),
        # Deliveries and efficiency while the trios were processed; CPU and statements until every mail is out.
        **meter.figures(before, after, trios, ceiling=ceiling),
        **{
            k: v
            for k, v in meter.figures(before, processed, trios, seconds=seconds, ceiling=ceiling).items()
            if k in ("deliveries", "deliveries_per_s", "efficiency")
        },
    }
