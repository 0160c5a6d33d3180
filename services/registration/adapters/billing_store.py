"""The billing store: invoices, credit notes and payments as issued, and the number counters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contract.registration import Fee
from shared.db import upsert

from ..billing import Amounts, Buyer, CreditNote, Invoice, InvoiceFacts, Recipient, Seller, VatRule
from ..domain import ERASED
from ..invoices import Documents, credit_note_ubl, invoice_ubl
from .tables import CreditNoteRow, EditionRow, InvoiceCounterRow, InvoiceRow, MemberRow, PaymentRow, RegistrationRow


class SqlBilling:
    """Invoices, credit notes, payments and the number counters."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def next_number(self, series: str, year: int) -> int:
        """The next number of the series in `year`, without gaps: one statement that creates or increments the
        year's counter row and keeps it locked until this transaction ends (a competing replica waits, then
        reads the number after ours; a rollback undoes the increment)."""
        table = InvoiceCounterRow.__table__
        statement = (
            upsert(self.session)(table)
            .values(series=series, year=year, last_number=1)
            .on_conflict_do_update(index_elements=["series", "year"], set_={"last_number": table.c.last_number + 1})
            .returning(table.c.last_number)
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def facts(self, registration_id: str) -> InvoiceFacts | None:
        row = await self.session.get(RegistrationRow, registration_id)
        if row is None or row.invoice is None:
            return None
        edition = await self.session.get(EditionRow, row.edition)
        members = (
            await self.session.execute(
                select(MemberRow).where(MemberRow.registration_id == registration_id).order_by(MemberRow.position)
            )
        ).scalars()
        return InvoiceFacts(
            registration_id=row.id,
            edition=row.edition,
            edition_title=edition.title if edition else row.edition,
            municipality_code=row.municipality_code,
            municipality_name=row.municipality_name,
            fee=Fee.model_validate(row.fee),
            invoice_address=row.invoice["address"],
            invoice_reference=row.invoice["reference"],
            invoice_email=row.invoice.get("email"),
            members=[(m.email, m.role, m.language) for m in members],  # type: ignore[misc]
        )

    async def of_registration(self, registration_id: str, *, for_update: bool = False) -> Invoice | None:
        query = select(InvoiceRow).where(InvoiceRow.registration_id == registration_id)
        row = (await self.session.execute(query.with_for_update() if for_update else query)).scalar_one_or_none()
        return _invoice(row) if row else None

    async def get(self, number: str, *, for_update: bool = False) -> Invoice | None:
        query = select(InvoiceRow).where(InvoiceRow.number == number)
        row = (await self.session.execute(query.with_for_update() if for_update else query)).scalar_one_or_none()
        return _invoice(row) if row else None

    async def add(self, invoice: Invoice, documents: Documents) -> None:
        i = invoice
        self.session.add(
            InvoiceRow(
                number=i.number,
                registration_id=i.registration_id,
                edition=i.edition,
                description=i.description,
                issued_at=i.issued_at,
                issue_date=i.issue_date,
                due_at=i.due_at,
                due_date=i.due_date,
                seller=_plain(i.seller),
                buyer={**_plain(i.buyer), "address_lines": list(i.buyer.address_lines)},
                vat={"rate": str(i.vat.rate), "exemption_reason": i.vat.exemption_reason},
                net_cents=i.amounts.net_cents,
                vat_cents=i.amounts.vat_cents,
                total_cents=i.amounts.total_cents,
                recipient={"email": i.recipient.email, "language": str(i.recipient.language)},
                paid_cents=i.paid_cents,
                pdf=documents.pdf,
                ubl=documents.ubl,
            )
        )
        await self.session.flush()  # payments and credit notes refer to it within the same transaction

    async def save(self, invoice: Invoice) -> None:
        await self.session.execute(
            update(InvoiceRow)
            .where(InvoiceRow.number == invoice.number)
            .values(
                paid_cents=invoice.paid_cents,
                overdue_at=invoice.overdue_at,
                credit_note_number=invoice.credit_note_number,
            )
        )

    async def add_credit_note(self, note: CreditNote, documents: Documents) -> None:
        self.session.add(
            CreditNoteRow(
                number=note.number,
                invoice_number=note.invoice.number,
                issued_at=note.issued_at,
                issue_date=note.issue_date,
                reason=note.reason,
                pdf=documents.pdf,
                ubl=documents.ubl,
            )
        )

    async def add_payment(
        self, number: str, amount_cents: int, paid_at: datetime, reference: str | None, now: datetime
    ) -> None:
        self.session.add(
            PaymentRow(
                invoice_number=number, amount_cents=amount_cents, paid_at=paid_at, reference=reference, recorded_at=now
            )
        )

    async def overdue_candidates(self, now: datetime) -> list[str]:
        rows = await self.session.execute(
            select(InvoiceRow.number)
            .where(
                InvoiceRow.due_at <= now,
                InvoiceRow.overdue_at.is_(None),
                InvoiceRow.credit_note_number.is_(None),
                InvoiceRow.paid_cents < InvoiceRow.total_cents,
            )
            .order_by(InvoiceRow.due_at)
        )
        return list(rows.scalars())

    async def document(self, number: str, kind: str, *, credit_note: bool = False) -> bytes | None:
        """The PDF (`pdf`) or UBL (`xml`) as issued."""
        model: type[InvoiceRow] | type[CreditNoteRow] = CreditNoteRow if credit_note else InvoiceRow
        column = model.pdf if kind == "pdf" else model.ubl
        return (await self.session.execute(select(column).where(model.number == number))).scalar_one_or_none()

    async def listing(
        self, edition: str | None, state: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Every invoice with its state, oldest first, for organisers and the bookkeeping; STATE (`open`,
        `overdue`, `paid`, `credited`, as in `state_of`) and LIMIT narrow it down."""
        query = select(InvoiceRow).order_by(InvoiceRow.issued_at, InvoiceRow.number)
        if edition:
            query = query.where(InvoiceRow.edition == edition)
        if state:
            query = query.where(*STATE_FILTERS[state])
        if limit:
            query = query.limit(limit)
        return [_listed(r) for r in (await self.session.execute(query)).scalars()]

    async def detail(self, number: str) -> dict[str, Any] | None:
        """One invoice as listed, with its payments (oldest first) and its credit note."""
        row = (await self.session.execute(select(InvoiceRow).where(InvoiceRow.number == number))).scalar_one_or_none()
        if row is None:
            return None
        payments = await self.session.execute(
            select(PaymentRow).where(PaymentRow.invoice_number == number).order_by(PaymentRow.paid_at, PaymentRow.id)
        )
        credit = (
            await self.session.execute(select(CreditNoteRow).where(CreditNoteRow.invoice_number == number))
        ).scalar_one_or_none()
        return {
            **_listed(row),
            "due_at": row.due_at.isoformat(),
            "description": row.description,
            "payments": [
                {
                    "amount_cents": p.amount_cents,
                    "paid_at": p.paid_at.isoformat(),
                    "reference": p.reference,
                    "recorded_at": p.recorded_at.isoformat(),
                }
                for p in payments.scalars()
            ],
            "credit_note": {
                "number": credit.number,
                "issue_date": credit.issue_date.isoformat(),
                "reason": credit.reason,
            }
            if credit
            else None,
        }

    async def redirect(self, registration_id: str, old_email: str, recipient: Recipient) -> None:
        """The registration's invoices whose mails went to `old_email` (a member who was replaced) send later mails
        (payment reminders) to `recipient`; the documents as issued stay unchanged."""
        rows = await self.session.execute(select(InvoiceRow).where(InvoiceRow.registration_id == registration_id))
        for row in rows.scalars():
            if row.recipient.get("email") == old_email:
                row.recipient = {"email": recipient.email, "language": str(recipient.language)}

    async def erase_recipient(self, registration_id: str, mailbox: str | None) -> None:
        """The mailbox invoice mails went to may be a participant's own address: it goes with the personal data,
        also from the stored UBL documents (the buyer's electronic address, BT-49, which the PDF does not show),
        made again without it unless it is `mailbox`, the municipality's own. Everything the law asks of an invoice
        stays as issued: number, dates, amounts, the municipality as buyer with its address and reference
        (docs/invoicing.md)."""
        await self.session.execute(
            update(InvoiceRow)
            .where(InvoiceRow.registration_id == registration_id)
            .values(recipient={"email": ERASED, "language": "nl"})
        )
        rows = await self.session.execute(select(InvoiceRow).where(InvoiceRow.registration_id == registration_id))
        for row in rows.scalars():
            if row.buyer.get("endpoint_email") in (mailbox, ERASED):
                continue
            row.buyer = {**row.buyer, "endpoint_email": ERASED}
            invoice = _invoice(row)
            row.ubl = invoice_ubl(invoice)
            note = await self.session.scalar(select(CreditNoteRow).where(CreditNoteRow.invoice_number == row.number))
            if note is not None:
                note.ubl = credit_note_ubl(
                    CreditNote(number=note.number, invoice=invoice, issued_at=note.issued_at, reason=note.reason)
                )


# Each invoice is in exactly one state; the filters say the same as `_state` below, in SQL.
_UNPAID = InvoiceRow.paid_cents < InvoiceRow.total_cents
STATE_FILTERS: Final[Mapping[str, tuple[Any, ...]]] = {
    "credited": (InvoiceRow.credit_note_number.is_not(None),),
    "paid": (InvoiceRow.credit_note_number.is_(None), InvoiceRow.paid_cents >= InvoiceRow.total_cents),
    "overdue": (InvoiceRow.credit_note_number.is_(None), _UNPAID, InvoiceRow.overdue_at.is_not(None)),
    "open": (InvoiceRow.credit_note_number.is_(None), _UNPAID, InvoiceRow.overdue_at.is_(None)),
}


def _state(r: InvoiceRow) -> str:
    if r.credit_note_number:
        return "credited"
    if r.paid_cents >= r.total_cents:
        return "paid"
    return "overdue" if r.overdue_at is not None else "open"


def _listed(r: InvoiceRow) -> dict[str, Any]:
    return {
        "invoice_number": r.number,
        "registration_id": r.registration_id,
        "edition": r.edition,
        "buyer": r.buyer["name"],
        "buyer_reference": r.buyer["reference"],
        "issue_date": r.issue_date.isoformat(),
        "due_date": r.due_date.isoformat(),
        "amount_cents": r.net_cents,
        "vat_cents": r.vat_cents,
        "total_cents": r.total_cents,
        "paid_cents": r.paid_cents,
        "open_cents": 0 if r.credit_note_number else max(r.total_cents - r.paid_cents, 0),
        "overdue": r.overdue_at is not None,
        "credit_note_number": r.credit_note_number,
        "state": _state(r),
    }


def _plain(value: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(value).items()}


def _invoice(row: InvoiceRow) -> Invoice:
    buyer = {**row.buyer, "address_lines": tuple(row.buyer["address_lines"])}
    return Invoice(
        number=row.number,
        registration_id=row.registration_id,
        edition=row.edition,
        description=row.description,
        issued_at=row.issued_at,
        due_at=row.due_at,
        seller=Seller(**row.seller),
        buyer=Buyer(**buyer),
        vat=VatRule(rate=Decimal(row.vat["rate"]), exemption_reason=row.vat["exemption_reason"]),
        amounts=Amounts(net_cents=row.net_cents, vat_cents=row.vat_cents),
        recipient=Recipient(email=row.recipient["email"], language=row.recipient["language"]),
        paid_cents=row.paid_cents,
        overdue_at=row.overdue_at,
        credit_note_number=row.credit_note_number,
    )
