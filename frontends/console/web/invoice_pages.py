"""The console's invoice pages: the list (by edition and state), one invoice with its amounts, payments, state and
documents, and the forms "Betaling vastleggen", "Crediteren" and "Opnieuw versturen".

The forms post with their CSRF token; amounts are typed the Dutch way ("242,00") and sent as cents in
`registration.RegisterPayment`, the date as the value date at midnight in Amsterdam. Success answers with a
redirect to the invoice (post/redirect/get), a refusal with the page again and the service's reasons next to the
fields. Reading and the permission checks are the API's (invoices_api), so both refuse and accept alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shared.contract import Command, ErrorItem
from shared.contract.registration import IssueCreditNote, RegisterPayment, ResendInvoice
from shared.formatting import AMSTERDAM, dutch_date, euro

from ..domain import may
from .access import Caller, NotSignedIn, console, require, signed_in
from .acting import Outcome, perform, read
from .invoices_api import Invoice, invoices_of, readable, with_documents
from .rendering import BadForm, csrf_refused, page, problem, read_form

LIST_PATH: Final = "/console/invoices"
MAX_CENTS: Final = 100_000_000  # RegisterPayment's bound
STATE_TEXTS: Final = {"open": "open", "overdue": "te laat", "paid": "betaald", "credited": "gecrediteerd"}
AMOUNT: Final = re.compile(r"^(?:€\s*)?(?P<euros>\d{1,3}(?:\.\d{3})+|\d{1,9})(?:,(?P<cents>\d{1,2}))?$")
DONE_TEXTS: Final[Mapping[str, str]] = {
    "betaald": "De betaling is vastgelegd.",
    "gecrediteerd": "De factuur is gecrediteerd. De creditnota gaat per e-mail naar de ontvanger van de factuur.",
    "opnieuw": "De factuur gaat opnieuw per e-mail naar het factuuradres, met de documenten zoals uitgegeven.",
    "verstuurd": "Verstuurd. De registratie heeft nog niet geantwoord; vernieuw de pagina over een paar tellen.",
}
# The command's fields by the name of the form's input, to show a service's reason next to its input.
PAYMENT_FIELDS: Final = {"amount_cents": "amount", "paid_at": "paid_on", "reference": "reference"}
CREDIT_FIELDS: Final = {"reason": "reason"}


def detail_path(number: str) -> str:
    return f"{LIST_PATH}/{quote(number)}"


def amount_cents(text: str) -> int | None:
    """`242,00`, `242`, `1.242,5` or `€ 242,00` in cents; None when it is no amount written the Dutch way."""
    match = AMOUNT.match(text.strip())
    if match is None:
        return None
    euros = int(match.group("euros").replace(".", ""))
    return euros * 100 + int((match.group("cents") or "0").ljust(2, "0"))


def value_date(text: str) -> datetime | None:
    """The day the money arrived (`2027-10-14`, from a date input) as midnight in Amsterdam."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=AMSTERDAM)


def _render(request: Request, caller: Caller, template: str, status: int = 200, **context: Any) -> Response:
    csrf = console(request).csrf
    token, fresh = csrf.issue(request)
    response = page(
        template, status, caller=caller, csrf=token, STATE_TEXTS=STATE_TEXTS, euro=euro, day=_day, **context
    )
    return csrf.attach(response, fresh)


def _day(iso: str | None) -> str:
    """A date (`2028-01-15`) or a moment (a payment's value date, stored in UTC) as the day in Amsterdam."""
    if not iso:
        return ""
    if len(iso) == 10:
        return dutch_date(date.fromisoformat(iso))
    return dutch_date(datetime.fromisoformat(iso).astimezone(AMSTERDAM).date())


# The list ----------------------------------------------------------------------------------------------------------


async def list_page(request: Request) -> Response:
    chosen = {name: request.query_params.get(name, "").strip() for name in ("edition", "state")}
    caller = await signed_in(request)
    if caller is None:
        raise NotSignedIn
    if chosen["edition"] or caller.principal.role != "facilitator":
        caller = await require(request, "read", chosen["edition"] or None)
    errors: dict[str, str] = {}
    if chosen["state"] and chosen["state"] not in STATE_TEXTS:
        errors["state"] = "Kies een stand uit de lijst."
        invoices: list[Invoice] = []
    else:
        found = await invoices_of(request, caller, chosen["edition"] or None, chosen["state"] or None)
        invoices = found.body.get("invoices", []) if found.found else []
    editions = await _editions(request, caller)
    return _render(
        request,
        caller,
        "invoices.html",
        422 if errors else 200,
        chosen=chosen,
        errors=errors,
        editions=editions,
        invoices=invoices,
        open_cents=sum(int(i.get("open_cents", 0)) for i in invoices),
    )


async def _editions(request: Request, caller: Caller) -> dict[str, str]:
    found = await read(request, "scheduling", "/api/editions")
    editions = found.body.get("editions", []) if found.found else []
    return {
        e["slug"]: f"{e.get('title', '')} ({e['slug']})"
        for e in editions
        if isinstance(e, dict) and "slug" in e and may(caller.principal, "read", e["slug"])
    }


# One invoice -------------------------------------------------------------------------------------------------------


def _unknown() -> Response:
    return problem(404, "Deze factuur bestaat niet", "Kies een factuur uit het overzicht van de facturen.")


async def detail_page(request: Request) -> Response:
    caller, invoice = await readable(request)
    if invoice is None:
        return _unknown()
    return _detail(request, caller, invoice, notice=DONE_TEXTS.get(request.query_params.get("gedaan", ""), ""))


def _detail(
    request: Request,
    caller: Caller,
    invoice: Invoice,
    *,
    notice: str = "",
    form: str = "",
    errors: Mapping[str, str] | None = None,
    general: list[str] | None = None,
    values: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    return _render(
        request,
        caller,
        "invoice.html",
        status,
        i=with_documents(invoice),
        may_write=may(caller.principal, "invoices.write", invoice["edition"]),
        notice=notice,
        form=form,
        errors=errors or {},
        general=general or [],
        values=values or {"paid_on": datetime.now(AMSTERDAM).date().isoformat()},
    )


async def _posted(request: Request) -> dict[str, str] | Response:
    try:
        form = await read_form(request)
    except BadForm as bad:
        return bad.response
    if not console(request).csrf.valid(request, form.get("csrf", "")):
        return csrf_refused()
    return form


async def _act(
    request: Request,
    caller: Caller,
    invoice: Invoice,
    command: Command | dict[str, str],
    *,
    form: str,
    fields: Mapping[str, str],
    values: Mapping[str, str],
    done: str,
    reason: str,
) -> Response:
    """Send COMMAND (or show the form's own errors, by input) and answer with the invoice again."""
    number = invoice["invoice_number"]
    if isinstance(command, dict):
        return _detail(request, caller, invoice, form=form, errors=command, values=values, status=422)
    outcome: Outcome = await perform(request, caller, command, subject=f"invoice:{number}", reason=reason)
    if outcome.status == "rejected":
        errors, general = _placed(outcome.errors, fields)
        return _detail(
            request,
            caller,
            invoice,
            form=form,
            errors=errors,
            general=general,
            values=values,
            status=outcome.http_status(),
        )
    gedaan = "verstuurd" if outcome.status == "pending" else done
    return RedirectResponse(f"{detail_path(number)}?gedaan={gedaan}", 303)


def _placed(errors: list[ErrorItem], fields: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Each reason next to the input of the field it names; the others above the form."""
    by_input: dict[str, str] = {}
    general: list[str] = []
    for error in errors:
        name = fields.get(error.field.split("[", 1)[0])
        if name and name not in by_input:
            by_input[name] = error.message
        else:
            general.append(error.message)
    return by_input, general


async def record_payment(request: Request) -> Response:
    caller, invoice = await readable(request, "invoices.write")
    if invoice is None:
        return _unknown()
    values = await _posted(request)
    if isinstance(values, Response):
        return values
    cents, paid_at = amount_cents(values.get("amount", "")), value_date(values.get("paid_on", ""))
    reference = values.get("reference", "").strip()
    problems: dict[str, str] = {}
    if cents is None or not 0 < cents <= MAX_CENTS:
        problems["amount"] = "Vul het ontvangen bedrag in euro's in, zoals 242,00."
    if paid_at is None:
        problems["paid_on"] = "Vul de datum in waarop het geld binnenkwam."
    if len(reference) > 200:
        problems["reference"] = "Houd het kenmerk onder 200 tekens."
    command: Command | dict[str, str] = problems
    if not problems and cents is not None and paid_at is not None:
        command = RegisterPayment(
            invoice_number=invoice["invoice_number"], amount_cents=cents, paid_at=paid_at, reference=reference or None
        )
    return await _act(
        request,
        caller,
        invoice,
        command,
        form="payment",
        fields=PAYMENT_FIELDS,
        values=values,
        done="betaald",
        reason=reference,
    )


async def credit(request: Request) -> Response:
    caller, invoice = await readable(request, "invoices.write")
    if invoice is None:
        return _unknown()
    values = await _posted(request)
    if isinstance(values, Response):
        return values
    reason = values.get("reason", "").strip()
    command: Command | dict[str, str]
    if not reason:
        command = {"reason": "Geef een reden. Die komt op de creditnota."}
    elif len(reason) > 300:
        command = {"reason": "Houd de reden onder 300 tekens: die komt op de creditnota."}
    else:
        command = IssueCreditNote(invoice_number=invoice["invoice_number"], reason=reason)
    return await _act(
        request,
        caller,
        invoice,
        command,
        form="credit",
        fields=CREDIT_FIELDS,
        values=values,
        done="gecrediteerd",
        reason=reason,
    )


async def resend(request: Request) -> Response:
    caller, invoice = await readable(request, "invoices.write")
    if invoice is None:
        return _unknown()
    values = await _posted(request)
    if isinstance(values, Response):
        return values
    command = ResendInvoice(invoice_number=invoice["invoice_number"])
    return await _act(request, caller, invoice, command, form="resend", fields={}, values={}, done="opnieuw", reason="")


def routes() -> list[Route]:
    return [
        Route("/invoices", list_page, methods=["GET"]),
        Route("/invoices/{number}", detail_page, methods=["GET"]),
        Route("/invoices/{number}/payment", record_payment, methods=["POST"]),
        Route("/invoices/{number}/credit-note", credit, methods=["POST"]),
        Route("/invoices/{number}/resend", resend, methods=["POST"]),
    ]
