"""HTTP routes of invoicing: the documents (for organisers with their token, for the trio with the signed link
from the invoice mail or the status page), the organisers' list of invoices and recording a payment.

| path | who |
|---|---|
| `GET /invoices/{number}.pdf`, `.xml` | organisers (Bearer) or `?token=` (purpose `invoice`, that number) |
| `GET /credit-notes/{number}.pdf`, `.xml` | the same |
| `GET /api/invoices[?edition=&state=&limit=]` | organisers: `state` open, overdue, paid or credited; `limit` 1-1000 |
| `GET /api/invoices/{number}` | organisers: one invoice with its payments and credit note |
| `POST /api/invoices/{number}/payments` | organisers: `{amount_cents, paid_at, reference}`, run as RegisterPayment |
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.contract import ErrorItem
from shared.contract.registration import RegisterPayment
from shared.http import error_response, http_command, is_organizer, unauthorized
from shared.messaging.processing import ORGANISER_TOKEN_ACTOR, from_organiser_route
from shared.messaging.wiring import Consumers

from .adapters import RegistrationStore, SqlBilling
from .entrypoints import MAX_BODY_BYTES, body_too_large, read_body, refusal_response

NUMBER = re.compile(r"^[A-Z0-9-]{1,32}$")
MEDIA_TYPES = {"pdf": "application/pdf", "xml": "application/xml"}
# The documents are the municipality's financial record: not for caches, not for other sites' frames.
DOCUMENT_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
REFUSAL_STATUS = {"unknown_invoice": 404, "already_paid": 409, "invoice_credited": 409}
STATES = ("open", "overdue", "paid", "credited")
MAX_LIMIT = 1000


def _not_found() -> JSONResponse:
    return error_response([ErrorItem(field="", code="not_found", message="Dit document bestaat niet.")], 404)


async def invoice_links_of(store: RegistrationStore, registration_id: str) -> dict[str, Any] | None:
    """The trio's signed links to its invoice (and credit note), for the status page; None: no invoice."""
    if store.invoice_links is None:
        return None
    async with store.db.sessions() as session:
        invoice = await SqlBilling(session).of_registration(registration_id)
    if invoice is None:
        return None
    links = store.invoice_links
    credit = invoice.credit_note_number
    return {
        "number": invoice.number,
        "pdf": links.url(invoice.number, "pdf"),
        "ubl": links.url(invoice.number, "xml"),
        "open_cents": invoice.open_cents,
        "credit_note": {
            "number": credit,
            "pdf": links.url(credit, "pdf", credit_note=True),
            "ubl": links.url(credit, "xml", credit_note=True),
        }
        if credit
        else None,
    }


def invoice_routes(store: RegistrationStore, consumers: Consumers, organizer_token: str) -> list[Route]:
    def document(credit_note: bool):  # noqa: ANN202
        async def endpoint(request: Request) -> Response:
            number, kind = request.path_params["number"], request.path_params["kind"]
            if not NUMBER.fullmatch(number) or kind not in MEDIA_TYPES:
                return _not_found()
            links = store.invoice_links
            if not (
                is_organizer(request, organizer_token)
                or (links is not None and links.allows(request.query_params.get("token", ""), number))
            ):
                return unauthorized()
            async with store.db.sessions() as session:
                content = await SqlBilling(session).document(number, kind, credit_note=credit_note)
            if content is None:
                return _not_found()
            return Response(
                content,
                media_type=MEDIA_TYPES[kind],
                headers={**DOCUMENT_HEADERS, "Content-Disposition": f'inline; filename="{number}.{kind}"'},
            )

        return endpoint

    async def listing(request: Request) -> JSONResponse:
        if not is_organizer(request, organizer_token):
            return unauthorized()
        state, limit = request.query_params.get("state") or None, request.query_params.get("limit", "")
        if state is not None and state not in STATES:
            return error_response(
                [ErrorItem(field="state", code="invalid_state", message="Kies open, overdue, paid of credited.")]
            )
        if limit and not (limit.isdigit() and 1 <= int(limit) <= MAX_LIMIT):
            return error_response(
                [ErrorItem(field="limit", code="invalid_limit", message=f"Geef een aantal van 1 tot {MAX_LIMIT}.")]
            )
        async with store.db.sessions() as session:
            found = await SqlBilling(session).listing(
                request.query_params.get("edition"), state, int(limit) if limit else None
            )
        return JSONResponse({"invoices": found}, headers={"Cache-Control": "no-store"})

    async def detail(request: Request) -> JSONResponse:
        if not is_organizer(request, organizer_token):
            return unauthorized()
        number = request.path_params["number"]
        if not NUMBER.fullmatch(number):
            return _not_found()
        async with store.db.sessions() as session:
            found = await SqlBilling(session).detail(number)
        if found is None:
            return _not_found()
        return JSONResponse(found, headers={"Cache-Control": "no-store"})

    async def payment(request: Request) -> JSONResponse:
        if not is_organizer(request, organizer_token):
            return unauthorized()
        raw = await read_body(request, MAX_BODY_BYTES)
        if raw is None:
            return body_too_large()
        try:
            given = json.loads(raw)
        except (UnicodeDecodeError, ValueError, RecursionError):
            given = None
        if not isinstance(given, dict):
            return error_response(
                [ErrorItem(field="", code="invalid_json", message="Het verzoek moet een JSON-object zijn.")]
            )
        body = {**given, "invoice_number": request.path_params["number"], "actor": ORGANISER_TOKEN_ACTOR}
        msg = http_command(request, RegisterPayment, json.dumps(body).encode())
        if isinstance(msg, JSONResponse):
            return msg
        reply = await consumers.command(RegisterPayment, from_organiser_route(msg))
        if reply.status == "rejected":
            response = refusal_response(reply, msg.correlation_id)
            response.status_code = REFUSAL_STATUS.get(reply.errors[0].code, 422) if reply.errors else 422
            return response
        return JSONResponse({"status": "accepted", **reply.ids}, headers={"X-Correlation-ID": msg.correlation_id or ""})

    return [
        Route("/invoices/{number}.{kind}", document(credit_note=False), methods=["GET"]),
        Route("/credit-notes/{number}.{kind}", document(credit_note=True), methods=["GET"]),
        Route("/api/invoices", listing, methods=["GET"]),
        Route("/api/invoices/{number}", detail, methods=["GET"]),
        Route("/api/invoices/{number}/payments", payment, methods=["POST"]),
    ]
