"""The organiser overview's numbers as JSON, for organiser tools (the console): per edition registered,
awaiting approval, placed, waitlisted, the size classes (medium-sized first), waived fees and paid/unpaid
invoices. Organisers only (`Authorization: Bearer <WERKPLAATSEN_ORGANIZER_TOKEN>`), like /dashboard whose
numbers these are. Counted in SQL (adapters/numbers.py): one request costs the same with ten trios or ten
thousand."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.contract import ErrorItem
from shared.http import error_response, is_organizer, unauthorized
from shared.messaging.processing import MessageStore

from .adapters.numbers import SqlNumbers
from .entrypoints import EDITION

HEADERS = {"Cache-Control": "no-store"}


def routes(store: MessageStore, *, organizer_token: str) -> list[Route]:
    async def overview(request: Request) -> Response:
        if not is_organizer(request, organizer_token):
            return unauthorized()
        edition = request.query_params.get("edition")
        if edition is not None and not EDITION.fullmatch(edition):
            return error_response(
                [ErrorItem(field="edition", code="invalid_edition", message="Dit is geen geldige editie (slug).")]
            )
        async with store.db.sessions() as session:
            numbers = await SqlNumbers(session).editions(edition)
        return JSONResponse({"editions": [n.as_json() for n in numbers]}, headers=HEADERS)

    return [Route("/api/overview", overview, methods=["GET"])]
