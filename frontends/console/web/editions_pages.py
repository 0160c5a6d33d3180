"""The editions' pages: the list with the numbers that matter, one edition (its state, numbers, exports and links),
and creating, copying and editing one through the edition form, allocating the places early, stopping registration
and reopening it.

Every change is a scheduling command sent with `perform` (actor and audit); a refusal comes back as the form
again with the service's reasons next to the inputs (edition_form.py), a success as a redirect (303) to the
edition's page, which says what happened."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shared.contract import Command, ErrorItem
from shared.contract.scheduling import CloseRegistration, PlanSeating, ReopenRegistration, StopRegistration
from shared.messaging.errors import validation_errors

from ..domain import may
from .access import Caller, NotSignedIn, console, require, signed_in
from .acting import perform, read
from .edition_form import EditionForm, command_from, values_of
from .overview import EXPORTS, EditionLine, edition_lines
from .rendering import BadForm, csrf_refused, page, problem, read_form

EDITIONS_PATH: Final = "/console/editions"
FORM_BYTES: Final = 64 * 1024  # three sessions' outcomes of up to 2000 characters each, URL-encoded
FORM_FIELDS: Final = 80
# What the edition's page says after a change (?gedaan=...), so a reload does not repeat the change.
DONE_TEXTS: Final[Mapping[str, str]] = {
    "aangemaakt": "De editie is aangemaakt. De aanmelding staat open tot het moment dat je hebt gekozen.",
    "gewijzigd": "De wijzigingen zijn opgeslagen. Geplaatste trio's krijgen bericht als een bijeenkomst verschuift.",
    "verdeeld": "De plaatsen zijn verdeeld. De aanmelding blijft open tot het sluitmoment: wie zich nog aanmeldt, "
    "krijgt na goedkeuring een vrije plaats of komt op de wachtlijst.",
    "gestopt": "De aanmelding is gestopt: nieuwe aanmeldingen worden geweigerd.",
    "heropend": "De aanmelding is weer open.",
    "ingedeeld": "De tafelindeling van de bijeenkomsten die nog komen is opnieuw gemaakt.",
    "verstuurd": "Verstuurd. De planning heeft nog niet geantwoord; ververs deze pagina over een paar seconden.",
}


def _render(request: Request, caller: Caller, template: str, status: int = 200, **context: Any) -> Response:
    csrf = console(request).csrf
    token, fresh = csrf.issue(request)
    response = page(template, status, caller=caller, csrf=token, **context)
    return csrf.attach(response, fresh)


def _done(slug: str, outcome_status: str, what: str) -> Response:
    done = "verstuurd" if outcome_status == "pending" else what
    return RedirectResponse(f"{EDITIONS_PATH}/{slug}?gedaan={done}", 303)


async def _edition(request: Request, slug: str) -> Mapping[str, Any] | None:
    found = await read(request, "scheduling", f"/api/editions/{slug}")
    return found.body if found.found else None


def _unknown() -> Response:
    return problem(404, "Deze editie bestaat niet", "Kies een editie uit het overzicht van de edities.")


# The list and one edition ------------------------------------------------------------------------------------


async def editions_list(request: Request) -> Response:
    caller = await signed_in(request)
    if caller is None:
        raise NotSignedIn
    lines = await edition_lines(request, caller)
    return _render(
        request,
        caller,
        "editions.html",
        lines=lines,
        may_write=may(caller.principal, "editions.write"),
        exports=EXPORTS,
    )


async def edition_page(request: Request) -> Response:
    slug = request.path_params["slug"]
    caller = await require(request, "read", slug)
    return await _edition_page(request, caller, slug, notice=DONE_TEXTS.get(request.query_params.get("gedaan", ""), ""))


async def _edition_page(
    request: Request,
    caller: Caller,
    slug: str,
    *,
    notice: str = "",
    errors: Sequence[ErrorItem] = (),
    status: int = 200,
) -> Response:
    lines = await edition_lines(request, caller, slug)
    if not lines:
        return _unknown()
    line: EditionLine = lines[0]
    return _render(
        request,
        caller,
        "edition.html",
        status,
        line=line,
        fee_text=line.fee_text,
        may_write=may(caller.principal, "editions.write", slug),
        exports=EXPORTS,
        notice=notice,
        errors=list(errors),
    )


# The form: new, copy, edit -----------------------------------------------------------------------------------


def _form_page(
    request: Request,
    caller: Caller,
    form: EditionForm,
    *,
    slug: str | None = None,
    source: str = "",
    locked: bool = False,
    status: int = 200,
) -> Response:
    """The form; SLUG for an edit (whose slug cannot change), SOURCE the title of a copied edition, LOCKED when
    the edition can no longer be changed (its registration is closed: scheduling refuses then)."""
    return _render(
        request,
        caller,
        "edition_form.html",
        status,
        form=form,
        slug=slug,
        source=source,
        locked=locked,
        action=f"{EDITIONS_PATH}/{slug}/edit" if slug else f"{EDITIONS_PATH}/new",
    )


async def new_form(request: Request) -> Response:
    caller = await require(request, "editions.write")
    return _form_page(request, caller, EditionForm())


async def copy_form(request: Request) -> Response:
    """The form for a new edition, filled in with an existing one a year later."""
    slug = request.path_params["slug"]
    caller = await require(request, "editions.write")
    edition = await _edition(request, slug)
    if edition is None:
        return _unknown()
    return _form_page(request, caller, EditionForm(values_of(edition, years=1)), source=str(edition.get("title", slug)))


async def edit_form(request: Request) -> Response:
    slug = request.path_params["slug"]
    caller = await require(request, "editions.write", slug)
    edition = await _edition(request, slug)
    if edition is None:
        return _unknown()
    locked = not edition.get("registration_open", True)
    return _form_page(request, caller, EditionForm(values_of(edition)), slug=slug, locked=locked)


async def _posted(request: Request) -> dict[str, str] | Response:
    try:
        form = await read_form(request, max_bytes=FORM_BYTES, max_fields=FORM_FIELDS)
    except BadForm as bad:
        return bad.response
    if not console(request).csrf.valid(request, form.get("csrf", "")):
        return csrf_refused()
    return form


async def create(request: Request) -> Response:
    caller = await require(request, "editions.write")
    values = await _posted(request)
    if isinstance(values, Response):
        return values
    form = EditionForm(values)
    command = command_from(values)
    if isinstance(command, list):
        return _form_page(request, caller, form.refused(command), status=422)
    if await _edition(request, command.edition) is not None:
        taken = ErrorItem(
            field="edition",
            code="edition_exists",
            message=f"Er is al een editie {command.edition}. Kies een andere korte naam, of wijzig die editie.",
        )
        return _form_page(request, caller, form.refused([taken]), status=409)
    outcome = await perform(request, caller, command, subject=f"edition:{command.edition}")
    if outcome.status == "rejected":
        return _form_page(request, caller, form.refused(outcome.errors), status=outcome.http_status())
    if outcome.status == "pending":
        return RedirectResponse(f"{EDITIONS_PATH}?gedaan=verstuurd", 303)
    return _done(command.edition, outcome.status, "aangemaakt")


async def update(request: Request) -> Response:
    slug = request.path_params["slug"]
    caller = await require(request, "editions.write", slug)
    values = await _posted(request)
    if isinstance(values, Response):
        return values
    form = EditionForm(values)
    command = command_from(values, slug=slug)
    if isinstance(command, list):
        return _form_page(request, caller, form.refused(command), slug=slug, status=422)
    if await _edition(request, slug) is None:
        return _unknown()
    outcome = await perform(request, caller, command, subject=f"edition:{slug}")
    if outcome.status == "rejected":
        return _form_page(request, caller, form.refused(outcome.errors), slug=slug, status=outcome.http_status())
    return _done(slug, outcome.status, "gewijzigd")


# Registration: allocate early, stop, reopen -------------------------------------------------------------------


async def _registration_command(
    request: Request, make: Callable[[Mapping[str, str]], Command], slug: str, what: str
) -> Response:
    caller = await require(request, "editions.write", slug)
    values = await _posted(request)
    if isinstance(values, Response):
        return values
    try:
        command = make(values)
    except ValidationError as exc:
        return await _edition_page(request, caller, slug, errors=validation_errors(exc), status=422)
    outcome = await perform(request, caller, command, subject=f"edition:{slug}")
    if outcome.status == "rejected":
        return await _edition_page(request, caller, slug, errors=outcome.errors, status=outcome.http_status())
    return _done(slug, outcome.status, what)


async def close(request: Request) -> Response:
    slug = request.path_params["slug"]
    return await _registration_command(request, lambda _: CloseRegistration(edition=slug), slug, "verdeeld")


async def stop(request: Request) -> Response:
    slug = request.path_params["slug"]

    def command(values: Mapping[str, str]) -> Command:
        return StopRegistration(edition=slug, reason=values.get("reason", "").strip() or None)

    return await _registration_command(request, command, slug, "gestopt")


async def reopen(request: Request) -> Response:
    slug = request.path_params["slug"]
    return await _registration_command(request, lambda _: ReopenRegistration(edition=slug), slug, "heropend")


async def plan_seating(request: Request) -> Response:
    slug = request.path_params["slug"]
    return await _registration_command(request, lambda _: PlanSeating(edition=slug), slug, "ingedeeld")


def editions_page_routes() -> list[Route]:
    return [
        Route("/editions", editions_list, methods=["GET"]),
        Route("/editions/new", new_form, methods=["GET"]),
        Route("/editions/new", create, methods=["POST"]),
        Route("/editions/{slug}", edition_page, methods=["GET"]),
        Route("/editions/{slug}/copy", copy_form, methods=["GET"]),
        Route("/editions/{slug}/edit", edit_form, methods=["GET"]),
        Route("/editions/{slug}/edit", update, methods=["POST"]),
        Route("/editions/{slug}/close", close, methods=["POST"]),
        Route("/editions/{slug}/stop", stop, methods=["POST"]),
        Route("/editions/{slug}/reopen", reopen, methods=["POST"]),
        Route("/editions/{slug}/seating", plan_seating, methods=["POST"]),
    ]
