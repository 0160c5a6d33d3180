"""Invoicing over HTTP, on registration's own SQLite store: who may fetch the documents, recording payments, and
erasure leaving the invoice as issued."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from services.registration import consumes
from services.registration.adapters import Inbox, Outbox, RegistrationStore, SqlBilling
from services.registration.adapters.tables import CreditNoteRow
from services.registration.bootstrap import MIGRATIONS
from services.registration.invoice_routes import invoice_links_of, invoice_routes
from services.registration.tokens import ApprovalLinks, InvoiceLinks
from services.registration.web import web_routes
from shared.contract.registration import (
    CancelRegistration,
    EraseParticipantData,
    IssueCreditNote,
    RegisterTrio,
    RegistrationCommandRejected,
    ResendInvoice,
)
from shared.db import Database, migrate, utcnow
from shared.links import sign
from shared.messaging.messages import Incoming
from shared.settings import Settings
from tests.integration.test_invoicing_counter import MUNICIPALITIES, POLICY, paying_trio, placed
from tests.integration.test_registration_store import schedule_edition

TOKEN = "organiser-token"
ORGANIZER = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "unit-secret"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[RegistrationStore]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'registration.sqlite3'}")
    await migrate(db, MIGRATIONS, "registration")
    store = RegistrationStore(
        db,
        "registration",
        Outbox,
        Inbox,
        RegistrationCommandRejected,
        approvals=ApprovalLinks(SECRET, "http://testserver", timedelta(days=14)),
        billing=POLICY,
        invoice_links=InvoiceLinks(SECRET, "http://testserver"),
    )
    await schedule_edition(store)
    yield store
    await db.dispose()


@pytest.fixture
async def client(store: RegistrationStore) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=invoice_routes(store, consumes.consumers(store, MUNICIPALITIES), TOKEN))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


async def invoiced(store: RegistrationStore, tag: str = "r") -> tuple[str, str]:
    command = Incoming(
        body=json.dumps(paying_trio(tag)).encode(),
        routing_key="registration.RegisterTrio",
        message_id=str(uuid.uuid4()),
        message_type="RegisterTrio",
    )
    registration_id = str(
        (await consumes.consumers(store, MUNICIPALITIES).command(RegisterTrio, command)).ids["registration_id"]
    )
    await consumes.consumers(store, MUNICIPALITIES)["scheduling.TrioPlaced"](placed(registration_id))
    links = await invoice_links_of(store, registration_id)
    assert links is not None
    return registration_id, links["number"]


async def test_the_status_page_links_the_invoice_and_then_its_credit_note(store: RegistrationStore) -> None:
    registration_id, number = await invoiced(store)
    # Plain http on this machine: development, so the CSRF cookie is not Secure and the test client sends it back.
    settings = Settings(werkplaatsen_secret_key=SECRET, werkplaatsen_public_url="http://localhost")
    app = Starlette(routes=web_routes(store, consumes.consumers(store, MUNICIPALITIES), MUNICIPALITIES, settings))
    status = f"/registrations/{registration_id}?token={sign(SECRET, 'status', registration_id)}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as web:
        page = (await web.get(status)).text
        assert f"Factuur {number}" in page and "Nog te betalen: € 242,00" in page  # 200 euro plus 21% VAT
        assert f'href="http://testserver/invoices/{number}.pdf?token=' in page
        cancel = Incoming(
            body=json.dumps({"registration_id": registration_id}).encode(),
            routing_key="registration.CancelRegistration",
            message_id=str(uuid.uuid4()),
            message_type="CancelRegistration",
        )
        await consumes.consumers(store, MUNICIPALITIES).command(CancelRegistration, cancel)
        after = (await web.get(status)).text
    assert "Gecrediteerd met creditnota WP-C-" in after and "Nog te betalen" not in after


def path_of(url: str) -> str:
    return url.removeprefix("http://testserver")


async def test_the_trios_signed_link_opens_its_own_invoice_and_no_other(
    store: RegistrationStore, client: httpx.AsyncClient
) -> None:
    first, first_number = await invoiced(store, "a")
    _, second_number = await invoiced(store, "b")
    links = await invoice_links_of(store, first)
    assert links is not None
    pdf = await client.get(path_of(links["pdf"]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf" and "no-store" in pdf.headers["cache-control"]
    token = links["pdf"].split("token=")[1]
    assert (await client.get(f"/invoices/{second_number}.pdf?token={token}")).status_code == 401
    assert (await client.get(f"/invoices/{first_number}.xml")).status_code == 401
    organiser = await client.get(f"/invoices/{second_number}.xml", headers=ORGANIZER)
    assert organiser.status_code == 200 and second_number.encode() in organiser.content


async def test_organisers_record_a_partial_payment_and_get_clear_refusals(
    store: RegistrationStore, client: httpx.AsyncClient
) -> None:
    _, number = await invoiced(store)
    paid_at = utcnow().isoformat()  # a client repeating its request sends the same body

    async def pay(amount: int, invoice_number: str = number, **headers: str) -> httpx.Response:
        body: dict[str, Any] = {"amount_cents": amount, "paid_at": paid_at, "reference": "afschrift 3"}
        return await client.post(
            f"/api/invoices/{invoice_number}/payments", json=body, headers={**ORGANIZER, **headers}
        )

    partial = await pay(4200, **{"Idempotency-Key": "payment-1"})
    assert partial.status_code == 200 and partial.json()["open_cents"] == 20000
    assert (await pay(4200, **{"Idempotency-Key": "payment-1"})).json()["open_cents"] == 20000  # once
    over = await pay(20001)
    assert over.status_code == 422 and over.json()["errors"][0]["code"] == "overpayment"
    unknown = await pay(100, "WP-1999-0001")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == "unknown_invoice"
    assert (await client.post(f"/api/invoices/{number}/payments", json={})).status_code == 401
    (listed,) = (await client.get("/api/invoices", headers=ORGANIZER)).json()["invoices"]
    assert (listed["paid_cents"], listed["open_cents"], listed["overdue"]) == (4200, 20000, False)


async def erase(store: RegistrationStore, registration_id: str) -> None:
    erase = Incoming(
        body=json.dumps({"registration_id": registration_id, "actor": ORGANISER_ACTOR}).encode(),
        routing_key="registration.EraseParticipantData",
        message_id=str(uuid.uuid4()),
        message_type="EraseParticipantData",
    )
    assert (await consumes.consumers(store, MUNICIPALITIES).command(EraseParticipantData, erase)).status == "accepted"


async def test_erasing_the_participants_data_keeps_what_the_law_asks_of_the_invoice_and_not_their_address(
    store: RegistrationStore, client: httpx.AsyncClient
) -> None:
    # No invoice mailbox given: the invoice went to the first wijkambtenaar, whose address is the buyer's
    # electronic address (BT-49) in the documents.
    registration_id, number = await invoiced(store)
    await credit(store, number)
    before = (await client.get(f"/invoices/{number}.xml", headers=ORGANIZER)).content
    pdf = (await client.get(f"/invoices/{number}.pdf", headers=ORGANIZER)).content
    assert b"anna.r@utrecht.example" in before

    await erase(store, registration_id)

    async with store.db.sessions() as session:
        invoice = await SqlBilling(session).get(number)
        (credit_note,) = (await session.execute(select(CreditNoteRow))).scalars()
    after = (await client.get(f"/invoices/{number}.xml", headers=ORGANIZER)).content
    assert b"utrecht.example" not in after and b"utrecht.example" not in credit_note.ubl
    assert after.replace(b"[verwijderd]", b"anna.r@utrecht.example") == before  # the rest as issued
    assert (await client.get(f"/invoices/{number}.pdf", headers=ORGANIZER)).content == pdf  # it never showed it
    assert invoice is not None and invoice.recipient.email == "[verwijderd]"
    assert invoice.buyer.endpoint_email == "[verwijderd]"
    assert invoice.buyer.reference.startswith("PO-")  # the municipality's reference is no personal data
    assert (invoice.number, invoice.amounts.total_cents, invoice.buyer.name) == (number, 24200, "Gemeente Utrecht")


async def test_erasing_the_participants_data_leaves_documents_sent_to_the_municipalitys_own_mailbox_as_issued(
    store: RegistrationStore, client: httpx.AsyncClient
) -> None:
    body = paying_trio("m")
    body["invoice"]["email"] = "facturen@utrecht.example"
    command = Incoming(
        body=json.dumps(body).encode(), routing_key="registration.RegisterTrio", message_id=str(uuid.uuid4())
    )
    consumers = consumes.consumers(store, MUNICIPALITIES)
    registration_id = str((await consumers.command(RegisterTrio, command)).ids["registration_id"])
    await consumers["scheduling.TrioPlaced"](placed(registration_id))
    links = await invoice_links_of(store, registration_id)
    assert links is not None
    before = (await client.get(f"/invoices/{links['number']}.xml", headers=ORGANIZER)).content

    await erase(store, registration_id)

    assert (await client.get(f"/invoices/{links['number']}.xml", headers=ORGANIZER)).content == before


ORGANISER_ACTOR = {"account_id": "5b0f6c1e-2d47-4a1b-9f0e-6c7d8e9fa012", "role": "organiser", "via": "console"}


async def credit(store: RegistrationStore, number: str, **changes: Any) -> Any:
    body = {"invoice_number": number, "reason": "Verkeerde inkoopreferentie", "actor": ORGANISER_ACTOR, **changes}
    command = Incoming(
        body=json.dumps({k: v for k, v in body.items() if v is not None}).encode(),
        routing_key="registration.IssueCreditNote",
        message_id=str(uuid.uuid4()),
        message_type="IssueCreditNote",
    )
    return await consumes.consumers(store, MUNICIPALITIES).command(IssueCreditNote, command)


async def test_an_organiser_credits_an_invoice_once_without_cancelling_the_registration(
    store: RegistrationStore, client: httpx.AsyncClient
) -> None:
    registration_id, number = await invoiced(store)
    issued = await credit(store, number)
    assert issued.status == "accepted" and issued.ids["credit_note_number"].startswith("WP-C-")
    note = issued.ids["credit_note_number"]
    ubl = (await client.get(f"/credit-notes/{note}.xml", headers=ORGANIZER)).text
    assert "Verkeerde inkoopreferentie; creditering van factuur " + number in ubl
    detail = (await client.get(f"/api/invoices/{number}", headers=ORGANIZER)).json()
    assert detail["state"] == "credited" and detail["open_cents"] == 0
    assert detail["credit_note"]["number"] == note and detail["credit_note"]["reason"] == "Verkeerde inkoopreferentie"
    again = await credit(store, number)
    assert again.status == "rejected" and [e.code for e in again.errors] == ["already_credited"]
    cancel = Incoming(
        body=json.dumps({"registration_id": registration_id}).encode(),
        routing_key="registration.CancelRegistration",
        message_id=str(uuid.uuid4()),
        message_type="CancelRegistration",
    )
    # The registration was still active; cancelling it now makes no second credit note.
    assert (await consumes.consumers(store, MUNICIPALITIES).command(CancelRegistration, cancel)).status == "accepted"
    listed = (await client.get("/api/invoices", params={"state": "credited"}, headers=ORGANIZER)).json()["invoices"]
    assert [(i["invoice_number"], i["credit_note_number"]) for i in listed] == [(number, note)]


async def test_crediting_needs_an_organiser_and_an_invoice_that_exists(store: RegistrationStore) -> None:
    _, number = await invoiced(store)
    unknown = await credit(store, "WP-1999-0001")
    assert unknown.status == "rejected" and [e.code for e in unknown.errors] == ["unknown_invoice"]
    nobody = await credit(store, number, actor=None)
    assert [e.code for e in nobody.errors] == ["actor_required"]
    viewer = await credit(store, number, actor={**ORGANISER_ACTOR, "role": "viewer"})
    assert [e.code for e in viewer.errors] == ["actor_not_organiser"]
    empty = await credit(store, number, reason="")
    assert empty.status == "rejected" and empty.errors[0].field == "reason"


async def test_the_list_narrows_to_a_state_and_a_limit_and_one_invoice_shows_its_payments(
    store: RegistrationStore, client: httpx.AsyncClient
) -> None:
    _, paid = await invoiced(store, "a")
    _, still_open = await invoiced(store, "b")
    body = {"amount_cents": 24200, "paid_at": "2027-10-14T00:00:00+02:00", "reference": "afschrift 7"}
    assert (await client.post(f"/api/invoices/{paid}/payments", json=body, headers=ORGANIZER)).status_code == 200

    async def numbers(**params: str) -> list[str]:
        answer = await client.get("/api/invoices", params=params, headers=ORGANIZER)
        return [i["invoice_number"] for i in answer.json()["invoices"]]

    assert await numbers(state="paid") == [paid]
    assert await numbers(state="open") == [still_open]
    assert await numbers(state="overdue") == [] and await numbers(limit="1") == [paid]
    bad = await client.get("/api/invoices", params={"state": "unpaid", "limit": "5"}, headers=ORGANIZER)
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "invalid_state"
    assert (await client.get("/api/invoices", params={"limit": "0"}, headers=ORGANIZER)).status_code == 422
    detail = (await client.get(f"/api/invoices/{paid}", headers=ORGANIZER)).json()
    assert detail["state"] == "paid" and detail["credit_note"] is None
    assert [(p["amount_cents"], p["reference"]) for p in detail["payments"]] == [(24200, "afschrift 7")]
    assert (await client.get("/api/invoices/WP-1999-0001", headers=ORGANIZER)).status_code == 404
    assert (await client.get(f"/api/invoices/{paid}")).status_code == 401


async def resend(store: RegistrationStore, number: str, **changes: Any) -> Any:
    body = {"invoice_number": number, "actor": ORGANISER_ACTOR, **changes}
    command = Incoming(
        body=json.dumps({k: v for k, v in body.items() if v is not None}).encode(),
        routing_key="registration.ResendInvoice",
        message_id=str(uuid.uuid4()),
        message_type="ResendInvoice",
    )
    return await consumes.consumers(store, MUNICIPALITIES).command(ResendInvoice, command)


async def outbox_events(store: RegistrationStore, routing_key: str) -> list[dict[str, Any]]:
    async with store.db.sessions() as session:
        rows = (await session.execute(select(Outbox).where(Outbox.routing_key == routing_key))).scalars()
        return [json.loads(row.body)["data"] for row in rows]


async def test_an_invoice_is_resent_with_its_documents_as_issued_until_it_is_credited(
    store: RegistrationStore, client: httpx.AsyncClient
) -> None:
    _, number = await invoiced(store)
    (issued,) = await outbox_events(store, "registration.InvoiceIssued")
    assert (await resend(store, number)).status == "accepted"
    (again,) = await outbox_events(store, "registration.InvoiceResent")
    assert again["attachments"] == issued["attachments"] and again["recipient"] == issued["recipient"]
    assert (again["invoice_number"], again["total_cents"], again["due_date"]) == (
        number,
        issued["total_cents"],
        issued["due_date"],
    )
    assert [e.code for e in (await resend(store, "WP-1999-0001")).errors] == ["unknown_invoice"]
    assert [e.code for e in (await resend(store, number, actor=None)).errors] == ["actor_required"]
    assert (await credit(store, number)).status == "accepted"
    assert [e.code for e in (await resend(store, number)).errors] == ["invoice_credited"]
