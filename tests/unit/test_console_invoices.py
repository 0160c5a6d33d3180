"""The console's invoices on the whole system in one process: a placed trio's invoice is listed (by edition and
state), its page shows amounts, payments and documents; an organiser records a payment typed the Dutch way
("242,00") and credits an invoice without cancelling, by page and by API, each in the audit log; a viewer reads
but may not act."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from frontends.console.web.invoice_pages import amount_cents
from tests.console_support import Console, invoiced_trio, running_console
from tests.support import hidden

API = "/console/api/invoices"


@pytest.fixture
async def console(tmp_path) -> AsyncIterator[Console]:
    async with running_console(tmp_path / "var") as running:
        yield running


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("242,00", 24200), ("242", 24200), ("€ 242,5", 24250), ("1.242,00", 124200), ("242.00", None), ("twee", None)],
)
def test_an_amount_is_read_the_dutch_way_with_a_decimal_comma(typed: str, cents: int | None) -> None:
    assert amount_cents(typed) == cents


async def post_form(client: httpx.AsyncClient, page: str, action: str, **fields: str) -> httpx.Response:
    """A form posted from the invoice's page, with that page's CSRF token."""
    shown = await client.get(page)
    return await client.post(f"{page}/{action}", data={"csrf": hidden(shown.text, "csrf"), **fields})


async def test_a_payment_recorded_on_the_page_in_euros_makes_the_invoice_read_back_paid(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    invoice = await invoiced_trio(console, organiser, "2028-facturen")
    number = invoice["invoice_number"]
    assert invoice["total_cents"] == 24200 and invoice["state"] == "open"  # 200 euro plus 21% VAT

    async with console.browser("bea@platform31.nl", "organiser") as browser:
        listed = await browser.get("/console/invoices", params={"edition": "2028-facturen", "state": "open"})
        assert listed.status_code == 200 and number in listed.text and "Gemeente Utrecht" in listed.text
        page = f"/console/invoices/{number}"
        shown = (await browser.get(page)).text
        assert "Betaling vastleggen" in shown and "€ 242,00" in shown
        wrong = await post_form(browser, page, "payment", amount="twee", paid_on="2028-01-15", reference="")
        assert wrong.status_code == 422 and 'id="payment-amount-error"' in wrong.text
        too_much = await post_form(browser, page, "payment", amount="300,00", paid_on="2028-01-15", reference="")
        assert too_much.status_code == 422 and "hoger dan wat er op factuur" in too_much.text
        paid = await post_form(browser, page, "payment", amount="242,00", paid_on="2028-01-15", reference="afschrift 7")
        assert paid.status_code == 303 and paid.headers["location"].endswith("?gedaan=betaald")
        after = (await browser.get(paid.headers["location"])).text
        assert "De betaling is vastgelegd." in after and "afschrift 7" in after and "Betaling vastleggen" not in after
        assert "<td>15 januari 2028</td>" in after  # the value date as typed, though stored in UTC
        pdf = await browser.get(f"{API}/{number}/documents/invoice.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    detail = (await console.api("GET", f"{API}/{number}", organiser)).json()
    assert (detail["state"], detail["open_cents"]) == ("paid", 0)
    assert [(p["amount_cents"], p["reference"]) for p in detail["payments"]] == [(24200, "afschrift 7")]
    paid_list = (await console.api("GET", API, organiser, params={"state": "paid"})).json()["invoices"]
    assert [i["invoice_number"] for i in paid_list] == [number]
    again = await console.api(
        "POST", f"{API}/{number}/payments", organiser, json={"amount_cents": 100, "paid_at": "2028-01-16T00:00:00Z"}
    )
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "already_paid"
    audit = (await console.api("GET", "/console/api/audit?limit=20", organiser)).json()["items"]
    assert any(i["action"] == "RegisterPayment" and i["subject"] == f"invoice:{number}" for i in audit)


async def test_an_invoice_is_credited_without_cancelling_and_its_credit_note_can_be_fetched(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    invoice = await invoiced_trio(console, organiser, "2028-credit")
    number = invoice["invoice_number"]
    nothing = await console.api("POST", f"{API}/{number}/credit-note", organiser, json={"reason": ""})
    assert nothing.status_code == 422 and nothing.json()["errors"][0]["field"] == "reason"
    credited = await console.api(
        "POST", f"{API}/{number}/credit-note", organiser, json={"reason": "Verkeerde inkoopreferentie"}
    )
    assert credited.status_code == 201, credited.text
    note = credited.json()["credit_note_number"]
    twice = await console.api("POST", f"{API}/{number}/credit-note", organiser, json={"reason": "nog eens"})
    assert twice.status_code == 409 and twice.json()["errors"][0]["code"] == "already_credited"
    detail = (await console.api("GET", f"{API}/{number}", organiser)).json()
    assert detail["state"] == "credited" and detail["credit_note"]["reason"] == "Verkeerde inkoopreferentie"
    ubl = await console.api("GET", detail["documents"]["credit-note.xml"], organiser)
    assert ubl.status_code == 200 and note in ubl.text
    registration = await console.api("GET", f"/console/api/registrations/{detail['registration_id']}", organiser)
    assert registration.json()["status"] == "placed"
    unknown = await console.api("POST", f"{API}/WP-1999-0001/credit-note", organiser, json={"reason": "x"})
    assert unknown.status_code == 404


async def test_a_viewer_sees_the_invoices_but_may_not_record_a_payment(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    number = (await invoiced_trio(console, organiser, "2028-meelezen"))["invoice_number"]
    viewer = await console.token("vera@platform31.nl", "viewer")
    listed = await console.api("GET", API, viewer)
    assert listed.status_code == 200 and [i["invoice_number"] for i in listed.json()["invoices"]] == [number]
    body = {"amount_cents": 24200, "paid_at": "2028-01-15T00:00:00+01:00"}
    refused = await console.api("POST", f"{API}/{number}/payments", viewer, json=body)
    assert refused.status_code == 403
    async with console.browser("wim@platform31.nl", "viewer") as browser:
        page = await browser.get(f"/console/invoices/{number}")
        assert page.status_code == 200 and "Betaling vastleggen" not in page.text
        assert (await browser.post(f"/console/invoices/{number}/payment", data={"amount": "1"})).status_code == 403
    assert (await console.api("GET", f"{API}/{number}", organiser)).json()["state"] == "open"


async def test_the_invoice_mail_is_sent_again_from_the_page(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    number = (await invoiced_trio(console, organiser, "2028-opnieuw"))["invoice_number"]
    async with console.browser("bea@platform31.nl", "organiser") as browser:
        page = f"/console/invoices/{number}"
        sent = await post_form(browser, page, "resend")
        assert sent.status_code == 303 and sent.headers["location"].endswith("?gedaan=opnieuw")
        assert "De factuur gaat opnieuw per e-mail" in (await browser.get(sent.headers["location"])).text
    unknown = await console.api("POST", f"{API}/WP-1999-0001/resend", organiser)
    assert unknown.status_code == 404
    audit = (await console.api("GET", "/console/api/audit?limit=20", organiser)).json()["items"]
    assert any(i["action"] == "ResendInvoice" and i["subject"] == f"invoice:{number}" for i in audit)
