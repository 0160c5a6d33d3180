"""The console's API for editions: create one (the fields of ScheduleEdition), read one or all, change one while
registration is open, allocate the places early (registration stays open for late trios), stop registration and
reopen it. Read from the scheduling service's API; acted on
by publishing scheduling's commands."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.contract.scheduling import (
    CloseRegistration,
    PlanSeating,
    ReopenRegistration,
    ScheduleEdition,
    StopRegistration,
)

from ..domain import may
from .access import NotSignedIn, require, signed_in
from .acting import BadBody, answer, parse_body, perform, read
from .openapi import Operation, command_body
from .rendering import api_errors

NewEdition: Final = command_body(ScheduleEdition, "NewEdition")
StopBody: Final = command_body(StopRegistration, "StopRegistrationBody")


class EditionAccepted(BaseModel):
    status: str = Field(description="`accepted`, or `pending` when scheduling has not answered yet (202).")
    edition: str = Field(description="The edition's slug.")


class EditionList(BaseModel):
    editions: list[dict[str, Any]]


async def create_edition(request: Request) -> Response:
    caller = await require(request, "editions.write")
    try:
        command = await parse_body(request, ScheduleEdition)
    except BadBody as bad:
        return bad.response
    existing = await read(request, "scheduling", f"/api/editions/{command.edition}")
    if existing.found:
        return api_errors(
            "edition_exists",
            f"Er is al een editie {command.edition}. Wijzig die editie, of kies een andere naam (slug).",
            409,
            field="edition",
        )
    outcome = await perform(request, caller, command, subject=f"edition:{command.edition}")
    return answer(outcome, accepted=201, edition=command.edition)


async def show_edition(request: Request) -> Response:
    slug = request.path_params["slug"]
    await require(request, "read", slug)
    found = await read(request, "scheduling", f"/api/editions/{slug}")
    if not found.found:
        return api_errors("unknown_edition", "Deze editie bestaat niet.", 404, field="slug")
    return JSONResponse(found.body, headers={"Cache-Control": "no-store"})


async def list_editions(request: Request) -> Response:
    caller = await signed_in(request)
    if caller is None:
        raise NotSignedIn
    found = await read(request, "scheduling", "/api/editions")
    # A facilitator sees the editions assigned to them; organisers and viewers see all.
    editions = [e for e in found.body.get("editions", []) if may(caller.principal, "read", e.get("slug"))]
    return JSONResponse({"editions": editions}, headers={"Cache-Control": "no-store"})


async def update_edition(request: Request) -> Response:
    """The whole edition again (as for creating it), under the slug of the path; scheduling's rules decide what
    may still change (not after registration closed; not below the trios placed; no session into the past)."""
    slug = request.path_params["slug"]
    caller = await require(request, "editions.write", slug)
    try:
        command = await parse_body(request, ScheduleEdition, edition=slug)
    except BadBody as bad:
        return bad.response
    if not (await read(request, "scheduling", f"/api/editions/{slug}")).found:
        return api_errors("unknown_edition", "Deze editie bestaat niet.", 404, field="slug")
    outcome = await perform(request, caller, command, subject=f"edition:{slug}")
    return answer(outcome, edition=slug)


async def close_edition(request: Request) -> Response:
    slug = request.path_params["slug"]
    caller = await require(request, "editions.write", slug)
    outcome = await perform(request, caller, CloseRegistration(edition=slug), subject=f"edition:{slug}")
    return answer(outcome, edition=slug)


async def stop_edition(request: Request) -> Response:
    slug = request.path_params["slug"]
    caller = await require(request, "editions.write", slug)
    try:
        command = await parse_body(request, StopRegistration, edition=slug)
    except BadBody as bad:
        return bad.response
    outcome = await perform(request, caller, command, subject=f"edition:{slug}")
    return answer(outcome, edition=slug)


async def reopen_edition(request: Request) -> Response:
    slug = request.path_params["slug"]
    caller = await require(request, "editions.write", slug)
    outcome = await perform(request, caller, ReopenRegistration(edition=slug), subject=f"edition:{slug}")
    return answer(outcome, edition=slug)


async def plan_seating(request: Request) -> Response:
    slug = request.path_params["slug"]
    caller = await require(request, "editions.write", slug)
    outcome = await perform(request, caller, PlanSeating(edition=slug), subject=f"edition:{slug}")
    return answer(outcome, edition=slug)


OPERATIONS: Final = (
    Operation(
        "POST",
        "/api/editions",
        create_edition,
        "Een editie aanmaken",
        "editions.write",
        "edities",
        body=NewEdition,
        answer=EditionAccepted,
        answers={
            201: "Aangemaakt.",
            202: "Verstuurd; de planning heeft nog niet geantwoord.",
            409: "Er is al een editie met deze slug.",
            422: "De gegevens kloppen niet (met per veld de reden).",
        },
        idempotent_key=True,
    ),
    Operation(
        "GET",
        "/api/editions",
        list_editions,
        "Alle edities (een begeleider: de eigen)",
        "read",
        "edities",
        answer=EditionList,
        answers={200: "De edities."},
    ),
    Operation(
        "GET",
        "/api/editions/{slug}",
        show_edition,
        "Eén editie, met sessies, capaciteit en stand van de aanmelding",
        "read",
        "edities",
        answers={200: "De editie.", 404: "Deze editie bestaat niet."},
    ),
    Operation(
        "PUT",
        "/api/editions/{slug}",
        update_edition,
        "Een editie wijzigen zolang de aanmelding open is (alle velden opnieuw; de slug komt uit het pad)",
        "editions.write",
        "edities",
        body=NewEdition,
        answer=EditionAccepted,
        answers={
            200: "Gewijzigd.",
            202: "Verstuurd; de planning heeft nog niet geantwoord.",
            404: "Deze editie bestaat niet.",
            409: "Dit mag niet meer (aanmelding gesloten, minder plaatsen dan geplaatst, bijeenkomst in het verleden).",
            422: "De gegevens kloppen niet (met per veld de reden).",
        },
        idempotent_key=True,
    ),
    Operation(
        "POST",
        "/api/editions/{slug}/close",
        close_edition,
        "De plaatsen nu verdelen; de aanmelding blijft open tot het sluitmoment (late trio's: vrije plaats of "
        "wachtlijst)",
        "editions.write",
        "edities",
        answer=EditionAccepted,
        answers={200: "Verdeeld.", 202: "Verstuurd.", 404: "Deze editie bestaat niet.", 409: "Al verdeeld."},
        idempotent_key=True,
    ),
    Operation(
        "POST",
        "/api/editions/{slug}/stop",
        stop_edition,
        "De aanmelding helemaal stoppen (met een reden, optioneel); verdeelt de plaatsen niet",
        "editions.write",
        "edities",
        body=StopBody,
        answer=EditionAccepted,
        answers={
            200: "Gestopt.",
            202: "Verstuurd.",
            404: "Deze editie bestaat niet.",
            409: "De aanmelding is al gesloten.",
            422: "De reden is te lang.",
        },
        idempotent_key=True,
    ),
    Operation(
        "POST",
        "/api/editions/{slug}/reopen",
        reopen_edition,
        "De aanmelding weer openen na stoppen, tot het geplande sluitmoment",
        "editions.write",
        "edities",
        answer=EditionAccepted,
        answers={
            200: "Weer open.",
            202: "Verstuurd.",
            404: "Deze editie bestaat niet.",
            409: "Nog open, of het geplande sluitmoment is voorbij.",
        },
        idempotent_key=True,
    ),
    Operation(
        "POST",
        "/api/editions/{slug}/seating",
        plan_seating,
        "De tafelindeling van de bijeenkomsten die nog komen opnieuw maken, voor alle geplaatste trio's (wie na "
        "de verdeling een plaats kreeg, schoof aan bij een tafel met ruimte)",
        "editions.write",
        "edities",
        answer=EditionAccepted,
        answers={
            200: "Opnieuw ingedeeld.",
            202: "Verstuurd.",
            404: "Deze editie bestaat niet.",
            409: "Nog niet verdeeld, of alle bijeenkomsten zijn al begonnen.",
        },
        idempotent_key=True,
    ),
)
