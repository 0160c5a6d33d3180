"""Invoice numbers and billing on real PostgreSQL: gapless and unique across replicas, given back on rollback;
one invoice per placed trio, credit notes, payments and one overdue flag with competing replicas."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from services.registration import consumes, entrypoints
from services.registration.adapters import Inbox, InvoiceRow, Outbox, RegistrationStore, SqlBilling, load_municipalities
from services.registration.billing import INVOICE_SERIES, BillingPolicy, Seller, VatRule, invoice_year
from services.registration.bootstrap import MIGRATIONS
from services.registration.config import RegistrationConfig
from services.registration.tokens import ApprovalLinks, InvoiceLinks
from shared.contract.registration import CancelRegistration, RegisterPayment, RegisterTrio, RegistrationCommandRejected
from shared.db import Database, migrate, utcnow
from shared.messaging.messages import Incoming
from tests.factories import by_organiser
from tests.integration.test_registration_store import schedule_edition
from tests.support import database_url

pytestmark = pytest.mark.integration

SECRET = "integration-secret"
MUNICIPALITIES = load_municipalities(RegistrationConfig())
POLICY = BillingPolicy(
    seller=Seller(
        "Platform31",
        "Koninginnegracht 19",
        "2514 AB",
        "Den Haag",
        "12345678",
        "NL000099998B57",
        "NL91ABNA0417164300",
        "werkplaatsen@platform31.nl",
    ),
    vat=VatRule(Decimal(21)),
    payment_term=timedelta(days=30),
)


def replica(url: str) -> RegistrationStore:
    return RegistrationStore(
        Database(url, pool_size=3),
        "registration",
        Outbox,
        Inbox,
        RegistrationCommandRejected,
        approvals=ApprovalLinks(SECRET, "https://werkplaatsen.example", timedelta(days=14)),
        billing=POLICY,
        invoice_links=InvoiceLinks(SECRET, "https://werkplaatsen.example"),
    )


@pytest.fixture
async def replicas(pg_database) -> AsyncIterator[list[RegistrationStore]]:
    url = database_url(await pg_database("invoicing"))
    stores = [replica(url), replica(url)]
    await migrate(stores[0].db, MIGRATIONS, "registration")
    await schedule_edition(stores[0])
    yield stores
    for store in stores:
        await store.db.dispose()


async def take_number(store: RegistrationStore, year: int = 2027, *, fail: bool = False) -> int:
    async with store.db.transaction() as session:
        number = await SqlBilling(session).next_number(INVOICE_SERIES, year)
        await asyncio.sleep(0.01)  # hold the counter a moment, as a transaction making an invoice does
        if fail:
            raise RuntimeError("the invoice could not be stored")
    return number


async def test_twenty_numbers_taken_at_once_by_two_replicas_are_one_to_twenty(replicas) -> None:
    numbers = await asyncio.gather(*(take_number(replicas[i % 2]) for i in range(20)))
    assert sorted(numbers) == list(range(1, 21))


async def test_a_rolled_back_invoice_gives_its_number_back(replicas) -> None:
    assert await take_number(replicas[0]) == 1
    with pytest.raises(RuntimeError):
        await take_number(replicas[1], fail=True)
    assert await take_number(replicas[0]) == 2


async def test_each_year_starts_at_one(replicas) -> None:
    assert [
        await take_number(replicas[0], 2027),
        await take_number(replicas[0], 2027),
        await take_number(replicas[0], 2028),
    ] == [1, 2, 1]


# The whole path, as the consumers run it


def paying_trio(tag: str) -> dict[str, Any]:
    return {
        "edition": "2027-najaar",
        "municipality": "GM0344",  # Utrecht: groot, pays the fee
        "members": [
            {"name": "Anna", "email": f"anna.{tag}@utrecht.example", "role": "wijkambtenaar", "domain": "sociaal"},
            {"name": "Bram", "email": f"bram.{tag}@utrecht.example", "role": "sectorambtenaar", "domain": "fysiek"},
            {"name": "Chloé", "email": f"chloe.{tag}@utrecht.example", "role": "sectorambtenaar", "domain": "economie"},
        ],
        "case": {
            "title": "Groene pleinen",
            "neighbourhood": "Kanaleneiland",
            "summary": "Samen met bewoners.",
            "domains": ["fysiek", "sociaal"],
        },
        "approver": {"name": "Dirk", "email": f"dirk.{tag}@utrecht.example"},
        "consent": {"privacy": True},
        "invoice": {"address": "Postbus 16200\n3500 CE Utrecht", "reference": f"PO-{tag}"},
    }


def message(routing_key: str, body: dict[str, Any]) -> Incoming:
    return Incoming(
        body=json.dumps(body).encode(),
        routing_key=routing_key,
        message_id=str(uuid.uuid4()),
        message_type=routing_key.split(".")[1],
        content_type="application/json",
    )


def placed(registration_id: str) -> Incoming:
    envelope = {
        "event_id": str(uuid.uuid4()),
        "type": "TrioPlaced",
        "version": 1,
        "occurred_at": utcnow().isoformat(),
        "producer": "scheduling",
        "correlation_id": "allocation",
        "causation_id": "allocation",
        "data": {"registration_id": registration_id, "edition": "2027-najaar", "via": "allocation"},
    }
    return Incoming(
        body=json.dumps(envelope).encode(),
        routing_key="scheduling.TrioPlaced",
        message_id=envelope["event_id"],
        message_type="TrioPlaced",
    )


async def register(store: RegistrationStore, tag: str) -> str:
    reply = await consumes.consumers(store, MUNICIPALITIES).command(
        RegisterTrio, message("registration.RegisterTrio", paying_trio(tag))
    )
    assert reply.status == "accepted", reply.errors
    return str(reply.ids["registration_id"])


async def events(store: RegistrationStore, routing_key: str) -> list[dict[str, Any]]:
    async with store.db.sessions() as session:
        rows = (
            await session.execute(select(Outbox).where(Outbox.routing_key == routing_key).order_by(Outbox.position))
        ).scalars()
        return [json.loads(row.body)["data"] for row in rows]


async def test_placements_handled_by_two_replicas_invoice_each_trio_once_with_consecutive_numbers(replicas) -> None:
    ids = [await register(replicas[0], f"t{i}") for i in range(6)]
    consumers = [consumes.consumers(store, MUNICIPALITIES)["scheduling.TrioPlaced"] for store in replicas]
    # Every trio placed twice (a second TrioPlaced, e.g. a replay), each delivery to another replica.
    await asyncio.gather(*(consumers[i % 2](placed(rid)) for i, rid in enumerate(ids + ids)))

    issued = await events(replicas[0], "registration.InvoiceIssued")
    year = invoice_year(utcnow())
    assert sorted(e["invoice_number"] for e in issued) == [f"WP-{year}-{n:04d}" for n in range(1, 7)]
    assert sorted(e["registration_id"] for e in issued) == sorted(ids)
    assert {(e["amount_cents"], e["vat_cents"], e["total_cents"]) for e in issued} == {(20000, 4200, 24200)}


async def test_cancelled_trio_gets_a_credit_note_and_payments_are_checked(replicas) -> None:
    store = replicas[0]
    registration_id = await register(store, "c")
    await consumes.consumers(store, MUNICIPALITIES)["scheduling.TrioPlaced"](placed(registration_id))
    (invoice,) = await events(store, "registration.InvoiceIssued")
    number = invoice["invoice_number"]

    def pay(amount: int, invoice_number: str = number) -> Incoming:
        return message(
            "registration.RegisterPayment",
            by_organiser(
                "registration.RegisterPayment",
                {"invoice_number": invoice_number, "amount_cents": amount, "paid_at": utcnow().isoformat()},
            ),
        )

    partial = await consumes.consumers(store, MUNICIPALITIES).command(RegisterPayment, pay(10000))
    assert partial.status == "accepted" and partial.ids["open_cents"] == 14200
    too_much = await consumes.consumers(store, MUNICIPALITIES).command(RegisterPayment, pay(14201))
    assert [e.code for e in too_much.errors] == ["overpayment"]
    unknown = await consumes.consumers(store, MUNICIPALITIES).command(RegisterPayment, pay(100, "WP-1999-0001"))
    assert [e.code for e in unknown.errors] == ["unknown_invoice"]
    assert "kennen we niet" in unknown.errors[0].message

    cancelled = await consumes.consumers(store, MUNICIPALITIES).command(
        CancelRegistration, message("registration.CancelRegistration", {"registration_id": registration_id})
    )
    assert cancelled.status == "accepted"
    (credit,) = await events(store, "registration.CreditNoteIssued")
    assert credit["invoice_number"] == number and credit["credit_note_number"].startswith("WP-C-")
    after = await consumes.consumers(store, MUNICIPALITIES).command(RegisterPayment, pay(100))
    assert [e.code for e in after.errors] == ["invoice_credited"]
    assert [p["open_cents"] for p in await events(store, "registration.PaymentRegistered")] == [14200]


async def test_an_overdue_invoice_is_flagged_once_by_competing_replicas(replicas) -> None:
    registration_id = await register(replicas[0], "o")
    await consumes.consumers(replicas[0], MUNICIPALITIES)["scheduling.TrioPlaced"](placed(registration_id))
    later = utcnow() + timedelta(days=31)
    flagged = await asyncio.gather(*(entrypoints.flag_overdue_invoices(store, later) for store in replicas))
    assert sorted(len(f) for f in flagged) == [0, 1]
    assert len(await events(replicas[0], "registration.InvoiceOverdue")) == 1
    assert await entrypoints.flag_overdue_invoices(replicas[1], later + timedelta(days=1)) == []
    async with replicas[0].db.sessions() as session:
        assert (await session.execute(select(func.count(InvoiceRow.number)))).scalar_one() == 1
