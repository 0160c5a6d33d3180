"""Notifications for invoicing: the invoice mail with its PDF and UBL attached (Dutch, or English for an English
speaking wijkambtenaar), the credit note, the friendly reminder, and nothing for an erased mailbox."""

from __future__ import annotations

import base64
import inspect
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from services.notifications import handlers
from services.notifications.delivery import compose
from services.notifications.domain import EditionInfo, Mail
from shared.contract import Event
from shared.contract.registration import CreditNoteIssued, InvoiceIssued, InvoiceOverdue, InvoiceResent

NOW = datetime(2027, 9, 27, 10, tzinfo=UTC)
PDF, XML = b"%PDF-1.7 factuur", b"<?xml version='1.0'?><Invoice/>"


class Mails:
    def __init__(self) -> None:
        self.queued: dict[str, Mail] = {}

    async def add(self, mails: Sequence[Mail]) -> set[str]:
        added = {m.notification_id for m in mails} - set(self.queued)
        self.queued.update((m.notification_id, m) for m in mails if m.notification_id in added)
        return added

    async def erase(self, registration_id: str) -> list[str]:
        return []

    async def supersede(self, registration_id: str, kind: str) -> int:
        return 0


class Editions:
    async def get(self, slug: str, *, for_update: bool = False) -> EditionInfo | None:
        return EditionInfo(
            slug=slug,
            title="Werkplaatsen wijkgericht werken",
            venue=None,
            registration_deadline=NOW,
            sessions=[],
            scheduled_at=NOW,
        )

    async def save(self, edition: EditionInfo) -> None: ...


def envelope(data: Any, name: str) -> Event[Any]:
    return Event[type(data)].model_validate(
        {  # type: ignore[misc]
            "event_id": f"{name}-1",
            "type": name,
            "version": 1,
            "occurred_at": NOW.isoformat(),
            "producer": "registration",
            "correlation_id": "c",
            "causation_id": "c",
            "data": data.model_dump(mode="json"),
        }
    )


async def deliver(handler: Callable[..., Awaitable[Any]], event: Event[Any], **dependencies: Any) -> Any:
    """Call a handler as the wiring does: the event's data first; its envelope and time by name, if it asks."""
    wants = inspect.signature(handler).parameters
    given = {"envelope": event, "occurred_at": event.occurred_at}
    return await handler(event.data, **{name: value for name, value in given.items() if name in wants}, **dependencies)


def common(email: str, language: str) -> dict[str, Any]:
    return {
        "registration_id": "r1",
        "edition": "2027-najaar",
        "total_cents": 24200,
        "urls": {
            "pdf": "https://w.example/invoices/WP-2027-0001.pdf?token=t",
            "ubl": "https://w.example/invoices/WP-2027-0001.xml?token=t",
        },
        "recipient": {"email": email, "language": language},
    }


def issued(email: str = "Facturen@Ede.example", language: str = "nl") -> Event[Any]:
    files = [
        {
            "filename": "WP-2027-0001.pdf",
            "content_type": "application/pdf",
            "content_base64": base64.b64encode(PDF).decode(),
        },
        {
            "filename": "WP-2027-0001.xml",
            "content_type": "application/xml",
            "content_base64": base64.b64encode(XML).decode(),
        },
    ]
    return envelope(
        InvoiceIssued(
            **common(email, language),
            invoice_number="WP-2027-0001",
            municipality="GM0228",
            buyer_name="Gemeente Ede",
            buyer_reference="INK-0815",
            issue_date=date(2027, 9, 27),
            due_date=date(2027, 10, 27),
            amount_cents=20000,
            vat_cents=4200,
            attachments=files,
        ),
        "InvoiceIssued",
    )


async def test_the_invoice_mail_carries_the_pdf_and_the_ubl_as_issued() -> None:
    mails = Mails()
    await deliver(handlers.send_invoice, issued(), editions=Editions(), mails=mails, now=NOW)
    await deliver(handlers.send_invoice, issued(), editions=Editions(), mails=mails, now=NOW)  # redelivered: one mail
    (mail,) = mails.queued.values()
    assert (mail.recipient, mail.kind, mail.subject) == (
        "facturen@ede.example",
        "invoice",
        "Factuur WP-2027-0001: deelname aan Werkplaatsen wijkgericht werken",
    )
    assert "€ 242,00" in mail.text and "27 oktober 2027" in mail.text and "INK-0815" in mail.text
    message = compose(mail, "Werkplaatsen <werkplaatsen@platform31.nl>")
    files = {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}
    assert files == {"WP-2027-0001.pdf": PDF, "WP-2027-0001.xml": XML}
    assert compose(mail, "w@p.example").as_bytes() == compose(mail, "w@p.example").as_bytes()  # a retry: the same


async def test_an_english_speaking_wijkambtenaar_gets_the_invoice_in_english() -> None:
    mails = Mails()
    await deliver(handlers.send_invoice, issued("anna@ede.example", "en"), editions=Editions(), mails=mails, now=NOW)
    (mail,) = mails.queued.values()
    assert mail.subject.startswith("Invoice WP-2027-0001") and "EUR 242.00" in mail.text


async def test_the_credit_note_and_the_friendly_reminder_go_to_the_same_mailbox() -> None:
    mails = Mails()
    credit = CreditNoteIssued(
        **common("facturen@ede.example", "nl"),
        credit_note_number="WP-C-2027-0001",
        invoice_number="WP-2027-0001",
        issue_date=date(2027, 10, 5),
        amount_cents=20000,
        vat_cents=4200,
        attachments=[],
    )
    overdue = InvoiceOverdue(
        **common("facturen@ede.example", "nl"),
        invoice_number="WP-2027-0001",
        buyer_name="Gemeente Ede",
        buyer_reference="INK-0815",
        issue_date=date(2027, 9, 27),
        due_date=date(2027, 10, 27),
        open_cents=12100,
    )
    await deliver(
        handlers.send_invoice, envelope(credit, "CreditNoteIssued"), editions=Editions(), mails=mails, now=NOW
    )
    await deliver(
        handlers.remind_payment, envelope(overdue, "InvoiceOverdue"), editions=Editions(), mails=mails, now=NOW
    )
    credit_mail, reminder = mails.queued.values()
    assert credit_mail.subject == "Creditnota WP-C-2027-0001 bij factuur WP-2027-0001"
    assert reminder.subject == "Herinnering: factuur WP-2027-0001"
    assert "Misschien is het u ontgaan" in reminder.text and "€ 121,00" in reminder.text


async def test_nothing_is_sent_to_a_mailbox_registration_has_erased() -> None:
    mails = Mails()
    await deliver(handlers.send_invoice, issued("[verwijderd]"), editions=Editions(), mails=mails, now=NOW)
    assert mails.queued == {}


def resent(event_id: str) -> Event[Any]:
    first = issued().data
    data = InvoiceResent(**first.model_dump(exclude={"municipality"}))
    event = envelope(data, "InvoiceResent")
    return event.model_copy(update={"event_id": event_id})


async def test_a_resent_invoice_is_the_same_mail_again_once_per_request() -> None:
    mails = Mails()
    await deliver(handlers.send_invoice, issued(), editions=Editions(), mails=mails, now=NOW)
    await deliver(handlers.send_invoice, resent("resend-1"), editions=Editions(), mails=mails, now=NOW)
    await deliver(handlers.send_invoice, resent("resend-1"), editions=Editions(), mails=mails, now=NOW)  # redelivered
    await deliver(handlers.send_invoice, resent("resend-2"), editions=Editions(), mails=mails, now=NOW)
    first, *again = mails.queued.values()
    assert len(again) == 2
    for mail in again:
        assert (mail.kind, mail.subject, mail.text) == (first.kind, first.subject, first.text)
        files = {p.get_filename(): p.get_payload(decode=True) for p in compose(mail, "w@p.example").iter_attachments()}
        assert files == {"WP-2027-0001.pdf": PDF, "WP-2027-0001.xml": XML}
