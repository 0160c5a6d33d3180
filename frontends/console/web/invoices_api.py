"""The console's API for invoices: the list (by edition and state), one invoice with its payments and credit note,
its documents as issued (PDF and UBL, fetched from registration with the console's credential), recording a
payment, crediting an invoice and sending its mail again. Read from registration's `GET /api/invoices`; acted on
by publishing `registration.RegisterPayment`, `IssueCreditNote` and `ResendInvoice` through `acting.perform`
(actor and audit).

Invoices belong to an edition, so a facilitator reads only those of their own editions; acting on one needs
`invoices.write`. The invoicing rules themselves (what may be paid, credited) are registration's (docs/invoicing.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.contract.registration import IssueCreditNote, RegisterPayment, ResendInvoice

from ..accounts import record
from ..backends import Answer
from ..domain import PERMISSIONS, Action, may
from ..store import repositories
from .access import Caller, Forbidden, NotSignedIn, address, console, database, require, signed_in
from .acting import BadBody, answer, backends, parse_body, perform, read
from .openapi import Operation, Query, command_body
from .rendering import api_errors

Invoice = dict[str, Any]  # as registration's GET /api/invoices/{number} answers

STATES: Final = ("open", "overdue", "paid", "credited")
LIST_LIMIT: Final = 1000  # registration's bound; an edition has a few dozen trios
# The documents by the name the console serves them under: (registration's path prefix, extension).
DOCUMENTS: Final[Mapping[str, tuple[str, str]]] = {
    "invoice.pdf": ("/invoices", "pdf"),
    "invoice.xml": ("/invoices", "xml"),
    "credit-note.pdf": ("/credit-notes", "pdf"),
    "credit-note.xml": ("/credit-notes", "xml"),
}

NewPayment: Final = command_body(RegisterPayment, "NewPayment")
NewCreditNote: Final = command_body(IssueCreditNote, "NewCreditNote")


class InvoiceList(BaseModel):
    invoices: list[dict[str, Any]]


class InvoiceAccepted(BaseModel):
    status: str = Field(description="`accepted`, or `pending` when registration has not answered yet (202).")
    invoice_number: str
    open_cents: int | None = Field(default=None, description="After a payment: what the invoice still asks.")
    credit_note_number: str | None = Field(default=None, description="After crediting: the credit note's number.")


def document_path(number: str, name: str) -> str:
    return f"/console/api/invoices/{quote(number)}/documents/{name}"


def unknown_invoice() -> Response:
    return api_errors("unknown_invoice", "Dit factuurnummer kennen we niet.", 404, field="invoice_number")


async def invoices_of(request: Request, caller: Caller, edition: str | None, state: str | None) -> Answer:
    """Registration's list as CALLER may read it: a facilitator's own editions only."""
    found = await read(request, "registration", "/api/invoices", edition=edition, state=state, limit=LIST_LIMIT)
    if found.found:
        own = [i for i in found.body.get("invoices", []) if may(caller.principal, "read", i.get("edition"))]
        return Answer(200, {"invoices": own})
    return found


async def fetch(request: Request, number: str) -> Invoice | None:
    found = await read(request, "registration", f"/api/invoices/{quote(number)}")
    return found.body if found.found and isinstance(found.body, dict) else None


async def readable(request: Request, action: Action = "read") -> tuple[Caller, Invoice | None]:
    """The caller and the invoice of the path, checked against its edition; the invoice is None when unknown.
    A role that may not do ACTION at all is refused before anything is read."""
    caller = await signed_in(request)
    if caller is None:
        raise NotSignedIn
    if action not in PERMISSIONS[caller.principal.role]:
        raise Forbidden(caller, action, None)
    invoice = await fetch(request, request.path_params["number"])
    if invoice is not None:
        caller = await require(request, action, invoice["edition"])
    return caller, invoice


# The operations --------------------------------------------------------------------------------------------------


async def list_invoices(request: Request) -> Response:
    edition = request.query_params.get("edition") or None
    state = request.query_params.get("state") or None
    caller = await signed_in(request)
    if caller is None:
        raise NotSignedIn
    if edition is not None or caller.principal.role != "facilitator":
        caller = await require(request, "read", edition)
    found = await invoices_of(request, caller, edition, state)
    if found.status == 422:
        return JSONResponse(found.body, status_code=422, headers={"Cache-Control": "no-store"})
    return JSONResponse(found.body if found.found else {"invoices": []}, headers={"Cache-Control": "no-store"})


async def show_invoice(request: Request) -> Response:
    _, invoice = await readable(request)
    if invoice is None:
        return unknown_invoice()
    return JSONResponse(with_documents(invoice), headers={"Cache-Control": "no-store"})


def with_documents(invoice: Invoice) -> Invoice:
    """The invoice with the console's links to its documents (the trio's signed links stay in their mails)."""
    number = invoice["invoice_number"]
    names = [n for n in DOCUMENTS if not n.startswith("credit-note") or invoice.get("credit_note")]
    return {**invoice, "documents": {name: document_path(number, name) for name in names}}


async def download(request: Request) -> Response:
    name = request.path_params["document"]
    caller, invoice = await readable(request)
    if invoice is None:
        return unknown_invoice()
    if name not in DOCUMENTS or (name.startswith("credit-note") and not invoice.get("credit_note")):
        return api_errors("unknown_document", f"Dit document bestaat niet. Kies uit: {', '.join(DOCUMENTS)}.", 404)
    prefix, kind = DOCUMENTS[name]
    number = invoice["credit_note"]["number"] if name.startswith("credit-note") else invoice["invoice_number"]
    found = await backends(request).apis.download("registration", f"{prefix}/{quote(number)}.{kind}")
    if found.status != 200:
        return api_errors("document_failed", "Het document lukte nu niet. Probeer het over een minuut opnieuw.", 502)
    async with repositories(database(request)) as repos:
        # Who took which invoice home: it names the municipality and its purchase reference.
        await record(
            repos.audit,
            console(request).clock(),
            caller.principal.account_id,
            "invoice.download",
            f"invoice:{invoice['invoice_number']}",
            address=address(request),
            reason=name,
        )
    headers = {"Cache-Control": "private, no-store", "Content-Disposition": f'inline; filename="{number}.{kind}"'}
    return Response(found.content, media_type=found.media_type, headers=headers)


async def record_payment(request: Request) -> Response:
    number = request.path_params["number"]
    caller, invoice = await readable(request, "invoices.write")
    try:
        command = await parse_body(request, RegisterPayment, invoice_number=number)
    except BadBody as bad:
        return bad.response
    if invoice is None:
        return unknown_invoice()
    outcome = await perform(request, caller, command, subject=f"invoice:{number}", reason=command.reference or "")
    return answer(outcome, invoice_number=number)


async def credit(request: Request) -> Response:
    number = request.path_params["number"]
    caller, invoice = await readable(request, "invoices.write")
    try:
        command = await parse_body(request, IssueCreditNote, invoice_number=number)
    except BadBody as bad:
        return bad.response
    if invoice is None:
        return unknown_invoice()
    outcome = await perform(request, caller, command, subject=f"invoice:{number}", reason=command.reason)
    return answer(outcome, accepted=201, invoice_number=number)


async def resend(request: Request) -> Response:
    number = request.path_params["number"]
    caller, invoice = await readable(request, "invoices.write")
    if invoice is None:
        return unknown_invoice()
    outcome = await perform(request, caller, ResendInvoice(invoice_number=number), subject=f"invoice:{number}")
    return answer(outcome, invoice_number=number)


OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/invoices",
        list_invoices,
        "De facturen, oudste eerst (een begeleider: van de eigen edities)",
        "read",
        "facturen",
        answer=InvoiceList,
        answers={200: "De facturen met hun stand (state).", 422: "Een onbekende stand."},
        query=(
            Query("edition", "Alleen de facturen van deze editie (slug)."),
            Query("state", "Alleen de facturen in deze stand: open, overdue, paid of credited."),
        ),
    ),
    Operation(
        "GET",
        "/api/invoices/{number}",
        show_invoice,
        "Eén factuur: bedragen, betalingen, creditnota en de links naar de documenten",
        "read",
        "facturen",
        answers={200: "De factuur.", 404: "Dit factuurnummer kennen we niet."},
    ),
    Operation(
        "GET",
        "/api/invoices/{number}/documents/{document}",
        download,
        "Een document zoals het is uitgegeven: invoice.pdf, invoice.xml (UBL), credit-note.pdf, credit-note.xml",
        "read",
        "facturen",
        answers={200: "Het document.", 404: "Deze factuur of dit document bestaat niet."},
    ),
    Operation(
        "POST",
        "/api/invoices/{number}/payments",
        record_payment,
        "Een ontvangen betaling vastleggen (bedrag in centen, valutadatum, kenmerk)",
        "invoices.write",
        "facturen",
        body=NewPayment,
        answer=InvoiceAccepted,
        answers={
            200: "Vastgelegd; open_cents is wat nog openstaat.",
            202: "Verstuurd; de registratie heeft nog niet geantwoord.",
            404: "Dit factuurnummer kennen we niet.",
            409: "De factuur is al betaald of gecrediteerd.",
            422: "Het bedrag klopt niet (bijvoorbeeld hoger dan wat openstaat).",
        },
        idempotent_key=True,
    ),
    Operation(
        "POST",
        "/api/invoices/{number}/credit-note",
        credit,
        "De factuur volledig crediteren zonder de aanmelding te annuleren (met een reden)",
        "invoices.write",
        "facturen",
        body=NewCreditNote,
        answer=InvoiceAccepted,
        answers={
            201: "De creditnota is uitgegeven.",
            202: "Verstuurd; de registratie heeft nog niet geantwoord.",
            404: "Dit factuurnummer kennen we niet.",
            409: "De factuur is al gecrediteerd.",
            422: "Geen reden gegeven.",
        },
        idempotent_key=True,
    ),
    Operation(
        "POST",
        "/api/invoices/{number}/resend",
        resend,
        "De factuurmail opnieuw versturen, met de documenten zoals uitgegeven, naar het factuuradres van nu",
        "invoices.write",
        "facturen",
        answer=InvoiceAccepted,
        answers={
            200: "Opnieuw verstuurd (de mail staat klaar).",
            202: "Verstuurd; de registratie heeft nog niet geantwoord.",
            404: "Dit factuurnummer kennen we niet.",
            409: "De factuur is gecrediteerd.",
            422: "Het e-mailadres van de factuur is gewist.",
        },
        idempotent_key=True,
    ),
)
