"""Registration's billing use cases: invoicing a placed trio, crediting a cancelled one's invoice, payments and
overdue invoices (rules in billing.py, documents in invoices.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.contract import Actor
from shared.contract.registration import (
    CreditNoteIssued,
    DocumentLinks,
    InvoiceIssued,
    InvoiceOverdue,
    InvoiceRecipient,
    InvoiceResent,
    IssueCreditNote,
    PaymentRegistered,
    RegisterPayment,
    ResendInvoice,
)
from shared.messaging.messages import CommandRefused

from ..billing import (
    CREDIT_NOTE_SERIES,
    INVOICE_SERIES,
    CreditNote,
    Invoice,
    credit_problems,
    invoice_number,
    invoice_year,
    is_overdue,
    needs_invoice,
    new_invoice,
    payment_problems,
    resend_problems,
)
from ..invoices import Documents, credit_note_documents, invoice_documents
from .journal import tell
from .ports import Billing, Emit, History, Invoicing


def _links(invoicing: Invoicing, number: str, *, credit_note: bool = False) -> DocumentLinks:
    return DocumentLinks(
        pdf=invoicing.links.url(number, "pdf", credit_note=credit_note),
        ubl=invoicing.links.url(number, "xml", credit_note=credit_note),
    )


def _recipient(invoice: Invoice) -> InvoiceRecipient:
    return InvoiceRecipient(email=invoice.recipient.email, language=invoice.recipient.language)


def _about(invoice: Invoice, invoicing: Invoicing) -> dict[str, Any]:
    """The fields every event about an invoice carries: which invoice, whose, its dates, links and recipient."""
    return {
        "invoice_number": invoice.number,
        "registration_id": invoice.registration_id,
        "edition": invoice.edition,
        "buyer_name": invoice.buyer.name,
        "buyer_reference": invoice.buyer.reference,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "urls": _links(invoicing, invoice.number),
        "recipient": _recipient(invoice),
    }


async def issue_invoice(registration_id: str, *, invoicing: Invoicing, emit: Emit, now: datetime) -> str | None:
    """Invoice a placed trio that pays the fee, once; the invoice number, or None when none was issued.

    Runs under the registration's row lock (follow_placement), so a second TrioPlaced sees the first invoice.
    The number is taken last, just before the documents are made: the counter row stays locked until commit.
    """
    billing = invoicing.billing
    if await billing.of_registration(registration_id) is not None:
        return None
    facts = await billing.facts(registration_id)
    if facts is None or not needs_invoice(facts.fee):
        return None
    year = invoice_year(now)
    number = invoice_number(invoicing.policy.invoice_prefix, year, await billing.next_number(INVOICE_SERIES, year))
    invoice = new_invoice(facts, number, invoicing.policy, now)
    documents = await invoice_documents(invoice)
    await billing.add(invoice, documents)
    await tell(
        InvoiceIssued(
            **_about(invoice, invoicing),
            municipality=facts.municipality_code,
            amount_cents=invoice.amounts.net_cents,
            vat_cents=invoice.amounts.vat_cents,
            total_cents=invoice.amounts.total_cents,
            attachments=documents.attachments(number),
        ),
        emit=emit,
        history=invoicing.history,
        at=now,
    )
    return number


async def credit_invoice(
    registration_id: str, *, invoicing: Invoicing, emit: Emit, now: datetime, actor: Actor | None = None
) -> str | None:
    """A cancelled registration's invoice is credited in full by a credit note of its own number range."""
    invoice = await invoicing.billing.of_registration(registration_id, for_update=True)
    if invoice is None or invoice.credited:
        return None
    return await _credit(invoice, invoicing=invoicing, emit=emit, now=now, actor=actor)


async def issue_credit_note(
    cmd: IssueCreditNote, *, invoicing: Invoicing | None, emit: Emit, now: datetime
) -> dict[str, object]:
    """An organiser credits an invoice in full while the registration stays as it is: the same credit note as a
    cancellation makes, with the organiser's reason on it. Under the invoice's row lock, so a cancellation at the
    same moment finds it credited (one credit note per invoice)."""
    invoice = await invoicing.billing.get(cmd.invoice_number, for_update=True) if invoicing else None
    if problems := credit_problems(invoice):
        raise CommandRefused(problems)
    assert invoice is not None and invoicing is not None
    number = await _credit(invoice, invoicing=invoicing, emit=emit, now=now, actor=cmd.actor, reason=cmd.reason)
    return {"invoice_number": invoice.number, "credit_note_number": number}


async def _credit(
    invoice: Invoice, *, invoicing: Invoicing, emit: Emit, now: datetime, actor: Actor | None, reason: str | None = None
) -> str:
    """The credit note for INVOICE (locked, not yet credited): the number taken last, the documents made once."""
    billing = invoicing.billing
    year = invoice_year(now)
    number = invoice_number(
        invoicing.policy.credit_note_prefix, year, await billing.next_number(CREDIT_NOTE_SERIES, year)
    )
    note = CreditNote(number=number, invoice=invoice, issued_at=now)
    if reason:
        note.reason = reason
    documents = await credit_note_documents(note)
    await billing.add_credit_note(note, documents)
    invoice.credit_note_number = number
    await billing.save(invoice)
    await tell(
        CreditNoteIssued(
            credit_note_number=number,
            invoice_number=invoice.number,
            registration_id=invoice.registration_id,
            edition=invoice.edition,
            issue_date=note.issue_date,
            amount_cents=invoice.amounts.net_cents,
            vat_cents=invoice.amounts.vat_cents,
            total_cents=invoice.amounts.total_cents,
            urls=_links(invoicing, number, credit_note=True),
            recipient=_recipient(invoice),
            attachments=documents.attachments(number),
            reason=note.reason,
        ),
        emit=emit,
        history=invoicing.history,
        at=now,
        actor=actor,
    )
    return number


async def resend_invoice(
    cmd: ResendInvoice, *, invoicing: Invoicing | None, emit: Emit, now: datetime
) -> dict[str, object]:
    """The invoice mail again: the stored documents (never made anew: they are the fiscal record), to the
    invoice's mailbox as it is now (after a member's replacement: the new wijkambtenaar)."""
    invoice = await invoicing.billing.get(cmd.invoice_number) if invoicing else None
    if problems := resend_problems(invoice):
        raise CommandRefused(problems)
    assert invoice is not None and invoicing is not None
    pdf = await invoicing.billing.document(invoice.number, "pdf")
    ubl = await invoicing.billing.document(invoice.number, "xml")
    assert pdf is not None and ubl is not None  # stored with the invoice, in the same transaction
    await tell(
        InvoiceResent(
            **_about(invoice, invoicing),
            amount_cents=invoice.amounts.net_cents,
            vat_cents=invoice.amounts.vat_cents,
            total_cents=invoice.amounts.total_cents,
            attachments=Documents(pdf=pdf, ubl=ubl).attachments(invoice.number),
        ),
        emit=emit,
        history=invoicing.history,
        at=now,
        actor=cmd.actor,
    )
    return {"invoice_number": invoice.number}


async def register_payment(
    cmd: RegisterPayment, *, billing: Billing, history: History, emit: Emit, now: datetime
) -> dict[str, object]:
    invoice = await billing.get(cmd.invoice_number, for_update=True)
    problems = payment_problems(invoice, cmd.amount_cents)
    if problems:
        raise CommandRefused(problems)
    assert invoice is not None
    invoice.paid_cents += cmd.amount_cents
    await billing.add_payment(invoice.number, cmd.amount_cents, cmd.paid_at, cmd.reference, now)
    await billing.save(invoice)
    await tell(
        PaymentRegistered(
            invoice_number=invoice.number,
            registration_id=invoice.registration_id,
            edition=invoice.edition,
            amount_cents=cmd.amount_cents,
            paid_at=cmd.paid_at,
            reference=cmd.reference,
            paid_cents=invoice.paid_cents,
            open_cents=invoice.open_cents,
        ),
        emit=emit,
        history=history,
        at=now,
        actor=cmd.actor,
    )
    return {"invoice_number": invoice.number, "open_cents": invoice.open_cents}


async def flag_overdue(number: str, *, invoicing: Invoicing, emit: Emit, now: datetime) -> bool:
    """InvoiceOverdue once: under the invoice's row lock, so replicas checking at the same moment take turns and
    the second finds it flagged."""
    invoice = await invoicing.billing.get(number, for_update=True)
    if invoice is None or not is_overdue(invoice, now):
        return False
    invoice.overdue_at = now
    await invoicing.billing.save(invoice)
    await tell(
        InvoiceOverdue(
            **_about(invoice, invoicing), total_cents=invoice.amounts.total_cents, open_cents=invoice.open_cents
        ),
        emit=emit,
        history=invoicing.history,
        at=now,
    )
    return True
