"""What the phases share: editions, trios, the mails they get and waiting for the system to finish its work."""

from __future__ import annotations

import asyncio
import statistics
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from bench.driver import Driver, Trio
from bench.system import SmtpServer, System
from shared.db import utcnow
from tests.factories import open_edition, trio
from tests.support import wait_until

# Each mail the journey sends, by the start of its subject (Dutch or English: one member reads English).
MAIL_KINDS = {
    "acknowledgement": ("Aanmelding ontvangen", "Registration received"),
    "approval_request": ("Goedkeuring gevraagd", "Approval requested"),
    "approved": ("Deelname goedgekeurd", "Participation approved"),
    "placed": ("Plaats bevestigd", "Place confirmed"),
    "invoice": ("Factuur", "Invoice"),
    "waitlisted": ("Wachtlijst", "Waiting list"),
}
ACKNOWLEDGEMENT = MAIL_KINDS["acknowledgement"]
APPROVAL_REQUEST = MAIL_KINDS["approval_request"]
PLACED = MAIL_KINDS["placed"]
MAILS_PER_TRIO = 3
# Veenendaal is middelgroot (the fee is waived), Amsterdam groot (it pays: an invoice mail).
MIDSIZE, LARGE = "GM0345", "GM0363"


def edition_past_deadline(max_trios: int | None = None) -> dict[str, Any]:
    """Registration still open, but the deadline has passed: every approved trio is placed or waitlisted at once.
    With `max_trios`, room for that many (the programme's own is 8)."""
    body = open_edition(f"bench-{uuid.uuid4().hex[:8]}")
    now = utcnow()
    body["registration_deadline"] = (now - timedelta(hours=1)).isoformat()
    body["registration_closes_at"] = (now + timedelta(days=1)).isoformat()
    if max_trios is not None:
        body["capacity"] = {"min_trios": min(body["capacity"]["min_trios"], max_trios), "max_trios": max_trios}
    return body


def tag_of(address: str) -> str:
    local = address.split("@", 1)[0]
    return local.split(".", 1)[1] if "." in local else ""


def mails_of(
    smtp: SmtpServer, subjects: tuple[str, ...], tags: set[str] | None = None, since: int = 0
) -> list[dict[str, Any]]:
    """The mails with these subjects (to these trios) among those that arrived after the first `since`: a phase
    looks only at its own, not at every mail of the run on every poll."""
    return [
        m
        for m in smtp.poll()[since:]
        if m["subject"].startswith(subjects) and (tags is None or tag_of(m["rcpt"][0]) in tags)
    ]


def kind_of(subject: str) -> str:
    return next((kind for kind, starts in MAIL_KINDS.items() if subject.startswith(starts)), "other")


def mail_counts(mails: list[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(kind_of(m["subject"]) for m in mails).items()))


async def schedule(driver: Driver, body: dict[str, Any]) -> str:
    command_id = await driver.send("scheduling.ScheduleEdition", body)
    reply = await wait_until(lambda: driver.replies.get(command_id), timeout=60, what="ScheduleEdition outcome")
    if reply["type"] != "EditionScheduled":
        raise RuntimeError(f"edition refused: {reply}")
    return body["edition"]


async def warm_up(driver: Driver, smtp: SmtpServer, edition: str) -> None:
    """One trio through the pipeline, so the measurement starts with every service knowing the edition (placed or
    waitlisted too, when the driver approves)."""
    since = len(smtp.poll())
    registered = await known(driver, edition)
    if driver.approve:
        await wait_until(lambda: registered.outcome, timeout=60, what="warm-up placement")
    await wait_until(
        lambda: len(mails_of(smtp, ACKNOWLEDGEMENT, {registered.tag}, since)) >= MAILS_PER_TRIO,
        timeout=60,
        what="warm-up acknowledgements",
    )


async def known(driver: Driver, edition: str) -> Trio:
    """The first trio registration takes for the edition (tried again until it has heard of the edition)."""
    for _ in range(300):
        tag = f"warm{uuid.uuid4().hex[:6]}"
        registered = await driver.register(trio(edition, tag=tag), tag)
        await wait_until(lambda: registered.registered_at or registered.rejected, timeout=60, what="warm-up outcome")
        if registered.registered_at:
            break
        await asyncio.sleep(0.1)  # registration has not heard of the edition yet
    else:
        raise RuntimeError("registration never learnt of the edition")
    return registered


async def new_edition(system: System, driver: Driver, max_trios: int | None = None) -> tuple[str, dict[str, Any]]:
    """A fresh edition, its warm-up trio through the pipeline and every mail of it out: a phase's figures start
    clean."""
    body = edition_past_deadline(max_trios)
    edition = await schedule(driver, body)
    await warm_up(driver, system.smtp, edition)
    await settled(system, 120, "the warm-up's last mails")
    return edition, body


def trio_of(edition: str, tag: str, *, paying: bool) -> dict[str, Any]:
    """A trio of the middelgroot municipality, or, paying, of a large one with its invoice details."""
    if not paying:
        return trio(edition, tag=tag, municipality=MIDSIZE)
    invoice = {"address": "Postbus 202\n1000 AE Amsterdam", "reference": f"PO-{tag}"}
    return trio(edition, tag=tag, municipality=LARGE, invoice=invoice)


async def register_many(driver: Driver, edition: str, count: int, prefix: str, *, paying: bool = False) -> list[Trio]:
    """COUNT trios published as fast as the broker confirms them; with `paying`, every second one from a
    municipality that pays the fee."""
    tags = sorted(f"{prefix}{n:05d}{uuid.uuid4().hex[:4]}" for n in range(count))
    trios = [
        await driver.register(trio_of(edition, tag, paying=paying and n % 2 == 1), tag, wait=False)
        for n, tag in enumerate(tags)
    ]
    await driver.drain()
    return trios


def refused(trios: list[Trio]) -> None:
    if any(t.rejected for t in trios):
        raise RuntimeError(f"a RegisterTrio was refused: {next(t.rejected for t in trios if t.rejected)}")


async def outcomes(trios: list[Trio], timeout: float, what: str) -> None:
    """Until every trio is placed or waitlisted."""

    def done() -> bool:
        refused(trios)
        return all(t.outcome for t in trios)

    await wait_until(done, timeout=timeout, interval=0.02, what=what)


async def settled(system: System, timeout: float, what: str) -> None:
    """Idle twice in a row: a transaction that committed its outbox row just before the first look has published
    it by the second (a look takes rabbitmqctl a second)."""

    async def twice() -> bool:
        return await system.idle() and await system.idle()

    await wait_until(twice, timeout=timeout, interval=0.2, what=what)


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {
        "p50": round(cuts[49], 1),
        "p95": round(cuts[94], 1),
        "p99": round(cuts[98], 1),
        "max": round(ordered[-1], 1),
    }
