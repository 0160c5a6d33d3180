"""The pure billing rules: who is invoiced, numbers, VAT, due dates, the recipient, payments, overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.registration.billing import (
    BillingPolicy,
    InvoiceFacts,
    Seller,
    VatRule,
    amounts,
    invoice_number,
    invoice_year,
    is_overdue,
    needs_invoice,
    new_invoice,
    parse_address,
    payment_problems,
    recipient,
)
from services.registration.config import RegistrationConfig
from shared.contract.common import Language, Role
from shared.contract.registration import Fee
from shared.formatting import euro

SELLER = Seller(
    "Platform31",
    "Koninginnegracht 19",
    "2514 AB",
    "Den Haag",
    "12345678",
    "NL000099998B57",
    "NL91ABNA0417164300",
    "werkplaatsen@platform31.nl",
)
POLICY = BillingPolicy(seller=SELLER, vat=VatRule(Decimal(21)), payment_term=timedelta(days=30))
NOW = datetime(2027, 9, 27, 10, 0, tzinfo=UTC)
MEMBERS = [
    ("bram@ede.example", Role.sectorambtenaar, Language.nl),
    ("anna@ede.example", Role.wijkambtenaar, Language.en),
    ("chris@ede.example", Role.wijkambtenaar, Language.nl),
]


def facts(**changes: object) -> InvoiceFacts:
    values: dict[str, object] = dict(
        registration_id="r1",
        edition="2027-najaar",
        edition_title="Werkplaatsen wijkgericht werken",
        municipality_code="GM0228",
        municipality_name="Ede",
        fee=Fee(amount_cents=20000, waived=False),
        invoice_address="Postbus 9022\n6710 HK Ede",
        invoice_reference="INK-0815",
        invoice_email=None,
        members=MEMBERS,
    )
    values.update(changes)
    return InvoiceFacts(**values)  # type: ignore[arg-type]


def test_a_waived_or_zero_fee_is_not_invoiced_and_a_due_one_is() -> None:
    assert not needs_invoice(Fee(amount_cents=0, waived=True, reason="middelgroot"))
    assert not needs_invoice(Fee(amount_cents=0, waived=False))
    assert needs_invoice(Fee(amount_cents=20000, waived=False))


def test_invoice_numbers_carry_the_year_and_four_digits() -> None:
    assert invoice_number("WP", 2027, 1) == "WP-2027-0001"
    assert invoice_number("WP-C", 2027, 12) == "WP-C-2027-0012"


def test_the_numbering_year_turns_at_midnight_in_amsterdam_not_utc() -> None:
    assert invoice_year(datetime(2027, 12, 31, 23, 0, tzinfo=UTC)) == 2028  # midnight in Amsterdam (UTC+1)
    assert invoice_year(datetime(2027, 12, 31, 22, 59, tzinfo=UTC)) == 2027


def test_vat_is_the_configured_rate_rounded_half_up_and_an_exemption_is_zero() -> None:
    assert amounts(20000, VatRule(Decimal(21))).total_cents == 24200
    assert amounts(1250, VatRule(Decimal(21))).vat_cents == 263  # 262.5 rounds up
    exempt = VatRule(Decimal(21), exemption_reason="Vrijgesteld onderwijs")
    assert (exempt.category, exempt.percent) == ("E", Decimal(0))
    assert amounts(20000, exempt).total_cents == 20000


def test_the_due_date_is_the_payment_term_after_the_invoice_date() -> None:
    invoice = new_invoice(facts(), "WP-2027-0001", POLICY, NOW)
    assert (invoice.issue_date.isoformat(), invoice.due_date.isoformat()) == ("2027-09-27", "2027-10-27")


def test_the_buyer_is_the_municipality_with_its_address_and_reference_and_no_persons_name() -> None:
    invoice = new_invoice(facts(), "WP-2027-0001", POLICY, NOW)
    buyer = invoice.buyer
    assert (buyer.name, buyer.address_lines, buyer.postcode, buyer.city, buyer.reference) == (
        "Gemeente Ede",
        ("Postbus 9022",),
        "6710 HK",
        "Ede",
        "INK-0815",
    )
    assert "Anna" not in repr(buyer) and "Deelname van een trio" in invoice.description


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Stadhuisplein 1\n3511 LZ Utrecht", (("Stadhuisplein 1",), "3511 LZ", "Utrecht")),
        (
            "Afdeling Financiën, Postbus 16200, 3500ce  Utrecht",
            (("Afdeling Financiën", "Postbus 16200"), "3500 CE", "Utrecht"),
        ),
        ("Ergens zonder postcode", (("Ergens zonder postcode",), "", "Ede")),
    ],
)
def test_an_address_typed_as_lines_gives_street_postcode_and_city(text: str, expected: tuple) -> None:
    assert parse_address(text, "Ede") == expected


def test_invoices_go_to_the_invoice_mailbox_in_dutch_or_else_to_the_first_wijkambtenaar_in_their_language() -> None:
    assert recipient("Facturen@Ede.example", MEMBERS) == recipient("facturen@ede.example", MEMBERS)
    assert recipient("facturen@ede.example", MEMBERS).language == Language.nl
    fallback = recipient(None, MEMBERS)
    assert (fallback.email, fallback.language) == ("anna@ede.example", Language.en)


def test_a_partial_payment_is_accepted_and_an_overpayment_or_unknown_invoice_refused_in_dutch() -> None:
    invoice = new_invoice(facts(), "WP-2027-0001", POLICY, NOW)
    assert payment_problems(invoice, 10000) == []
    invoice.paid_cents = 10000
    assert invoice.open_cents == 14200
    (over,) = payment_problems(invoice, 14201)
    assert (over.code, over.field) == ("overpayment", "amount_cents")
    assert "€ 142,01" in over.message and "€ 142,00" in over.message
    (unknown,) = payment_problems(None, 100)
    assert (unknown.code, unknown.field) == ("unknown_invoice", "invoice_number")


def test_a_paid_or_credited_invoice_takes_no_more_payments() -> None:
    invoice = new_invoice(facts(), "WP-2027-0001", POLICY, NOW)
    invoice.paid_cents = invoice.amounts.total_cents
    assert [p.code for p in payment_problems(invoice, 1)] == ["already_paid"]
    invoice.paid_cents, invoice.credit_note_number = 0, "WP-C-2027-0001"
    assert [p.code for p in payment_problems(invoice, 1)] == ["invoice_credited"]


def test_an_invoice_is_overdue_once_past_its_due_moment_while_something_is_open() -> None:
    invoice = new_invoice(facts(), "WP-2027-0001", POLICY, NOW)
    assert not is_overdue(invoice, NOW + timedelta(days=29))
    assert is_overdue(invoice, NOW + timedelta(days=30))
    invoice.overdue_at = NOW + timedelta(days=30)
    assert not is_overdue(invoice, NOW + timedelta(days=40))  # flagged already: once


def test_a_paid_or_credited_invoice_is_never_overdue() -> None:
    paid = new_invoice(facts(), "WP-2027-0001", POLICY, NOW)
    paid.paid_cents = paid.amounts.total_cents
    credited = new_invoice(facts(), "WP-2027-0002", POLICY, NOW)
    credited.credit_note_number = "WP-C-2027-0001"
    assert not is_overdue(paid, NOW + timedelta(days=60)) and not is_overdue(credited, NOW + timedelta(days=60))


def test_amounts_are_written_the_dutch_way() -> None:
    assert (euro(24200), euro(123456789)) == ("€ 242,00", "€ 1.234.567,89")


def test_production_refuses_the_development_stand_ins_for_the_sellers_registrations() -> None:
    RegistrationConfig().require_real_seller("http://localhost:8000")
    with pytest.raises(SystemExit, match="REGISTRATION_SELLER_KVK"):
        RegistrationConfig().require_real_seller("https://werkplaatsen.platform31.nl")
    RegistrationConfig(
        seller_kvk="27169301", seller_vat_number="NL123456789B01", seller_iban="NL02RABO0123456789"
    ).require_real_seller("https://werkplaatsen.platform31.nl")
