"""Billing rules: who is invoiced, invoice numbers, amounts and VAT, due dates, payments, overdue, credit notes.
Pure: no I/O. The documents (PDF, UBL) are made from these values in invoices.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from shared.contract import ErrorItem
from shared.contract.common import Language, Role
from shared.contract.registration import Fee
from shared.formatting import AMSTERDAM, euro

INVOICE_SERIES = "invoice"
CREDIT_NOTE_SERIES = "credit_note"
POSTCODE = re.compile(r"^\s*(?P<postcode>\d{4}\s?[A-Za-z]{2})\s+(?P<city>.+?)\s*$")


@dataclass(frozen=True)
class Seller:
    """Platform31 as it appears on every invoice (configuration: REGISTRATION_SELLER_*)."""

    name: str
    street: str
    postcode: str
    city: str
    kvk: str  # Chamber of Commerce number: the legal registration NLCIUS asks of a Dutch seller (BR-NL-1)
    vat_number: str
    iban: str
    email: str
    country: str = "NL"


@dataclass(frozen=True)
class VatRule:
    """The VAT on the fee: a rate (category S), or an exemption with its reason (category E, 0%)."""

    rate: Decimal
    exemption_reason: str | None = None

    @property
    def category(self) -> str:
        return "E" if self.exemption_reason else "S"

    @property
    def percent(self) -> Decimal:
        return Decimal(0) if self.exemption_reason else self.rate


@dataclass(frozen=True)
class Buyer:
    """The municipality, as the registration gave its invoice details. No person's name: none is needed."""

    municipality_code: str
    name: str
    address_lines: tuple[str, ...]
    postcode: str
    city: str
    reference: str  # the municipality's purchase reference (BT-10): it routes the invoice to the right budget
    endpoint_email: str  # the buyer's electronic address (BT-49)
    country: str = "NL"


@dataclass(frozen=True)
class Recipient:
    email: str
    language: Language


@dataclass(frozen=True)
class Amounts:
    net_cents: int
    vat_cents: int

    @property
    def total_cents(self) -> int:
        return self.net_cents + self.vat_cents


@dataclass
class Invoice:
    number: str
    registration_id: str
    edition: str
    description: str  # the one line: the trio's participation in the edition
    issued_at: datetime
    due_at: datetime
    seller: Seller
    buyer: Buyer
    vat: VatRule
    amounts: Amounts
    recipient: Recipient
    paid_cents: int = 0
    overdue_at: datetime | None = None
    credit_note_number: str | None = None

    @property
    def issue_date(self) -> date:
        return local_date(self.issued_at)

    @property
    def due_date(self) -> date:
        return local_date(self.due_at)

    @property
    def credited(self) -> bool:
        return self.credit_note_number is not None

    @property
    def open_cents(self) -> int:
        return 0 if self.credited else max(self.amounts.total_cents - self.paid_cents, 0)


@dataclass
class CreditNote:
    number: str
    invoice: Invoice
    issued_at: datetime
    reason: str = "Annulering van de deelname"

    @property
    def issue_date(self) -> date:
        return local_date(self.issued_at)

    @property
    def amounts(self) -> Amounts:
        return self.invoice.amounts


def local_date(moment: datetime) -> date:
    return moment.astimezone(AMSTERDAM).date()


def invoice_year(now: datetime) -> int:
    """Numbers run per calendar year in the Netherlands, so the year changes at midnight in Amsterdam."""
    return local_date(now).year


def invoice_number(prefix: str, year: int, sequence: int) -> str:
    """`WP-2027-0001`: the prefix, the year and the sequence without gaps within that year."""
    return f"{prefix}-{year}-{sequence:04d}"


def needs_invoice(fee: Fee) -> bool:
    """A waived fee (a medium-sized municipality) or no fee at all: nothing to invoice."""
    return not fee.waived and fee.amount_cents > 0


def amounts(net_cents: int, vat: VatRule) -> Amounts:
    """VAT on the one line, rounded half up to the cent (EN 16931 BR-CO-17: taxable amount x rate)."""
    tax = (Decimal(net_cents) * vat.percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return Amounts(net_cents=net_cents, vat_cents=int(tax))


def due_moment(issued_at: datetime, term: timedelta) -> datetime:
    return issued_at + term


def is_overdue(invoice: Invoice, now: datetime) -> bool:
    """Past its due moment, not paid in full and not credited: due a reminder (once: see overdue_at)."""
    return now >= invoice.due_at and invoice.open_cents > 0 and invoice.overdue_at is None


def parse_address(text: str, fallback_city: str) -> tuple[tuple[str, ...], str, str]:
    """(street lines, postcode, city) of a Dutch address typed as lines; the last `1234 AB City` line gives the
    postcode and city. Without one, the municipality's name stands in as the city (NLCIUS needs a city)."""
    lines = [" ".join(line.split()) for line in text.replace("\r", "\n").replace(",", "\n").split("\n")]
    lines = [line for line in lines if line]
    for index in range(len(lines) - 1, -1, -1):
        match = POSTCODE.match(lines[index])
        if match:
            postcode = match.group("postcode").upper().replace(" ", "")
            return (
                tuple(lines[:index] + lines[index + 1 :]) or (match.group("city"),),
                f"{postcode[:4]} {postcode[4:]}",
                match.group("city"),
            )
    return tuple(lines) or (fallback_city,), "", fallback_city


def recipient(invoice_email: str | None, members: list[tuple[str, Role, Language]]) -> Recipient:
    """`invoice.email` when given (in Dutch: an accounts payable mailbox), else the first wijkambtenaar in their
    own language. `members`: (email, role, language) in the order registered."""
    if invoice_email:
        return Recipient(invoice_email.lower(), Language.nl)
    email, _, language = next((m for m in members if m[1] == Role.wijkambtenaar), members[0])
    return Recipient(email, language)


def error(field: str, code: str, message: str) -> ErrorItem:
    return ErrorItem(field=field, code=code, message=message)


def credit_problems(invoice: Invoice | None) -> list[ErrorItem]:
    """An invoice is credited once, in full; a payment already received stays recorded (the bookkeeping pays it
    back), so a paid invoice can be credited too."""
    if invoice is None:
        return [error("invoice_number", "unknown_invoice", "Dit factuurnummer kennen we niet.")]
    if invoice.credited:
        return [
            error(
                "invoice_number",
                "already_credited",
                f"Factuur {invoice.number} is al gecrediteerd (creditnota {invoice.credit_note_number}).",
            )
        ]
    return []


def resend_problems(invoice: Invoice | None) -> list[ErrorItem]:
    """A credited invoice asks nothing any more; an erased mailbox (a participant's own address) has nobody to
    send to: registration keeps no other address for the invoice."""
    if invoice is None:
        return [error("invoice_number", "unknown_invoice", "Dit factuurnummer kennen we niet.")]
    if invoice.credited:
        return [
            error(
                "invoice_number",
                "invoice_credited",
                f"Factuur {invoice.number} is gecrediteerd (creditnota {invoice.credit_note_number}); opnieuw "
                "versturen heeft geen zin.",
            )
        ]
    if "@" not in invoice.recipient.email:
        return [
            error(
                "invoice_number",
                "no_recipient",
                f"Het e-mailadres van factuur {invoice.number} is gewist; er is niemand om hem naar te sturen.",
            )
        ]
    return []


def payment_problems(invoice: Invoice | None, amount_cents: int) -> list[ErrorItem]:
    if invoice is None:
        return [error("invoice_number", "unknown_invoice", "Dit factuurnummer kennen we niet.")]
    if invoice.credited:
        return [
            error(
                "invoice_number",
                "invoice_credited",
                f"Factuur {invoice.number} is gecrediteerd (creditnota {invoice.credit_note_number}); er staat "
                "niets meer open. Een ontvangen bedrag moet worden terugbetaald.",
            )
        ]
    if invoice.open_cents == 0:
        return [error("invoice_number", "already_paid", f"Factuur {invoice.number} is al volledig betaald.")]
    if amount_cents > invoice.open_cents:
        return [
            error(
                "amount_cents",
                "overpayment",
                f"Het bedrag ({euro(amount_cents)}) is hoger dan wat er op factuur {invoice.number} nog "
                f"openstaat ({euro(invoice.open_cents)}).",
            )
        ]
    return []


def decimal_amount(cents: int) -> str:
    """`200.00`: UBL amounts, two decimals, a point."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole}.{rest:02d}"


@dataclass(frozen=True)
class BillingPolicy:
    """What configuration decides about invoices (services/registration/config.py)."""

    seller: Seller
    vat: VatRule
    payment_term: timedelta
    invoice_prefix: str = "WP"
    credit_note_prefix: str = "WP-C"


@dataclass(frozen=True)
class InvoiceFacts:
    """What registration knows about a registration that its invoice needs."""

    registration_id: str
    edition: str
    edition_title: str
    municipality_code: str
    municipality_name: str
    fee: Fee
    invoice_address: str
    invoice_reference: str
    invoice_email: str | None
    members: list[tuple[str, Role, Language]]  # (email, role, language) in the order registered


def new_invoice(facts: InvoiceFacts, number: str, policy: BillingPolicy, now: datetime) -> Invoice:
    lines, postcode, city = parse_address(facts.invoice_address, facts.municipality_name)
    to = recipient(facts.invoice_email, facts.members)
    buyer = Buyer(
        municipality_code=facts.municipality_code,
        name=f"Gemeente {facts.municipality_name}",
        address_lines=lines,
        postcode=postcode,
        city=city,
        reference=facts.invoice_reference,
        endpoint_email=to.email,
    )
    return Invoice(
        number=number,
        registration_id=facts.registration_id,
        edition=facts.edition,
        description=f"Deelname van een trio aan {facts.edition_title} ({facts.edition})",
        issued_at=now,
        due_at=due_moment(now, policy.payment_term),
        seller=policy.seller,
        buyer=buyer,
        vat=policy.vat,
        amounts=amounts(facts.fee.amount_cents, policy.vat),
        recipient=to,
    )
