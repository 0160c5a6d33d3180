"""Erasure reaches every copy: two trios go the whole way (registered, approved, placed, mailed, invoiced,
attended, named in a session's notes, reported, a message of each dead-lettered); one is erased on request, the
other by the retention job. Then every table of every service's database and every message in every queue is
read, and none of their names, addresses, phone numbers or case texts is left, while the invoices keep what the
law requires (number, date, amounts, the municipality as buyer with its address and reference).

The services run as processes on RabbitMQ and PostgreSQL with a real SMTP server; the edition's one session is
seconds away and the retention period is seconds, so the whole journey fits in well under a minute.
"""

from __future__ import annotations

import json
import random
import string
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aio_pika
import asyncpg
import pytest

from shared.db import utcnow
from shared.settings import SERVICES
from tests.e2e.conftest import System
from tests.e2e.test_invoicing import paying, register_and_approve
from tests.e2e.test_scheduling_places import acked, schedule
from tests.factories import open_edition
from tests.support import PG_ADMIN_DSN, Bus, ServiceEnv, SmtpSink, running, strong_secret, wait_until

pytestmark = pytest.mark.e2e

ORGANIZER_TOKEN = strong_secret("e2e-erasure-organizer-token")
# Seconds from scheduling the edition to its one session: time to register, approve and place two trios first.
SESSION_IN = 10
RETENTION_SECONDS = 10
DEAD_LETTERING = ("scheduling", "notifications", "reporting")


@pytest.fixture(scope="module")
async def erasing(real_services, tmp_path_factory) -> AsyncIterator[System]:
    """The system with a retention period of seconds, looked at every second."""
    logs = tmp_path_factory.mktemp("erasure-logs")
    async with ServiceEnv(
        "e2e_erase",
        tmp_path_factory.mktemp("erasure-data"),
        strong_secret("e2e-erasure-secret"),
        ORGANIZER_TOKEN,
        extra={
            "REGISTRATION_RETENTION_DAYS": str(RETENTION_SECONDS / 86400),
            "REGISTRATION_RETENTION_CHECK_SECONDS": "1",
        },
    ) as env:
        system = System(vhost=env.vhost, smtp_url=env.smtp_url)
        system.smtp = env.smtp  # type: ignore[attr-defined]
        system.databases = env.databases  # type: ignore[attr-defined]
        for name in SERVICES:
            system.processes[name] = env.process(name, logs / f"{name}.log")
        async with running(*system.processes.values()):
            yield system


@pytest.fixture
async def bus(erasing: System) -> AsyncIterator[Bus]:
    async with Bus(erasing.amqp_url) as bus:
        yield bus


def letters(n: int = 9) -> str:
    return "".join(random.choices(string.ascii_lowercase, k=n))  # noqa: S311 - a test's unique names


def person(first: str) -> tuple[str, str]:
    """A name no other test uses (a surname of random letters) and its address."""
    surname = letters().capitalize()
    return f"{first} {surname}", f"{first.lower()}.{surname.lower()}@amsterdam.example"


def phone() -> str:
    return "06-" + "".join(random.choices(string.digits, k=8))  # noqa: S311


def identifiable_trio(slug: str, **invoice: str) -> tuple[dict[str, Any], list[str]]:
    """A paying trio whose every personal detail is unique; the body and what must not survive its erasure."""
    body = paying(slug, **invoice)
    secret: list[str] = []
    for member, first in zip(body["members"], ("Anna", "Bram", "Chris"), strict=True):
        member["name"], member["email"] = person(first)
        secret += [member["name"], member["name"].split()[1], member["email"]]
    body["approver"]["name"], body["approver"]["email"] = person("Dirk")
    secret += [body["approver"]["name"], body["approver"]["name"].split()[1], body["approver"]["email"]]
    number = phone()
    body["case"] = {
        **body["case"],
        "title": f"Pleinen van {letters()}",
        "neighbourhood": f"Wijk {letters().capitalize()}",
        "summary": f"Bewoners {letters()} vangen regenwater op; bel {number}.",
    }
    secret += [body["case"]["title"], body["case"]["neighbourhood"], body["case"]["summary"], number]
    secret += [number.replace("-", "")]
    return body, secret


def session_plan(body: dict[str, Any]) -> dict[str, Any]:
    """The edition with one session, just ahead: the deadline before it, and it ends a second after it starts."""
    starts = utcnow() + timedelta(seconds=SESSION_IN)
    body["registration_deadline"] = (starts - timedelta(seconds=1)).isoformat()
    body["sessions"] = [
        {**body["sessions"][0], "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(seconds=1)).isoformat()}
    ]
    return body


async def dead_letter(bus: Bus, service: str, event: dict[str, Any], drop: str) -> None:
    """A copy of `event` without the field `drop`, straight into `service`'s queue: it cannot be processed there,
    so it is dead-lettered with all the personal data it carries."""
    broken = {**event, "event_id": str(uuid.uuid4()), "data": {k: v for k, v in event["data"].items() if k != drop}}
    routing_key = f"{event['producer']}.{event['type']}"
    await bus.commands.channel.default_exchange.publish(
        aio_pika.Message(
            json.dumps(broken).encode(),
            message_id=broken["event_id"],
            type=event["type"],
            headers={"x-original-routing-key": routing_key},
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        routing_key=f"werkplaatsen.{service}",
    )


def queue_depths(vhost: str) -> dict[str, int]:
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers", "name", "messages"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {name: int(count) for name, count in (line.split("\t") for line in listing.splitlines() if line.strip())}


async def every_message(system: System) -> dict[str, list[str]]:
    """Every message in every queue of the system's vhost (bodies and headers as text), each put back after."""
    found: dict[str, list[str]] = {}
    connection = await aio_pika.connect(system.amqp_url)
    try:
        channel = await connection.channel()
        for name, depth in queue_depths(system.vhost).items():
            if not depth:
                continue
            queue = await channel.declare_queue(name, passive=True)
            held = []
            while (message := await queue.get(no_ack=False, fail=False, timeout=10)) is not None:
                held.append(message)
                found.setdefault(name, []).append(message.body.decode(errors="replace") + repr(message.headers))
            for message in held:
                await message.nack(requeue=True)
    finally:
        await connection.close()
    return found


async def every_row(database: str) -> dict[str, list[str]]:
    """Every row of every table of one database, as text (binary columns decoded as far as they are text)."""
    conn = await asyncpg.connect(PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}")
    try:
        tables = [
            r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        rows: dict[str, list[str]] = {}
        for table in tables:
            rows[table] = [
                " | ".join(v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in record.values())
                for record in await conn.fetch(f'SELECT * FROM "{table}"')  # noqa: S608 - the catalogue's own names
            ]
        return rows
    finally:
        await conn.close()


def leftovers(texts: dict[str, list[str]], secrets: list[str]) -> list[tuple[str, str]]:
    lowered = [s.lower() for s in secrets]
    return sorted(
        {(where, s) for where, items in texts.items() for text in items for s in lowered if s in text.lower()}
    )


async def test_an_erased_trio_leaves_no_trace_in_any_store_or_queue_and_its_invoice_keeps_only_the_buyer(
    erasing: System, bus: Bus
) -> None:
    slug = (await schedule(bus, session_plan(open_edition(capacity={"min_trios": 1, "max_trios": 2}))))["data"][
        "edition"
    ]
    # The one erased on request sends its invoices to the municipality's mailbox; the one erased after the
    # retention period to its first wijkambtenaar (a participant's own address, erased with the rest).
    asked, asked_secret = identifiable_trio(slug, email=f"crediteuren.{letters()}@amsterdam.example")
    retained, retained_secret = identifiable_trio(slug)
    first, second = await register_and_approve(bus, [asked, retained])
    for rid in (first, second):  # placed at the deadline, a second before the session
        await bus.wait_for("TrioPlaced", registration_id=rid, timeout=SESSION_IN + 30)
    issued = {rid: (await bus.wait_for("InvoiceIssued", registration_id=rid))[0] for rid in (first, second)}
    sink: SmtpSink = erasing.smtp  # type: ignore[attr-defined]
    mailboxes = {first: asked["invoice"]["email"], second: retained["members"][0]["email"]}
    for rid, mailbox in mailboxes.items():
        number = issued[rid]["data"]["invoice_number"]
        await wait_until(
            lambda a=mailbox, n=number: [m for m in sink.to(a) if n in str(m["Subject"])], what=f"invoice {number}"
        )

    starts = datetime.fromisoformat(
        next(e for e in bus.of("EditionScheduled", edition=slug))["data"]["sessions"][0]["starts_at"]
    )
    await wait_until(lambda: utcnow() >= starts, timeout=SESSION_IN + 30, what="the session to begin")
    await bus.send("scheduling.RecordAttendance", {"edition": slug, "session_number": 1, "present": [first, second]})
    await bus.wait_for("AttendanceRecorded", edition=slug)
    named, approver, number = asked["members"][0]["name"], retained["approver"]["name"], asked_secret[-2]
    notes = {  # facilitators' notes name members and an approver, and give a phone number
        "lessons": [f"{named} liet zien hoe de wijk meedoet; bel haar op {number}."],
        "instruments": [{"name": "Krachtenveld", "description": f"Getekend met {retained['members'][1]['name']}."}],
        "quotes": [f"Het plein is van iedereen, zei {approver}."],
        "next_steps": ["Een lokale agenda opstellen."],
    }
    await bus.send("scheduling.CompleteSession", {"edition": slug, "session_number": 1, "notes": notes})
    await bus.wait_for("SessionCompleted", edition=slug)
    await bus.send("reporting.PublishReport", {"edition": slug, "session_number": 1})
    await bus.wait_for("LessonReportPublished", edition=slug)

    # A message of each trio that a service could not process, and one of nobody's that must stay.
    registered = {e["data"]["registration_id"]: e for e in bus.of("TrioRegistered") if e["data"]["edition"] == slug}
    await dead_letter(bus, "scheduling", registered[first], drop="fee")
    await dead_letter(bus, "notifications", registered[second], drop="fee")
    nobodys = next(e for e in bus.of("EditionScheduled", edition=slug))
    await dead_letter(bus, "reporting", nobodys, drop="venue")
    await wait_until(
        lambda: all(queue_depths(erasing.vhost).get(f"werkplaatsen.{s}.dlq") for s in DEAD_LETTERING),
        interval=0.5,
        what="the three dead letters",
    )

    assert not bus.of("ParticipantDataErased"), "the retention period ran out before the journey was over"
    await bus.send("registration.EraseParticipantData", {"registration_id": first})
    await bus.wait_for("ParticipantDataErased", registration_id=first)
    (by_retention,) = await bus.wait_for(
        "ParticipantDataErased", registration_id=second, timeout=RETENTION_SECONDS + 30
    )
    assert by_retention["correlation_id"] == f"retention:{second}"
    for name in SERVICES:
        await wait_until(lambda p=erasing[name]: _erasures_done(p), what=f"{name} done with both erasures")

    rows = {
        f"{name}.{table}": texts
        for name, database in erasing.databases.items()  # type: ignore[attr-defined]
        for table, texts in (await every_row(database)).items()
    }
    messages = await every_message(erasing)
    secrets = asked_secret + retained_secret
    found = leftovers(rows, secrets) + leftovers(messages, secrets)
    assert found == [], "\n".join(f"{where}: {what}" for where, what in found)
    # Reporting kept the names only as keyed hashes; with their key in the same store, those go as well.
    assert [t for t in rows["reporting.name_digests"] if first in t or second in t] == []

    # Nothing else was lost: the letter of nobody's is still there.
    assert any(nobodys["data"]["edition"] in m for m in messages.get("werkplaatsen.reporting.dlq", []))
    # The invoices keep what the law requires: number, date, amounts, and the municipality as buyer.
    invoices = {r: issued[r]["data"] for r in (first, second)}
    for invoice in invoices.values():
        (row,) = [t for t in rows["registration.invoices"] if t.startswith(invoice["invoice_number"])]
        for kept in (invoice["issue_date"], str(invoice["total_cents"]), "Postbus 202", "PO-" + slug, "Amsterdam"):
            assert kept in row, (kept, row)


async def _erasures_done(process: Any) -> bool:
    return await acked(process, "registration.ParticipantDataErased") >= 2
