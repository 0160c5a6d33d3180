"""Reporting's query API for organiser tools (the console): the sessions' summaries of an edition with their
status, and one summary's preview with every change the anonymiser makes. Organisers only
(`Authorization: Bearer <WERKPLAATSEN_ORGANIZER_TOKEN>`): a draft is on no public page. Documented in
docs/openapi/reporting.json."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.contract import ErrorItem
from shared.http import error_response, is_organizer, unauthorized
from shared.messaging.processing import MessageStore

from .adapters import SqlEditions, SqlReports, SqlRounds
from .anonymise import NameKey
from .entrypoints import EDITION, SESSION_NUMBER
from .preview import edition_reports, report_preview
from .scrubbing import edition_anonymiser

# Drafts and the anonymiser's changes are for the organiser who asked, not for a shared cache.
HEADERS = {"Cache-Control": "no-store"}


def not_found(field: str, code: str, message: str) -> JSONResponse:
    return error_response([ErrorItem(field=field, code=code, message=message)], 404)


def routes(store: MessageStore, *, key: NameKey, organizer_token: str, public_url: str) -> list[Route]:
    async def edition(request: Request) -> Response:
        if not is_organizer(request, organizer_token):
            return unauthorized()
        slug = request.path_params["edition"]
        if not EDITION.fullmatch(slug):
            return not_found("edition", "unknown_edition", "Deze editie bestaat niet.")
        async with store.db.sessions() as session:
            known = await SqlEditions(session).get(slug)
            reports = await SqlReports(session).of_edition(slug)
            if known is None and not reports:
                return not_found("edition", "unknown_edition", "Deze editie bestaat niet.")
            publication = await SqlRounds(session).get(slug)
            clean = await edition_anonymiser(session, key, slug)
        return JSONResponse(edition_reports(slug, known, reports, publication, clean, public_url), headers=HEADERS)

    async def report(request: Request) -> Response:
        if not is_organizer(request, organizer_token):
            return unauthorized()
        slug, number = request.path_params["edition"], request.path_params["session_number"]
        if not EDITION.fullmatch(slug) or not SESSION_NUMBER.fullmatch(number):
            return not_found("session_number", "unknown_report", "Van deze bijeenkomst is (nog) geen verslag.")
        async with store.db.sessions() as session:
            found = await SqlReports(session).get(slug, int(number))
            if found is None:
                return not_found("session_number", "unknown_report", "Van deze bijeenkomst is (nog) geen verslag.")
            clean = await edition_anonymiser(session, key, slug)
        return JSONResponse(report_preview(found, clean, public_url), headers=HEADERS)

    return [
        Route("/api/reports/{edition}", edition, methods=["GET"]),
        Route("/api/reports/{edition}/{session_number}", report, methods=["GET"]),
    ]
