"""Registration's invoicing events: an invoice issued, sent again, credited, paid and overdue (docs/invoicing.md).
They are registration's messages (`registration.*` routing keys), re-exported by registration.py."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from .common import ContractModel, EventData, Language


class InvoiceRecipient(ContractModel):
    """Where the invoice mail goes: `invoice.email` from the registration, or else the trio's wijkambtenaar."""

    email: str
    language: Language


class DocumentLinks(ContractModel):
    """Signed links (purpose `invoice`) to the document, for the trio; organisers use the `/api/invoices` paths."""

    pdf: str
    ubl: str


class Attachment(ContractModel):
    filename: str
    content_type: str
    content_base64: str


class InvoiceIssued(EventData):
    """A placed trio that pays the fee has been invoiced; the documents are attached as issued (immutable)."""

    routing_key = "registration.InvoiceIssued"

    invoice_number: str
    registration_id: str
    edition: str
    municipality: str = Field(description="CBS code of the buyer, e.g. `GM0344`.")
    buyer_name: str
    buyer_reference: str
    issue_date: date
    due_date: date
    amount_cents: int = Field(description="Net amount (excluding VAT).")
    vat_cents: int
    total_cents: int = Field(description="Amount payable (including VAT).")
    currency: Literal["EUR"] = "EUR"
    urls: DocumentLinks
    recipient: InvoiceRecipient
    attachments: list[Attachment] = Field(description="The PDF and the UBL 2.1 XML (Peppol BIS Billing 3.0, NLCIUS).")


class InvoiceResent(EventData):
    """An organiser asked for the invoice mail again (`ResendInvoice`): the invoice as issued, its documents attached
    unchanged, for the mailbox it goes to now. Added in contract 1.3."""

    routing_key = "registration.InvoiceResent"

    invoice_number: str
    registration_id: str
    edition: str
    buyer_name: str
    buyer_reference: str
    issue_date: date
    due_date: date
    amount_cents: int = Field(description="Net amount (excluding VAT).")
    vat_cents: int
    total_cents: int = Field(description="Amount payable (including VAT).")
    currency: Literal["EUR"] = "EUR"
    urls: DocumentLinks
    recipient: InvoiceRecipient
    attachments: list[Attachment] = Field(description="The PDF and the UBL XML, exactly as issued.")


class CreditNoteIssued(EventData):
    """An invoice is credited in full: its registration was cancelled, or an organiser credited it
    (`IssueCreditNote`)."""

    routing_key = "registration.CreditNoteIssued"

    credit_note_number: str
    invoice_number: str
    registration_id: str
    edition: str
    issue_date: date
    amount_cents: int
    vat_cents: int
    total_cents: int
    currency: Literal["EUR"] = "EUR"
    urls: DocumentLinks
    recipient: InvoiceRecipient
    attachments: list[Attachment]
    reason: str | None = Field(
        default=None, description="Why it was credited, as printed on the credit note. Added in contract 1.3."
    )


class PaymentRegistered(EventData):
    routing_key = "registration.PaymentRegistered"

    invoice_number: str
    registration_id: str
    edition: str
    amount_cents: int
    paid_at: AwareDatetime
    reference: str | None = None
    paid_cents: int = Field(description="Everything received on the invoice so far, this payment included.")
    open_cents: int = Field(description="What is still to be paid; 0 when the invoice is paid in full.")


class InvoiceOverdue(EventData):
    """Published once per invoice when its due date has passed and it is not paid in full (nor credited)."""

    routing_key = "registration.InvoiceOverdue"

    invoice_number: str
    registration_id: str
    edition: str
    buyer_name: str
    buyer_reference: str
    issue_date: date
    due_date: date
    total_cents: int
    open_cents: int
    urls: DocumentLinks
    recipient: InvoiceRecipient
