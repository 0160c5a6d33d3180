"""Invoicing the trio fee end to end: the services as processes (two registration replicas) on RabbitMQ and
PostgreSQL, mail through a real SMTP server. The payment term is a few seconds here, so the overdue reminder
comes within the test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from peppol import check_rules, validate_xsd

from shared.db import utcnow
from shared.settings import SERVICES
from tests.e2e.conftest import ORGANIZER_TOKEN, System
from tests.e2e.test_scheduling_places import acked, register_when_known, schedule
from tests.factories import ORGANISER, open_edition, trio
from tests.support import Bus, ServiceEnv, SmtpSink, running, strong_secret, wait_until

pytestmark = pytest.mark.e2e

ORGANIZER = {"Authorization": f"Bearer {ORGANIZER_TOKEN}"}
PAYMENT_TERM_SECONDS = 20


@pytest.fixture(scope="module")
async def billing(real_services, tmp_path_factory) -> AsyncIterator[System]:
    """The system with a second registration replica and a payment term of seconds."""
    logs = tmp_path_factory.mktemp("invoicing-logs")
    async with ServiceEnv(
        "e2e_inv",
        tmp_path_factory.mktemp("invoicing-data"),
        strong_secret("e2e-secret"),
        ORGANIZER_TOKEN,
        extra={
            "REGISTRATION_PAYMENT_TERM_DAYS": str(PAYMENT_TERM_SECONDS / 86400),
            "REGISTRATION_OVERDUE_CHECK_SECONDS": "1",
        },
    ) as env:
        system = System(vhost=env.vhost, smtp_url=env.smtp_url)
        system.smtp = env.smtp  # type: ignore[attr-defined]
        for name in [*SERVICES, "registration"]:
            key = name if name not in system.processes else f"{name}-2"
            system.processes[key] = env.process(name, logs / f"{key}.log")
        async with running(*system.processes.values()):
            yield system


@pytest.fixture
async def bus(billing: System) -> AsyncIterator[Bus]:
    async with Bus(billing.amqp_url) as bus:
        yield bus


def paying(slug: str, **invoice: str) -> dict[str, Any]:
    # Amsterdam is groot: it pays the fee and needs invoice details.
    return trio(
        slug,
        municipality="GM0363",
        invoice={"address": "Postbus 202\n1000 AE Amsterdam", "reference": f"PO-{slug}", **invoice},
    )


async def register_and_approve(bus: Bus, bodies: list[dict[str, Any]]) -> list[str]:
    ids = [(await register_when_known(bus, bodies[0]))["data"]["registration_id"]]
    for body in bodies[1:]:
        command_id = await bus.send("registration.RegisterTrio", body)
        ids.append((await bus.wait_for("TrioRegistered", correlation_id=command_id))[0]["data"]["registration_id"])
    for rid in ids:
        await bus.send(
            "registration.ApproveRegistration", {"registration_id": rid, "by_organizer": True, "actor": ORGANISER}
        )
    for rid in ids:
        await bus.wait_for("RegistrationApproved", registration_id=rid)
    return ids


async def close(system: System, bus: Bus, slug: str, approved: int) -> None:
    """Close once scheduling holds every approval: closing allocates from the trios it knows as approved then,
    and an approval still on its way would be allocated after the others."""

    async def pooled() -> bool:
        async with httpx.AsyncClient() as client:
            listing = await client.get(
                f"{system['scheduling'].url}/api/editions/{slug}/trios", headers=ORGANIZER, timeout=10
            )
        return listing.status_code == 200 and listing.json()["counts"].get("approved") == approved

    await wait_until(pooled, what=f"{approved} approved trios in scheduling's pool")
    await bus.send("scheduling.CloseRegistration", {"edition": slug})
    await bus.wait_for("RegistrationClosed", edition=slug)


def independent_findings(document: bytes) -> list[str]:
    valid, errors = validate_xsd(document)
    return ([] if valid else errors) + [str(f) for f in check_rules(document) if f.severity == "fatal"]


def attachments(message: Any) -> dict[str, bytes]:
    return {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}


async def test_a_paying_placed_trio_is_invoiced_and_a_free_or_waitlisted_one_is_not(billing: System, bus: Bus) -> None:
    slug = (await schedule(bus, open_edition(capacity={"min_trios": 1, "max_trios": 2})))["data"]["edition"]
    # Veenendaal (middelgroot: free, priority) and the first paying trio get the two places; the second waits.
    free, first, second = await register_and_approve(
        bus, [trio(slug, municipality="GM0345"), paying(slug, email="crediteuren@amsterdam.example"), paying(slug)]
    )
    await close(billing, bus, slug, approved=3)

    (issued,) = await bus.wait_for("InvoiceIssued", edition=slug)
    await bus.wait_for("TrioWaitlisted", registration_id=second)
    assert issued["data"]["registration_id"] == first
    assert (issued["data"]["amount_cents"], issued["data"]["vat_cents"], issued["data"]["total_cents"]) == (
        20000,
        4200,
        24200,
    )
    assert re.fullmatch(r"WP-\d{4}-\d{4}", issued["data"]["invoice_number"])
    assert bus.of("TrioPlaced", registration_id=free) and not bus.of("InvoiceIssued", registration_id=free)
    assert not bus.of("InvoiceIssued", registration_id=second)

    number = issued["data"]["invoice_number"]
    sink: SmtpSink = billing.smtp  # type: ignore[attr-defined]
    (mail,) = await wait_until(
        lambda: [m for m in sink.to("crediteuren@amsterdam.example") if number in str(m["Subject"])],
        what="the invoice mail",
    )
    files = attachments(mail)
    assert files[f"{number}.pdf"].startswith(b"%PDF")
    assert independent_findings(files[f"{number}.xml"]) == []
    assert b"PO-" + slug.encode() in files[f"{number}.xml"]

    async with httpx.AsyncClient() as client:
        by_link = await client.get(issued["data"]["urls"]["ubl"], timeout=10)
        assert by_link.status_code == 200 and by_link.content == files[f"{number}.xml"]
        forged = await client.get(issued["data"]["urls"]["pdf"].split("?")[0] + "?token=forged", timeout=10)
        assert forged.status_code == 401


async def test_twenty_placements_across_two_replicas_give_twenty_consecutive_numbers(billing: System, bus: Bus) -> None:
    slug = (await schedule(bus, open_edition(capacity={"min_trios": 1, "max_trios": 20})))["data"]["edition"]
    await register_and_approve(bus, [paying(slug) for _ in range(20)])
    await close(billing, bus, slug, approved=20)

    issued = await bus.wait_for("InvoiceIssued", count=20, edition=slug, timeout=180)
    sequences = sorted(int(e["data"]["invoice_number"].rsplit("-", 1)[1]) for e in issued)
    assert sequences == list(range(sequences[0], sequences[0] + 20))
    async with httpx.AsyncClient() as client:
        listing = (
            await client.get(
                f"{billing['registration'].url}/api/invoices", params={"edition": slug}, headers=ORGANIZER, timeout=10
            )
        ).json()["invoices"]
    assert len(listing) == 20 and len({i["registration_id"] for i in listing}) == 20
    handled = [await acked(billing[key], "scheduling.TrioPlaced") for key in ("registration", "registration-2")]
    assert sum(handled) >= 20 and all(handled), f"placements handled per replica: {handled}"


async def test_payments_the_overdue_reminder_and_a_cancellation_with_its_credit_note(billing: System, bus: Bus) -> None:
    slug = (await schedule(bus, open_edition(capacity={"min_trios": 1, "max_trios": 1})))["data"]["edition"]
    placed, waiting = await register_and_approve(bus, [paying(slug, email="facturen@amsterdam.example"), paying(slug)])
    await close(billing, bus, slug, approved=2)
    (issued,) = await bus.wait_for("InvoiceIssued", registration_id=placed)
    number = issued["data"]["invoice_number"]

    def pay(amount: int, invoice_number: str = number) -> dict[str, Any]:
        return {
            "invoice_number": invoice_number,
            "amount_cents": amount,
            "paid_at": utcnow().isoformat(),
            "reference": "bankafschrift 12",
        }

    await bus.send("registration.RegisterPayment", pay(10000))
    (payment,) = await bus.wait_for("PaymentRegistered", invoice_number=number)
    assert (payment["data"]["paid_cents"], payment["data"]["open_cents"]) == (10000, 14200)
    for body, code in ((pay(14201), "overpayment"), (pay(100, "WP-1999-0001"), "unknown_invoice")):
        command_id = await bus.send("registration.RegisterPayment", body)
        (rejected,) = await bus.wait_for("CommandRejected", correlation_id=command_id)
        assert [e["code"] for e in rejected["data"]["errors"]] == [code]

    (overdue,) = await bus.wait_for("InvoiceOverdue", invoice_number=number, timeout=PAYMENT_TERM_SECONDS + 60)
    assert overdue["data"]["open_cents"] == 14200
    sink: SmtpSink = billing.smtp  # type: ignore[attr-defined]
    (reminder,) = await wait_until(
        lambda: [m for m in sink.to("facturen@amsterdam.example") if str(m["Subject"]).startswith("Herinnering")],
        what="the reminder",
    )
    assert "€ 142,00" in reminder.get_body(("plain",)).get_content()
    assert len(bus.of("InvoiceOverdue", invoice_number=number)) == 1

    await bus.send("registration.CancelRegistration", {"registration_id": placed, "reason": "Andere prioriteiten"})
    (credit,) = await bus.wait_for("CreditNoteIssued", invoice_number=number)
    credit_number = credit["data"]["credit_note_number"]
    (credit_mail,) = await wait_until(
        lambda: [m for m in sink.to("facturen@amsterdam.example") if credit_number in str(m["Subject"])],
        what="the credit note mail",
    )
    assert independent_findings(attachments(credit_mail)[f"{credit_number}.xml"]) == []
    # The freed place goes to the waiting trio, which is invoiced now.
    await bus.wait_for("InvoiceIssued", registration_id=waiting)

    async def dashboard_shows_the_amounts() -> str | None:
        async with httpx.AsyncClient() as client:
            page = (await client.get(f"{billing['reporting'].url}/dashboard", headers=ORGANIZER, timeout=10)).text
        return page if 'data-invoices="credited">€ 242' in page else None

    await wait_until(dashboard_shows_the_amounts, what="reporting's invoice amounts")
    async with httpx.AsyncClient() as client:
        export = await client.get(
            f"{billing['reporting'].url}/dashboard/{slug}/invoices.csv", headers=ORGANIZER, timeout=10
        )
    assert export.status_code == 200 and number in export.text and credit_number in export.text
