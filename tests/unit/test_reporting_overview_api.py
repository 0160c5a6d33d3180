"""Reporting's overview numbers as JSON (GET /api/overview): counted from its read model, organisers only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from services.reporting import overview_api
from services.reporting.adapters import Inbox, Outbox
from shared.contract.registration import InvoiceIssued, PaymentRegistered
from shared.contract.reporting import ReportingCommandRejected
from shared.messaging.processing import MessageStore
from tests.unit.test_reporting_dashboard import EDITION, FIRST, TOKEN, Overview, bearer, fill, make


@pytest.fixture
async def reporting(tmp_path: Path) -> AsyncIterator[tuple[Overview, httpx.AsyncClient]]:
    service, db = await make(tmp_path, "https://werkplaatsen.example.nl")
    store = MessageStore(db, "reporting", Outbox, Inbox, ReportingCommandRejected)
    app = Starlette(routes=overview_api.routes(store, organizer_token=TOKEN))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as http:
        yield service, http
    await service.http.aclose()
    await db.dispose()


def invoice(number: str, rid: str, total: int) -> InvoiceIssued:
    return InvoiceIssued(
        invoice_number=number,
        registration_id=rid,
        edition=EDITION,
        municipality="GM0344",
        buyer_name="Gemeente Utrecht",
        buyer_reference="PO-1",
        issue_date=date(2027, 9, 10),
        due_date=date(2027, 10, 10),
        amount_cents=total - total // 5,
        vat_cents=total // 5,
        total_cents=total,
        urls={"pdf": "https://x.example/i.pdf", "ubl": "https://x.example/i.xml"},
        recipient={"email": "crediteuren@utrecht.example", "language": "nl"},
        attachments=[],
    )


async def test_the_numbers_per_edition_count_statuses_size_classes_and_paid_and_unpaid_invoices(reporting) -> None:
    await numbers_are_counted(*reporting)


async def numbers_are_counted(service: Overview, http: httpx.AsyncClient) -> None:
    """The specification, also run on PostgreSQL (tests/integration/test_reporting_numbers_postgres.py)."""
    await fill(service)
    await service.deliver(invoice("F2027-0001", "r2", 24200))
    await service.deliver(invoice("F2027-0002", "r9", 24200))
    await service.deliver(
        PaymentRegistered(
            invoice_number="F2027-0001",
            registration_id="r2",
            edition=EDITION,
            amount_cents=24200,
            paid_at=datetime(2027, 9, 20, tzinfo=FIRST.tzinfo),
            paid_cents=24200,
            open_cents=0,
        ),
        occurred_at=FIRST - timedelta(days=5),
    )

    answer = await http.get("/api/overview", headers=bearer())
    assert answer.status_code == 200
    [numbers] = answer.json()["editions"]
    assert numbers["edition"] == EDITION and numbers["title"] == "Werkplaatsen wijkgericht werken"
    assert numbers["registered"] == 4 and numbers["active"] == 3 and numbers["max_trios"] == 2
    assert numbers["by_status"] == {
        "awaiting_approval": 0,
        "approved": 0,
        "placed": 2,
        "waitlisted": 1,
        "cancelled": 0,
        "declined": 1,
    }
    assert numbers["size_classes"]["placed"] == {"klein": 0, "middelgroot": 1, "groot": 1}
    assert numbers["size_classes"]["active"] == {"klein": 1, "middelgroot": 1, "groot": 1}
    assert numbers["medium_sized"] == {"active": 1, "placed": 1}
    assert numbers["placed_fee_waived"] == 1
    assert numbers["invoices"] == {
        "invoices": 2,
        "credited": 0,
        "paid": 1,
        "unpaid": 1,
        "overdue": 0,
        "invoiced_cents": 48400,
        "paid_cents": 24200,
        "open_cents": 24200,
    }
    assert numbers["round_report_published"] is False


async def test_one_edition_is_asked_by_its_slug_and_an_unknown_one_has_no_numbers(reporting) -> None:
    service, http = reporting
    await fill(service)
    one = (await http.get("/api/overview", params={"edition": EDITION}, headers=bearer())).json()["editions"]
    assert [n["edition"] for n in one] == [EDITION]
    assert (await http.get("/api/overview", params={"edition": "2099-voorjaar"}, headers=bearer())).json() == {
        "editions": []
    }
    bad = await http.get("/api/overview", params={"edition": "../x"}, headers=bearer())
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "edition"


async def test_the_numbers_are_for_organisers_only(reporting) -> None:
    _, http = reporting
    assert (await http.get("/api/overview")).status_code == 401
    assert (await http.get("/api/overview", headers={"Authorization": "Bearer wrong"})).status_code == 401
