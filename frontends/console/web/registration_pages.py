"""The console's pages for registrations: the list (filters, search, pages), one registration with its whole
history and the forms of the organisers' actions, and the confirmation step before erasing.

Every form posts to `/console/registrations/{id}/{action}` with its CSRF token; the action is the API's (see
registration_actions), so a page and the API refuse and accept alike. Success answers with a redirect to the
registration (post/redirect/get), a refusal with the page again and the service's reasons next to the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shared.contract import ErrorItem

from ..domain import EDITION_SCOPED_ROLES, may
from ..store import repositories
from .access import Caller, console, database, require, signed_in
from .acting import perform, read
from .registration_actions import ACTIONS, Registration, caller_who_may, check_edition, fetch, prepare, subject
from .rendering import BadForm, csrf_refused, page, problem, read_form

LIST_PATH: Final = "/console/registrations"
FILTERS: Final = ("edition", "status", "size_class", "priority", "paid", "q")
PAGE_SIZE: Final = 25
DOMAINS: Final = ("fysiek", "sociaal", "veiligheid", "economie", "bestuur", "overig")

STATUS_TEXTS: Final = {
    "awaiting_approval": "wacht op goedkeuring",
    "approved": "goedgekeurd, nog geen plaats",
    "placed": "geplaatst",
    "waitlisted": "op de wachtlijst",
    "declined": "afgewezen",
    "cancelled": "geannuleerd",
}
SIZE_TEXTS: Final = {"klein": "klein", "middelgroot": "middelgroot", "groot": "groot"}
MEMBER_ROLE_TEXTS: Final = {"wijkambtenaar": "wijkambtenaar", "sectorambtenaar": "sectorambtenaar"}
DOMAIN_TEXTS: Final = {d: d.capitalize() for d in DOMAINS}
LANGUAGE_TEXTS: Final = {"nl": "Nederlands", "en": "Engels"}
INVOICE_TEXTS: Final = {"open": "open", "overdue": "te laat", "paid": "betaald", "credited": "gecrediteerd"}
TEXTS: Final = {
    "STATUS_TEXTS": STATUS_TEXTS,
    "SIZE_TEXTS": SIZE_TEXTS,
    "MEMBER_ROLE_TEXTS": MEMBER_ROLE_TEXTS,
    "DOMAIN_TEXTS": DOMAIN_TEXTS,
    "LANGUAGE_TEXTS": LANGUAGE_TEXTS,
    "INVOICE_TEXTS": INVOICE_TEXTS,
}


def detail_path(registration_id: str) -> str:
    return f"{LIST_PATH}/{registration_id}"


# The list ---------------------------------------------------------------------------------------------------------


async def list_page(request: Request) -> Response:
    chosen = {name: request.query_params.get(name, "").strip() for name in FILTERS}
    who = await signed_in(request)
    if who is not None and not chosen["edition"] and who.principal.role in EDITION_SCOPED_ROLES:
        own = sorted(who.principal.editions)
        if own:  # a facilitator reads only their own editions: start with the first of them
            kept = {name: value for name, value in chosen.items() if value}
            return RedirectResponse(f"{LIST_PATH}?{urlencode({**kept, 'edition': own[0]})}", 303)
    caller = await require(request, "read", chosen["edition"] or None)
    offset = request.query_params.get("offset", "0")
    params = {name: value for name, value in chosen.items() if value}
    found = await read(request, "registration", "/api/registrations", **params, limit=PAGE_SIZE, offset=offset)
    errors: dict[str, str] = {}
    listing: dict[str, Any] = {"registrations": [], "total": 0, "next_offset": None, "offset": 0}
    if found.status == 422:
        errors = {e.get("field", ""): e.get("message", "") for e in found.body.get("errors", [])}
    elif found.found:
        listing = found.body
    editions = await _editions(request, caller)

    def link(to_offset: int | None) -> str | None:
        if to_offset is None:
            return None
        return f"{LIST_PATH}?{urlencode({**params, 'offset': to_offset})}"

    start = int(listing.get("offset") or 0)
    previous = link(max(start - PAGE_SIZE, 0)) if start > 0 else None
    return await _with_csrf(
        request,
        "registration_list.html",
        422 if errors else 200,
        caller=caller,
        chosen=chosen,
        errors=errors,
        editions=editions,
        listing=listing,
        first=start + 1,
        previous=previous,
        following=link(listing.get("next_offset")),
    )


async def _editions(request: Request, caller: Caller) -> dict[str, str]:
    """The editions to filter on (a facilitator's own), slug -> what the choice says."""
    found = await read(request, "scheduling", "/api/editions")
    editions = found.body.get("editions", []) if found.found else []
    return {
        e["slug"]: f"{e.get('title', '')} ({e['slug']})"
        for e in editions
        if isinstance(e, dict) and "slug" in e and may(caller.principal, "read", e["slug"])
    }


# One registration ---------------------------------------------------------------------------------------------


@dataclass
class Failed:
    """A form that came back refused: which one, its reasons by field, and what was typed in it."""

    form: str
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    values: Mapping[str, str] = field(default_factory=dict)


def failed(form: str, errors: list[ErrorItem], values: Mapping[str, str], fields: set[str]) -> Failed:
    """Each reason next to the field it names, when the form has it; the others above the form."""
    shown = Failed(form, values=values)
    for error in errors:
        name = _form_field(error.field)
        if name in fields and name not in shown.errors:
            shown.errors[name] = error.message
        else:
            shown.general.append(error.message)
    return shown


def _form_field(path: str) -> str:
    """`case.domains[0]` -> `case.domains`: the form's name of the field an error path points into."""
    return path.split("[", 1)[0]


async def detail_page(request: Request, *, refused: Failed | None = None, status: int = 200) -> Response:
    registration_id = request.path_params["registration_id"]
    caller = await caller_who_may(request, "read")
    registration = await fetch(request, registration_id)
    if registration is None:
        return problem(404, "Deze aanmelding bestaat niet", "Kies een aanmelding uit de lijst.")
    check_edition(caller, "read", registration["edition"])
    done = request.query_params.get("gedaan", "")
    sent = request.query_params.get("verstuurd", "")
    notice = ""
    if done in ACTIONS:
        notice = ACTIONS[done].done
    elif sent in ACTIONS:
        notice = "Verstuurd. De dienst heeft nog niet geantwoord; vernieuw de pagina over een paar tellen."
    return await _with_csrf(
        request,
        "registration_detail.html",
        status,
        caller=caller,
        r=registration,
        may_act=may(caller.principal, "registrations.write", registration["edition"]),
        actors=await _actor_names(request, registration),
        notice=notice,
        failed=refused,
        domains=DOMAINS,
        # ReplaceMember names the member by position in the trio (member_index).
        member_choices={str(m.get("position", i)): m.get("name", "") for i, m in enumerate(registration["members"])},
    )


async def _actor_names(request: Request, registration: Registration) -> dict[str, str]:
    """The console accounts named in the history, by id: their name, else their address."""
    ids = {e["actor"] for e in registration.get("history", []) if e.get("actor")}
    names: dict[str, str] = {}
    async with repositories(database(request)) as repos:
        for account_id in sorted(ids):
            account = await repos.accounts.get(account_id)
            names[account_id] = (account.name or account.email) if account is not None else "een verwijderd account"
    return names


async def erase_page(request: Request, *, refused: Failed | None = None, status: int = 200) -> Response:
    registration_id = request.path_params["registration_id"]
    caller = await caller_who_may(request, "registrations.write")
    registration = await fetch(request, registration_id)
    if registration is None:
        return problem(404, "Deze aanmelding bestaat niet", "Kies een aanmelding uit de lijst.")
    check_edition(caller, "registrations.write", registration["edition"])
    return await _with_csrf(request, "registration_erase.html", status, caller=caller, r=registration, failed=refused)


# Acting -----------------------------------------------------------------------------------------------------------

# The form fields each form has (their names are the command's field paths), to show a reason next to its field.
FORM_FIELDS: Final[Mapping[str, set[str]]] = {
    "approve": {"reason"},
    "decline": {"reason"},
    "cancel": {"reason"},
    "erase": {"reason", "confirm"},
    "correct-case": {"reason", "case.title", "case.neighbourhood", "case.summary", "case.domains"},
    "correct-invoice": {"reason", "invoice.address", "invoice.reference", "invoice.email"},
    "replace-member": {
        "reason",
        "member_index",
        *(f"member.{f}" for f in ("name", "email", "role", "domain", "job_title", "language")),
    },
    "place": {"reason"},
    "move": {"reason", "position"},
}


def given_fields(form: Mapping[str, str], part: str) -> dict[str, Any]:
    """The posted form as the action's fields: `case.title` -> {"case": {"title": ...}}, the domain checkboxes
    (`case.domains.fysiek`) as a list, `confirm` as true; empty inputs left out (the command says what it needs)."""
    given: dict[str, Any] = {}
    for name, raw in form.items():
        value = raw.strip()
        if name in ("csrf", "part") or not value:
            continue
        if part and "." in name and not name.startswith(part + "."):
            continue  # another part of the correction form
        if name == "confirm":
            given["confirm"] = value == "ja"
            continue
        head, _, rest = name.partition(".")
        if not rest:
            given[head] = value
        elif rest.startswith("domains."):
            given.setdefault(head, {}).setdefault("domains", []).append(rest.removeprefix("domains."))
        else:
            given.setdefault(head, {})[rest] = value
    if part == "case":
        given.setdefault("case", {}).setdefault("domains", [])
    return given


async def act(request: Request) -> Response:
    registration_id = request.path_params["registration_id"]
    action = ACTIONS.get(request.path_params["action"])
    if action is None:
        return problem(404, "Deze handeling bestaat niet", "Gebruik de knoppen op de pagina van de aanmelding.")
    try:
        form = await read_form(request)
    except BadForm as bad:
        return bad.response
    if not console(request).csrf.valid(request, form.get("csrf", "")):
        return csrf_refused()
    caller = await caller_who_may(request, "registrations.write")
    registration = await fetch(request, registration_id)
    if registration is None:
        return problem(404, "Deze aanmelding bestaat niet", "Kies een aanmelding uit de lijst.")
    check_edition(caller, "registrations.write", registration["edition"])
    part = form.get("part", "") if action.name == "correct" else ""
    name = f"{action.name}-{part}" if part in ("case", "invoice") else action.name
    again = erase_page if action.confirm else detail_page
    prepared = prepare(action, given_fields(form, part), registration)
    if isinstance(prepared, list):
        return await again(request, refused=failed(name, prepared, form, FORM_FIELDS.get(name, set())), status=422)
    outcome = await perform(request, caller, prepared.command, subject=subject(registration_id), reason=prepared.reason)
    if outcome.status == "rejected":
        shown = failed(name, outcome.errors, form, FORM_FIELDS.get(name, set()))
        return await again(request, refused=shown, status=outcome.http_status())
    said = "gedaan" if outcome.status == "accepted" else "verstuurd"
    return RedirectResponse(f"{detail_path(registration_id)}?{said}={action.name}#melding", 303)


async def _with_csrf(request: Request, template: str, status: int, **context: Any) -> Response:
    csrf = console(request).csrf
    token, fresh = csrf.issue(request)
    values: dict[str, Any] = {**TEXTS, **context}
    response = page(template, status, csrf=token, **values)
    return csrf.attach(response, fresh)


def routes() -> list[Route]:
    return [
        Route("/registrations", list_page, methods=["GET"]),
        Route("/registrations/{registration_id}", detail_page, methods=["GET"]),
        Route("/registrations/{registration_id}/erase", erase_page, methods=["GET"]),
        Route("/registrations/{registration_id}/{action}", act, methods=["POST"]),
    ]
