"""The organisers' reads of registrations over HTTP (Bearer organiser token; personal data), for the console:

- `GET /api/registrations`: a page of registrations, filtered by `edition`, `status` and `size_class` (both
  comma-separated lists), `priority` and `paid` (`true`/`false`), searched with `q` (part of the municipality's or
  a member's name), paged with `limit` (1-500, default 50) and `offset`;
- `GET /api/registrations/{registration_id}`: one registration with its members, case, approver, invoice details
  and state, placement and its history;
- `GET /api/approval-requests/held`: the approval requests held by the daily limits (approval_limits.py) and not
  yet sent by an organiser, oldest first (at most 500).

Bad query values are refused with 422 and the usual error objects (code `invalid_query`), never ignored: a typo in
a filter must not silently widen the list. The shapes are documented in docs/contract.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.contract import ErrorItem
from shared.http import error_response, is_organizer, unauthorized
from shared.municipalities import SizeClass
from shared.placement import STATUSES

from .adapters import RegistrationQuery, RegistrationStore, SqlApprovalRequests, SqlRegistrationQueries

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_SEARCH = 100
SIZE_CLASSES: tuple[str, ...] = get_args(SizeClass)
BOOLEANS = {"true": True, "false": False}
FILTERS = ("edition", "status", "size_class", "priority", "paid", "q", "limit", "offset")


def invalid(field: str, message: str) -> ErrorItem:
    return ErrorItem(field=field, code="invalid_query", message=message)


def _choices(params: QueryParams, name: str, allowed: tuple[str, ...], errors: list[ErrorItem]) -> tuple[str, ...]:
    given = tuple(v.strip() for v in params.get(name, "").split(",") if v.strip())
    wrong = [v for v in given if v not in allowed]
    if wrong:
        errors.append(invalid(name, f"Onbekende waarde {wrong[0]!r}; kies uit {', '.join(allowed)}."))
    return given


def _boolean(params: QueryParams, name: str, errors: list[ErrorItem]) -> bool | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if value.lower() not in BOOLEANS:
        errors.append(invalid(name, "Gebruik true of false."))
        return None
    return BOOLEANS[value.lower()]


def _number(params: QueryParams, name: str, default: int, low: int, high: int, errors: list[ErrorItem]) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        errors.append(invalid(name, f"Geef een geheel getal van {low} tot en met {high}."))
        return default
    return int(value)


def parse_query(params: QueryParams) -> RegistrationQuery | list[ErrorItem]:
    errors: list[ErrorItem] = [
        invalid(name, f"Onbekende parameter {name!r}; bekend zijn {', '.join(FILTERS)}.")
        for name in params
        if name not in FILTERS
    ]
    edition = params.get("edition") or None
    if edition is not None and len(edition) > 64:
        errors.append(invalid("edition", "Deze tekst is te lang (hoogstens 64 tekens)."))
    search = (params.get("q") or "").strip() or None
    if search is not None and len(search) > MAX_SEARCH:
        errors.append(invalid("q", f"Zoek op hoogstens {MAX_SEARCH} tekens."))
    query = RegistrationQuery(
        edition=edition,
        statuses=_choices(params, "status", STATUSES, errors),
        size_classes=_choices(params, "size_class", SIZE_CLASSES, errors),
        priority=_boolean(params, "priority", errors),
        paid=_boolean(params, "paid", errors),
        search=search,
        limit=_number(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, errors),
        offset=_number(params, "offset", 0, 0, 10**9, errors),
    )
    return errors or query


def query_routes(store: RegistrationStore, organizer_token: str) -> list[Route]:
    def organisers_only(read: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> JSONResponse:
            if not is_organizer(request, organizer_token):  # personal data
                return unauthorized()
            response: JSONResponse = await read(request)
            response.headers["Cache-Control"] = "private, no-store"
            return response

        return endpoint

    async def list_registrations(request: Request) -> JSONResponse:
        query = parse_query(request.query_params)
        if isinstance(query, list):
            return error_response(query)
        async with store.db.sessions() as session:
            found, total = await SqlRegistrationQueries(session).page(query)
        following = query.offset + len(found)
        return JSONResponse(
            {
                "registrations": found,
                "total": total,
                "limit": query.limit,
                "offset": query.offset,
                "next_offset": following if following < total else None,
            }
        )

    async def one_registration(request: Request) -> JSONResponse:
        registration_id = request.path_params["registration_id"]
        detail = None
        if len(registration_id) <= 36:
            async with store.db.sessions() as session:
                detail = await SqlRegistrationQueries(session).detail(registration_id)
        if detail is None:
            return error_response(
                [
                    ErrorItem(
                        field="registration_id", code="unknown_registration", message="Deze aanmelding kennen we niet."
                    )
                ],
                404,
            )
        return JSONResponse(detail)

    async def held_approval_requests(request: Request) -> JSONResponse:
        async with store.db.sessions() as session:
            held = await SqlApprovalRequests(session).held()
        return JSONResponse(
            {"held": [{"registration_id": h.registration_id, "requested_at": h.requested_at.isoformat()} for h in held]}
        )

    return [
        Route("/api/approval-requests/held", organisers_only(held_approval_requests), methods=["GET"]),
        Route("/api/registrations", organisers_only(list_registrations), methods=["GET"]),
        Route("/api/registrations/{registration_id}", organisers_only(one_registration), methods=["GET"]),
    ]
