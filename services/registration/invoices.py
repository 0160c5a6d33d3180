"""The documents of an invoice and a credit note: a PDF laid out like a Dutch invoice ("Factuur", drawn by
invoice_pdf.py) and UBL 2.1 XML following Peppol BIS Billing 3.0 with the Dutch rules of NLCIUS (SI-UBL 2.0).

They are made once, when the invoice is issued, and kept as issued: an invoice is a fiscal record that must not
change afterwards (not even when the participants' personal data is erased later).

UBL notes, by rule:
- BR-NL-1: the seller's legal registration is its KvK number (scheme 0106); BR-NL-2: the buyer's reference (the
  municipality's purchase reference) is always there (the registration refuses a fee without it);
- BR-NL-3/4: seller and buyer addresses have street, postcode and city; BR-NL-10: no buyer legal identifier is
  given (we know no KvK or OIN of the municipality), which the rule allows;
- BR-NL-11/12: payment means 58 (SEPA credit transfer) to the seller's IBAN with the invoice number as payment id;
- the buyer's electronic address (BT-49) is the mailbox the invoice is sent to (scheme EM).
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from datetime import date
from typing import Any

from lxml import etree

from shared.contract.registration import Attachment
from shared.formatting import dutch_date, euro

from .billing import CreditNote, Invoice, decimal_amount
from .invoice_pdf import BOLD, Content, Run, render

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
ROOT_NAMESPACE = {
    "Invoice": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "CreditNote": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
KVK_SCHEME = "0106"
SEPA_CREDIT_TRANSFER = "58"
UNIT = "C62"  # "one": the trio's participation is one unit
PDF_TYPE = "application/pdf"
UBL_TYPE = "application/xml"


@dataclass(frozen=True)
class Documents:
    pdf: bytes
    ubl: bytes

    def attachments(self, number: str) -> list[Attachment]:
        return [
            Attachment(
                filename=f"{number}.pdf", content_type=PDF_TYPE, content_base64=base64.b64encode(self.pdf).decode()
            ),
            Attachment(
                filename=f"{number}.xml", content_type=UBL_TYPE, content_base64=base64.b64encode(self.ubl).decode()
            ),
        ]


async def invoice_documents(invoice: Invoice) -> Documents:
    return Documents(pdf=await asyncio.to_thread(render, pdf_content(invoice)), ubl=invoice_ubl(invoice))


async def credit_note_documents(note: CreditNote) -> Documents:
    return Documents(pdf=await asyncio.to_thread(render, pdf_content(note.invoice, note)), ubl=credit_note_ubl(note))


def pdf_content(invoice: Invoice, credit: CreditNote | None = None) -> Content:
    """What the PDF says, in Dutch: the seller, the municipality, the numbers and dates, the line, VAT, totals and how
    to pay (or, for a credit note, what it credits)."""
    seller, buyer, vat = invoice.seller, invoice.buyer, invoice.vat
    net, total = euro(invoice.amounts.net_cents), euro(invoice.amounts.total_cents)
    sign = "-" if credit else ""
    vat_label = (
        f"Vrijgesteld van btw: {vat.exemption_reason}" if vat.exemption_reason else f"Btw {_percent(vat.percent)}%"
    )
    meta: tuple[tuple[str, str], ...]
    if credit:
        meta = (
            ("Creditnotanummer", credit.number),
            ("Datum", dutch_date(credit.issue_date)),
            ("Betreft factuur", f"{invoice.number} van {dutch_date(invoice.issue_date)}"),
            ("Uw kenmerk", buyer.reference),
            ("Reden", credit.reason),
        )
        payment: tuple[Run, ...] = (
            Run(
                f"Met deze creditnota vervalt factuur {invoice.number}. Heeft u de factuur al betaald, dan betalen wij "
                "het bedrag terug op de rekening waarvan het is overgemaakt."
            ),
        )
    else:
        meta = (
            ("Factuurnummer", invoice.number),
            ("Factuurdatum", dutch_date(invoice.issue_date)),
            ("Vervaldatum", dutch_date(invoice.due_date)),
            ("Uw kenmerk", buyer.reference),
        )
        payment = (
            Run("Wij verzoeken u het bedrag van "),
            Run(total, BOLD, whole=True),
            Run(" uiterlijk "),
            Run(dutch_date(invoice.due_date), BOLD, whole=True),
            Run(" over te maken op rekening "),
            Run(seller.iban, BOLD, whole=True),
            Run(f" ten name van {seller.name}, onder vermelding van factuurnummer "),
            Run(invoice.number, BOLD, whole=True),
            Run("."),
        )
    kind, number_kind = ("creditnota", "creditnotanummer") if credit else ("factuur", "factuurnummer")
    title = f"Creditnota {credit.number}" if credit else f"Factuur {invoice.number}"
    return Content(
        title=title,
        heading="Creditnota" if credit else "Factuur",
        seller_name=seller.name,
        seller_lines=(
            seller.street,
            f"{seller.postcode} {seller.city}",
            seller.email,
            f"KvK {seller.kvk} · Btw-id {seller.vat_number}",
            f"IBAN {seller.iban}",
        ),
        footer=f"{seller.name} · KvK {seller.kvk} · btw {seller.vat_number} · IBAN {seller.iban}",
        buyer_lines=(
            buyer.name,
            *buyer.address_lines,
            f"{buyer.postcode}  {buyer.city.upper()}" if buyer.postcode else buyer.city.upper(),
        ),
        meta=meta,
        line=(
            invoice.description,
            "1",
            net,
            "vrijgesteld" if vat.exemption_reason else f"{_percent(vat.percent)}%",
            sign + net,
        ),
        totals=(
            ("Subtotaal (exclusief btw)", sign + net),
            (vat_label, sign + euro(invoice.amounts.vat_cents)),
            ("Totaal gecrediteerd" if credit else "Totaal te betalen", sign + total),
        ),
        payment=payment,
        small=f"Deze {kind} is ook als e-factuur (UBL, Peppol BIS Billing 3.0 / NLCIUS) beschikbaar. Vragen? Mail naar "
        f"{seller.email} en vermeld het {number_kind}.",
        author=seller.name,
    )


def _percent(value: Any) -> str:
    text = f"{value:f}".rstrip("0").rstrip(".") if "." in f"{value:f}" else f"{value:f}"
    return text.replace(".", ",")


# UBL


class _Builder:
    def __init__(self, root_name: str) -> None:
        self.root = etree.Element(
            f"{{{ROOT_NAMESPACE[root_name]}}}{root_name}",
            nsmap={None: ROOT_NAMESPACE[root_name], "cac": CAC, "cbc": CBC},  # type: ignore[dict-item]  # None: default
        )

    @staticmethod
    def cbc(parent: etree._Element, tag: str, text: str, **attributes: str) -> etree._Element:
        element = etree.SubElement(parent, f"{{{CBC}}}{tag}", attributes)
        element.text = text
        return element

    @staticmethod
    def cac(parent: etree._Element, tag: str) -> etree._Element:
        return etree.SubElement(parent, f"{{{CAC}}}{tag}")

    def amount(self, parent: etree._Element, tag: str, cents: int) -> None:
        self.cbc(parent, tag, decimal_amount(cents), currencyID="EUR")


def invoice_ubl(invoice: Invoice) -> bytes:
    b = _Builder("Invoice")
    root = b.root
    _header(b, invoice.number, invoice.issue_date)
    b.cbc(root, "DueDate", invoice.due_date.isoformat())
    b.cbc(root, "InvoiceTypeCode", "380")
    b.cbc(root, "DocumentCurrencyCode", "EUR")
    b.cbc(root, "BuyerReference", invoice.buyer.reference)
    _parties(b, invoice)
    _payment(b, invoice, invoice.number)
    terms = b.cac(root, "PaymentTerms")
    b.cbc(
        terms,
        "Note",
        f"Betaling binnen de termijn, uiterlijk {dutch_date(invoice.due_date)}, onder vermelding van {invoice.number}.",
    )
    _totals_and_line(b, invoice, "InvoiceLine", "InvoicedQuantity")
    return _serialise(root)


def credit_note_ubl(note: CreditNote) -> bytes:
    invoice = note.invoice
    b = _Builder("CreditNote")
    root = b.root
    _header(b, note.number, note.issue_date)
    b.cbc(root, "CreditNoteTypeCode", "381")
    b.cbc(root, "Note", f"{note.reason}; creditering van factuur {invoice.number}.")
    b.cbc(root, "DocumentCurrencyCode", "EUR")
    b.cbc(root, "BuyerReference", invoice.buyer.reference)
    billing = b.cac(b.cac(root, "BillingReference"), "InvoiceDocumentReference")
    b.cbc(billing, "ID", invoice.number)
    b.cbc(billing, "IssueDate", invoice.issue_date.isoformat())
    _parties(b, invoice)
    _payment(b, invoice, note.number)
    _totals_and_line(b, invoice, "CreditNoteLine", "CreditedQuantity")
    return _serialise(root)


def _header(b: _Builder, number: str, issue_date: date) -> None:
    b.cbc(b.root, "CustomizationID", CUSTOMIZATION_ID)
    b.cbc(b.root, "ProfileID", PROFILE_ID)
    b.cbc(b.root, "ID", number)
    b.cbc(b.root, "IssueDate", issue_date.isoformat())


def _address(
    b: _Builder, party: etree._Element, lines: tuple[str, ...], postcode: str, city: str, country: str
) -> None:
    address = b.cac(party, "PostalAddress")
    b.cbc(address, "StreetName", lines[0])
    if len(lines) > 1:
        b.cbc(address, "AdditionalStreetName", ", ".join(lines[1:]))
    b.cbc(address, "CityName", city)
    if postcode:
        b.cbc(address, "PostalZone", postcode)
    b.cbc(b.cac(address, "Country"), "IdentificationCode", country)


def _parties(b: _Builder, invoice: Invoice) -> None:
    seller, buyer = invoice.seller, invoice.buyer
    party = b.cac(b.cac(b.root, "AccountingSupplierParty"), "Party")
    b.cbc(party, "EndpointID", seller.kvk, schemeID=KVK_SCHEME)
    b.cbc(b.cac(party, "PartyName"), "Name", seller.name)
    _address(b, party, (seller.street,), seller.postcode, seller.city, seller.country)
    tax = b.cac(party, "PartyTaxScheme")
    b.cbc(tax, "CompanyID", seller.vat_number)
    b.cbc(b.cac(tax, "TaxScheme"), "ID", "VAT")
    legal = b.cac(party, "PartyLegalEntity")
    b.cbc(legal, "RegistrationName", seller.name)
    b.cbc(legal, "CompanyID", seller.kvk, schemeID=KVK_SCHEME)
    b.cbc(b.cac(party, "Contact"), "ElectronicMail", seller.email)

    party = b.cac(b.cac(b.root, "AccountingCustomerParty"), "Party")
    b.cbc(party, "EndpointID", buyer.endpoint_email, schemeID="EM")
    b.cbc(b.cac(party, "PartyName"), "Name", buyer.name)
    _address(b, party, buyer.address_lines, buyer.postcode, buyer.city, buyer.country)
    b.cbc(b.cac(party, "PartyLegalEntity"), "RegistrationName", buyer.name)


def _payment(b: _Builder, invoice: Invoice, payment_id: str) -> None:
    means = b.cac(b.root, "PaymentMeans")
    b.cbc(means, "PaymentMeansCode", SEPA_CREDIT_TRANSFER, name="SEPA credit transfer")
    b.cbc(means, "PaymentID", payment_id)
    account = b.cac(means, "PayeeFinancialAccount")
    b.cbc(account, "ID", invoice.seller.iban)
    b.cbc(account, "Name", invoice.seller.name)


def _tax_category(b: _Builder, parent: etree._Element, name: str, invoice: Invoice, *, reason: bool) -> None:
    vat = invoice.vat
    category = b.cac(parent, name)
    b.cbc(category, "ID", vat.category)
    b.cbc(category, "Percent", f"{vat.percent:.2f}")
    if reason and vat.exemption_reason:
        b.cbc(category, "TaxExemptionReason", vat.exemption_reason)
    b.cbc(b.cac(category, "TaxScheme"), "ID", "VAT")


def _totals_and_line(b: _Builder, invoice: Invoice, line_name: str, quantity_name: str) -> None:
    root, money = b.root, invoice.amounts
    tax_total = b.cac(root, "TaxTotal")
    b.amount(tax_total, "TaxAmount", money.vat_cents)
    subtotal = b.cac(tax_total, "TaxSubtotal")
    b.amount(subtotal, "TaxableAmount", money.net_cents)
    b.amount(subtotal, "TaxAmount", money.vat_cents)
    _tax_category(b, subtotal, "TaxCategory", invoice, reason=True)
    totals = b.cac(root, "LegalMonetaryTotal")
    b.amount(totals, "LineExtensionAmount", money.net_cents)
    b.amount(totals, "TaxExclusiveAmount", money.net_cents)
    b.amount(totals, "TaxInclusiveAmount", money.total_cents)
    b.amount(totals, "PayableAmount", money.total_cents)
    line = b.cac(root, line_name)
    b.cbc(line, "ID", "1")
    b.cbc(line, quantity_name, "1", unitCode=UNIT)
    b.amount(line, "LineExtensionAmount", money.net_cents)
    item = b.cac(line, "Item")
    b.cbc(item, "Name", invoice.description[:100])
    _tax_category(b, item, "ClassifiedTaxCategory", invoice, reason=False)
    b.amount(b.cac(line, "Price"), "PriceAmount", money.net_cents)


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
