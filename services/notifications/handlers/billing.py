"""registration.InvoiceIssued, CreditNoteIssued and InvoiceOverdue: the invoice, credit note or payment reminder
to the mailbox the invoice is addressed to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.contract import Event
from shared.contract.registration import CreditNoteIssued, InvoiceIssued, InvoiceOverdue, InvoiceResent
from shared.formatting import amount_text, date_text

from ..domain import CREDIT_NOTE, INVOICE, PAYMENT_REMINDER, normalise_address
from .notify import Cause, new_mail, queue
from .ports import Editions, Mails


def _billing_recipient(email: str) -> str | None:
    """The invoice's mailbox; None once registration erased it (it was a participant's own address)."""
    address = normalise_address(email)
    return address if "@" in address else None


async def send_invoice(
    document: InvoiceIssued | InvoiceResent | CreditNoteIssued,
    *,
    envelope: Event[Any],
    editions: Editions,
    mails: Mails,
    now: datetime,
) -> None:
    """The invoice (or credit note) to its mailbox, with the PDF and the UBL e-invoice attached, as issued; sent
    again, the same mail once for every InvoiceResent (a redelivery of that event sends nothing more)."""
    recipient = _billing_recipient(document.recipient.email)
    if recipient is None:
        return
    language = str(document.recipient.language)
    edition = await editions.get(document.edition)
    context: dict[str, Any] = {
        "invoice_number": document.invoice_number,
        "edition": document.edition,
        "edition_title": edition.title if edition else "Werkplaatsen wijkgericht werken",
        "total": amount_text(document.total_cents, language),
        "vat": amount_text(document.vat_cents, language),
        "issue_date": date_text(document.issue_date, language),
        "pdf_url": document.urls.pdf,
        "ubl_url": document.urls.ubl,
    }
    if isinstance(document, InvoiceIssued | InvoiceResent):
        kind, identity = INVOICE, f"invoice:{document.invoice_number}"
        if isinstance(document, InvoiceResent):
            identity = f"invoice-resent:{envelope.event_id}"
        context |= {
            "buyer_name": document.buyer_name,
            "buyer_reference": document.buyer_reference,
            "due_date": date_text(document.due_date, language),
        }
    else:
        kind, identity = CREDIT_NOTE, f"credit-note:{document.credit_note_number}"
        context |= {"credit_note_number": document.credit_note_number}
    attachments = [a.model_dump() for a in document.attachments]
    await queue(
        mails,
        new_mail(
            kind,
            Cause.of(envelope),
            identity,
            document.registration_id,
            recipient,
            language,
            context,
            now,
            attachments=attachments,
        ),
    )


async def remind_payment(
    overdue: InvoiceOverdue, *, envelope: Event[Any], editions: Editions, mails: Mails, now: datetime
) -> None:
    """A friendly reminder, once per invoice, to the mailbox the invoice went to."""
    recipient = _billing_recipient(overdue.recipient.email)
    if recipient is None:
        return
    language = str(overdue.recipient.language)
    edition = await editions.get(overdue.edition)
    context = {
        "invoice_number": overdue.invoice_number,
        "buyer_reference": overdue.buyer_reference,
        "edition_title": edition.title if edition else "Werkplaatsen wijkgericht werken",
        "issue_date": date_text(overdue.issue_date, language),
        "due_date": date_text(overdue.due_date, language),
        "open": amount_text(overdue.open_cents, language),
        "pdf_url": overdue.urls.pdf,
        "ubl_url": overdue.urls.ubl,
    }
    await queue(
        mails,
        new_mail(
            PAYMENT_REMINDER,
            Cause.of(envelope),
            f"overdue:{overdue.invoice_number}",
            overdue.registration_id,
            recipient,
            language,
            context,
            now,
        ),
    )
