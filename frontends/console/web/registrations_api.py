"""The console's API for registrations: the list (filters and search, paged) and one registration with its
history, read from registration's query API; and the organisers' actions on one registration (registration_actions),
each published as a contract command with the caller as its actor and written to the audit log."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.http import error_response

from .access import require
from .acting import BadBody, answer, parse_body, perform, read
from .openapi import Endpoint, Operation, Query
from .registration_actions import (
    ACTIONS,
    GivenObject,
    RegistrationAction,
    action_body,
    caller_who_may,
    check_edition,
    fetch,
    prepare,
    subject,
)
from .rendering import api_errors

NO_STORE: Final = {"Cache-Control": "no-store"}  # personal data

LIST_QUERY: Final = (
    Query("edition", "Alleen deze editie (slug). Een begeleider moet een eigen editie kiezen."),
    Query("status", "Status, of meer gescheiden door komma's: awaiting_approval, approved, placed, waitlisted, ..."),
    Query("size_class", "Grootteklasse, of meer gescheiden door komma's: klein, middelgroot, groot."),
    Query("priority", "Alleen trio's met (true) of zonder (false) voorrang.", "boolean"),
    Query("paid", "Factuur helemaal betaald (true) of nog open (false).", "boolean"),
    Query("q", "Zoek op (een deel van) de naam van de gemeente of van een lid."),
    Query("limit", "Hoeveel per pagina (1 tot en met 500, standaard 50).", "integer"),
    Query("offset", "Hoeveel over te slaan (voor de volgende pagina: next_offset).", "integer"),
)


class RegistrationPage(BaseModel):
    registrations: list[dict[str, Any]] = Field(description="Registrations with members, case and invoice state.")
    total: int = Field(description="How many match the filters in all.")
    limit: int
    offset: int
    next_offset: int | None = Field(description="The offset of the next page; null on the last page.")


class RegistrationAnswer(BaseModel):
    status: str = Field(description="`accepted`, or `pending` when the service has not answered yet (202).")
    registration_id: str


def unknown_registration() -> JSONResponse:
    return api_errors("unknown_registration", "Deze aanmelding bestaat niet.", 404, field="registration_id")


async def list_registrations(request: Request) -> Response:
    params = dict(request.query_params)
    # A facilitator reads only their own editions, so they name one; organisers and viewers read all.
    await require(request, "read", params.get("edition") or None)
    found = await read(request, "registration", "/api/registrations", **params)
    if found.status == 422:  # a filter registration does not accept: its error items name the parameter
        return JSONResponse(found.body, status_code=422, headers=NO_STORE)
    return JSONResponse(found.body, headers=NO_STORE)


async def show_registration(request: Request) -> Response:
    caller = await caller_who_may(request, "read")
    registration = await fetch(request, request.path_params["registration_id"])
    if registration is None:
        return unknown_registration()
    check_edition(caller, "read", registration["edition"])
    return JSONResponse(registration, headers=NO_STORE)


def acting_on(action: RegistrationAction) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        registration_id = request.path_params["registration_id"]
        caller = await caller_who_may(request, "registrations.write")
        try:
            given = await parse_body(request, GivenObject)
        except BadBody as bad:
            return bad.response
        registration = await fetch(request, registration_id)
        if registration is None:
            return unknown_registration()
        check_edition(caller, "registrations.write", registration["edition"])
        prepared = prepare(action, given.root, registration)
        if isinstance(prepared, list):
            response = error_response(prepared, 422)
            response.headers.update(NO_STORE)
            return response
        outcome = await perform(
            request, caller, prepared.command, subject=subject(registration_id), reason=prepared.reason
        )
        return answer(outcome, registration_id=registration_id)

    # The OpenAPI operationId.
    endpoint.__name__ = endpoint.__qualname__ = f"{action.name.replace('-', '_')}_registration"
    return endpoint


ACTION_ANSWERS: Final = {
    200: "Gedaan.",
    202: "Verstuurd; de dienst heeft nog niet geantwoord.",
    404: "Deze aanmelding bestaat niet.",
    409: "Dat kan niet in de huidige stand van de aanmelding of de editie (met de reden, bijv. edition_full).",
    422: "De gegevens kloppen niet (met per veld de reden).",
}

OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/registrations",
        list_registrations,
        "Aanmeldingen, gefilterd en doorzocht, per pagina",
        "read",
        "aanmeldingen",
        answer=RegistrationPage,
        answers={200: "Een pagina aanmeldingen.", 422: "Een filter klopt niet (met de parameter)."},
        query=LIST_QUERY,
    ),
    Operation(
        "GET",
        "/api/registrations/{registration_id}",
        show_registration,
        "Eén aanmelding met leden, casus, factuur, plaats en de hele geschiedenis",
        "read",
        "aanmeldingen",
        answers={200: "De aanmelding.", 404: "Deze aanmelding bestaat niet."},
    ),
    *(
        Operation(
            "POST",
            f"/api/registrations/{{registration_id}}/{action.name}",
            acting_on(action),
            action.summary,
            "registrations.write",
            "aanmeldingen",
            body=action_body(action),
            answer=RegistrationAnswer,
            answers=ACTION_ANSWERS,
            idempotent_key=True,
        )
        for action in ACTIONS.values()
    ),
)
