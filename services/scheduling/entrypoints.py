"""Scheduling's HTTP routes and the deadline timer (what it consumes is in consumes.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.contract import Command, ErrorItem
from shared.contract.scheduling import (
    CloseRegistration,
    MoveOnWaitlist,
    PlaceTrio,
    ReopenRegistration,
    StopRegistration,
)
from shared.db import utcnow
from shared.http import error_response, http_command, is_organizer, unauthorized
from shared.jobs import Job, every
from shared.messaging.messages import Incoming
from shared.messaging.outbox import Cause
from shared.messaging.processing import ORGANISER_TOKEN_ACTOR, MessageStore, from_organiser_route
from shared.messaging.wiring import Clock, Consumers

from . import handlers
from .adapters import SqlEditions
from .calendar import edition_calendar
from .copies import SqlRegistrations
from .domain import Edition, rank, reason_text
from .queries import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, STATUSES, SqlTrioList, session_view, tables_view
from .seats import SqlSeats

log = structlog.get_logger()

# The HTTP status of a refused command, by its (first) error's code: what does not exist 404, what conflicts with
# the edition's state 409, anything else (bad input) 422. The console answers its own API the same way.
REFUSAL_STATUS = {
    "unknown_edition": 404,
    "unknown_session": 404,
    "unknown_registration": 404,
    "edition_closed": 409,
    "already_allocated": 409,
    "capacity_below_placed": 409,
    "already_completed": 409,
    "not_started": 409,
    "edition_full": 409,
    "sessions_over": 409,
    "already_placed": 409,
    "not_waitlisted": 409,
    "not_closed": 409,
    "deadline_passed": 409,
    "not_allocated": 409,
}


# The registration deadline


async def allocate_due(store: MessageStore, now: datetime) -> list[str]:
    """Allocate every edition whose deadline has passed. Safe in every replica at once: the edition row lock
    makes the others wait, and they then find the edition allocated."""
    async with store.db.sessions() as session:
        due = await SqlEditions(session).due(now)
    allocated = []
    for slug in due:
        cause = Cause(message_id=f"allocation:{slug}", correlation_id=f"allocation:{slug}")
        async with store.unit_of_work(cause) as uow:
            done = await handlers.allocate_if_due(
                slug,
                editions=SqlEditions(uow.session),
                registrations=SqlRegistrations(uow.session),
                seats=SqlSeats(uow.session),
                emit=uow.outbox.emit,
                now=now,
            )
        if done:
            allocated.append(slug)
            log.info("edition_allocated", edition=slug)
    return allocated


def deadline_timer(store: MessageStore, clock: Clock = utcnow, interval: float = 1.0) -> Job:
    return every(
        interval,
        lambda now: allocate_due(store, now),
        clock,
        name="allocation_timer",
        done="editions_allocated",
        failed="allocation_timer_failed",
    )


# HTTP


def public_edition(edition: Edition, now: datetime, placed: int, waitlisted: int) -> dict[str, Any]:
    return {
        "slug": edition.slug,
        "title": edition.title,
        "venue": edition.venue,
        "capacity": {"min_trios": edition.min_trios, "max_trios": edition.max_trios},
        "places_left": max(edition.max_trios - placed, 0),
        "placed": placed,
        "waitlisted": waitlisted,
        "allocated": edition.allocated_at is not None,
        "registration_open": edition.registration_open(now),
        "registration_deadline": edition.registration_deadline.isoformat(),
        "registration_closes_at": edition.registration_closes_at.isoformat(),
        # Stopped and ReopenRegistration still possible: until when; null otherwise.
        "registration_reopen_until": _iso(edition.reopen_until(now)),
        "table_size": edition.table_size,
        "publish_reports_at_once": edition.publish_reports_at_once,
        "fee": edition.fee,
        "priority_size_classes": edition.priority_size_classes,
        "calendar_url": f"/editions/{edition.slug}/calendar.ics",
        "sessions": [
            {
                "number": s.number,
                "title": s.title,
                "outcome": s.outcome,
                "starts_at": s.starts_at.isoformat(),
                "ends_at": s.ends_at.isoformat(),
                "sequence": s.sequence,
                "completed": s.completed_at is not None,
                "completed_at": _iso(s.completed_at),
                "present_trios": len(s.present),
            }
            for s in edition.sessions
        ],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def allocation_view(edition: Edition, registrations: SqlRegistrations, seats: SqlSeats) -> dict[str, Any]:
    """For organisers: who is placed and waitlisted, and why (priority group, registration time)."""
    ids = [*edition.placed_ids, *edition.waitlisted_ids]
    trios = await registrations.trios(ids)

    def trio(rid: str) -> dict[str, Any]:
        t = trios.get(rid)
        return {"municipality": t.municipality, "size_class": t.size_class} if t else {}

    placed = sorted(edition.placements, key=lambda p: p.slot)
    pool = sorted(
        (t for t in await registrations.pool(edition.slug) if not edition.holds(t.registration_id)),
        key=lambda t: rank(t.priority, t.registered_at, t.registration_id),
    )
    return {
        "edition": edition.slug,
        "capacity": {"min_trios": edition.min_trios, "max_trios": edition.max_trios},
        "allocated_at": edition.allocated_at.isoformat() if edition.allocated_at else None,
        "undersubscribed": edition.undersubscribed,
        "places_left": edition.places_left,
        "placed": [
            {
                "registration_id": p.registration_id,
                "place": p.slot,
                "via": p.via,
                "placed_at": p.placed_at.isoformat(),
                "priority": p.priority,
                "registered_at": p.registered_at.isoformat(),
                "reason": p.reason,
                **trio(p.registration_id),
            }
            for p in placed
        ],
        "waitlist": [
            {
                "registration_id": w.registration_id,
                "position": w.position,
                "since": w.since.isoformat(),
                "priority": w.priority,
                "registered_at": w.registered_at.isoformat(),
                "reason": w.reason,
                **trio(w.registration_id),
            }
            for w in edition.waitlist
        ],
        # Approved but not (yet) allocated: before the deadline, everyone approved so far.
        "pool": [
            {
                "registration_id": t.registration_id,
                "priority": t.priority,
                "registered_at": t.registered_at.isoformat(),
                "reason": reason_text(t.priority, t.registered_at),
                "municipality": t.municipality,
                "size_class": t.size_class,
            }
            for t in pool
        ],
        "seating": [
            {"session_number": s.number, "tables": tables_view(await seats.plan(edition.slug, s.number))}
            for s in edition.sessions
        ],
    }


def unknown_edition() -> JSONResponse:
    return JSONResponse(
        {"errors": [{"field": "slug", "code": "unknown_edition", "message": "Deze editie bestaat niet."}]},
        status_code=404,
    )


def unknown_session() -> JSONResponse:
    message = "Deze editie heeft geen bijeenkomst met dit nummer."
    return error_response([ErrorItem(field="number", code="unknown_session", message=message)], 404)


def trio_page_query(params: Any) -> tuple[tuple[str, ...], int, int] | list[ErrorItem]:
    """`?status=placed,waitlisted,approved&limit=100&offset=0` (each optional), or what is wrong with it."""
    errors = []
    statuses = tuple(s for s in params.get("status", ",".join(STATUSES)).split(",") if s)
    if not statuses or set(statuses) - set(STATUSES):
        errors.append(
            ErrorItem(field="status", code="invalid_parameter", message="Kies uit placed, waitlisted en approved.")
        )
    numbers = {}
    for name, default, lowest, top in (("limit", DEFAULT_LIMIT, 1, MAX_LIMIT), ("offset", 0, 0, MAX_OFFSET)):
        raw = params.get(name, str(default))
        if not raw.isdigit() or not lowest <= int(raw) <= top:
            message = f"Geef een geheel getal van {lowest} tot en met {top}."
            errors.append(ErrorItem(field=name, code="invalid_parameter", message=message))
        else:
            numbers[name] = int(raw)
    return errors or (statuses, numbers["limit"], numbers["offset"])


def routes(store: MessageStore, consumers: Consumers, organizer_token: str, clock: Clock = utcnow) -> list[Route]:
    async def list_editions(_: Request) -> JSONResponse:
        # Counted, not read: a page of editions costs the same whatever their numbers of trios.
        async with store.db.sessions() as session:
            editions = await SqlEditions(session).all(places=False)
            counts = await SqlEditions(session).counts([e.slug for e in editions])
        now = clock()
        return JSONResponse({"editions": [public_edition(e, now, *counts[e.slug]) for e in editions]})

    async def show_edition(request: Request) -> JSONResponse:
        async with store.db.sessions() as session:
            edition = await SqlEditions(session).get(request.path_params["slug"], places=False)
            counts = await SqlEditions(session).counts([edition.slug]) if edition else {}
        if edition is None:
            return unknown_edition()
        return JSONResponse(public_edition(edition, clock(), *counts[edition.slug]))

    async def show_allocation(request: Request) -> JSONResponse:
        if not is_organizer(request, organizer_token):
            return unauthorized()
        async with store.db.sessions() as session:
            edition = await SqlEditions(session).get(request.path_params["slug"])
            if edition is None:
                return unknown_edition()
            return JSONResponse(await allocation_view(edition, SqlRegistrations(session), SqlSeats(session)))

    async def calendar(request: Request) -> Response:
        async with store.db.sessions() as session:
            edition = await SqlEditions(session).get(request.path_params["slug"])
        if edition is None:
            return unknown_edition()
        return Response(
            edition_calendar(edition, clock(), str(request.url)),
            media_type="text/calendar; charset=utf-8",
            headers={"Content-Disposition": f'inline; filename="{edition.slug}.ics"'},
        )

    async def list_trios(request: Request) -> JSONResponse:
        if not is_organizer(request, organizer_token):
            return unauthorized()
        query = trio_page_query(request.query_params)
        if isinstance(query, list):
            return error_response(query)
        statuses, limit, offset = query
        slug = request.path_params["slug"]
        async with store.db.sessions() as session:
            edition = await SqlEditions(session).get(slug, places=False)
            if edition is None:
                return unknown_edition()
            placed, _ = (await SqlEditions(session).counts([slug]))[slug]
            trios = SqlTrioList(session)
            counts = await trios.counts(slug)
            page, total = await trios.page(slug, statuses, limit, offset)
        return JSONResponse(
            {
                "edition": slug,
                "capacity": {"min_trios": edition.min_trios, "max_trios": edition.max_trios},
                "places_left": max(edition.max_trios - placed, 0),
                "counts": counts,
                "trios": page,
                "offset": offset,
                "limit": limit,
                "next_offset": offset + len(page) if offset + len(page) < total else None,
            }
        )

    async def show_session(request: Request) -> JSONResponse:
        if not is_organizer(request, organizer_token):
            return unauthorized()
        raw = request.path_params["number"]
        number = int(raw) if raw.isdigit() else 0
        async with store.db.sessions() as session:
            edition = await SqlEditions(session).get(request.path_params["slug"], waitlist=False)
            if edition is None:
                return unknown_edition()
            held = edition.session(number)
            if held is None:
                return unknown_session()
            municipalities = await SqlRegistrations(session).municipalities(held.present)
            tables = await SqlSeats(session).plan(edition.slug, number)
        return JSONResponse(session_view(edition, number, municipalities, tables, clock()))

    def organiser_command(
        command: type[Command], fields: Callable[[Request, dict[str, Any]], dict[str, Any]]
    ) -> Callable[[Request], Any]:
        """A command over HTTP for organisers: the path and the (optional) JSON object body give its `fields`."""

        async def endpoint(request: Request) -> JSONResponse:
            if not is_organizer(request, organizer_token):
                return unauthorized()
            raw = await request.body()
            try:
                given = json.loads(raw) if raw.strip() else {}
            except (UnicodeDecodeError, ValueError, RecursionError):
                given = None
            if not isinstance(given, dict):
                message = "Het verzoek moet leeg zijn of een JSON-object."
                return error_response([ErrorItem(field="", code="invalid_json", message=message)])
            body = {"edition": request.path_params["slug"], **fields(request, given), "actor": ORGANISER_TOKEN_ACTOR}
            msg = http_command(request, command, json.dumps(body).encode())
            if not isinstance(msg, Incoming):
                return msg
            reply = await consumers.command(command, from_organiser_route(msg))
            if reply.status == "rejected":
                status = REFUSAL_STATUS.get(reply.errors[0].code, 422) if reply.errors else 422
                return error_response(reply.errors, status)
            return JSONResponse({"status": "accepted", **reply.ids})

        return endpoint

    def on_trio(*names: str) -> Callable[[Request, dict[str, Any]], dict[str, Any]]:
        def fields(request: Request, given: dict[str, Any]) -> dict[str, Any]:
            chosen = {name: given[name] for name in names if name in given}
            return {"registration_id": request.path_params["registration_id"], **chosen}

        return fields

    def nothing(_: Request, __: dict[str, Any]) -> dict[str, Any]:
        return {}

    def on_edition(*names: str) -> Callable[[Request, dict[str, Any]], dict[str, Any]]:
        def fields(_: Request, given: dict[str, Any]) -> dict[str, Any]:
            return {name: given[name] for name in names if name in given}

        return fields

    trio = "/api/editions/{slug}/trios/{registration_id}"
    return [
        Route("/api/editions", list_editions),
        Route("/api/editions/{slug}", show_edition),
        Route("/api/editions/{slug}/allocation", show_allocation),
        Route("/api/editions/{slug}/trios", list_trios),
        Route("/api/editions/{slug}/sessions/{number}", show_session),
        # The organiser allocates the places now (registration stays open for late trios), or stops registration.
        Route("/api/editions/{slug}/close", organiser_command(CloseRegistration, nothing), methods=["POST"]),
        Route("/api/editions/{slug}/stop", organiser_command(StopRegistration, on_edition("reason")), methods=["POST"]),
        Route("/api/editions/{slug}/reopen", organiser_command(ReopenRegistration, nothing), methods=["POST"]),
        Route(f"{trio}/place", organiser_command(PlaceTrio, on_trio("reason")), methods=["POST"]),
        Route(f"{trio}/move", organiser_command(MoveOnWaitlist, on_trio("position", "reason")), methods=["POST"]),
        Route("/editions/{slug}/calendar.ics", calendar),
    ]
