"""Scheduling's HTTP routes and the deadline timer (what it consumes is in consumes.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.contract.scheduling import CloseRegistration
from shared.db import utcnow
from shared.http import error_response, http_command, is_organizer, unauthorized
from shared.jobs import Job, every
from shared.messaging.messages import Incoming
from shared.messaging.outbox import Cause
from shared.messaging.processing import MessageStore
from shared.messaging.wiring import Clock, Consumers

from . import handlers
from .adapters import SqlEditions, SqlRegistrations
from .calendar import edition_calendar
from .domain import Edition, rank, reason_text

log = structlog.get_logger()


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


def public_edition(edition: Edition, now: datetime) -> dict[str, Any]:
    return {
        "slug": edition.slug,
        "title": edition.title,
        "venue": edition.venue,
        "capacity": {"min_trios": edition.min_trios, "max_trios": edition.max_trios},
        "places_left": edition.places_left,
        "waitlisted": len(edition.waitlist),
        "allocated": edition.allocated_at is not None,
        "registration_open": edition.registration_open(now),
        "registration_deadline": edition.registration_deadline.isoformat(),
        "registration_closes_at": edition.registration_closes_at.isoformat(),
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
            }
            for s in edition.sessions
        ],
    }


async def allocation_view(edition: Edition, registrations: SqlRegistrations) -> dict[str, Any]:
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
            {
                "session_number": s.number,
                "tables": [{"table": n, "registration_ids": ids} for n, ids in enumerate(s.tables or [], start=1)],
            }
            for s in edition.sessions
        ],
    }


def unknown_edition() -> JSONResponse:
    return JSONResponse(
        {"errors": [{"field": "slug", "code": "unknown_edition", "message": "Deze editie bestaat niet."}]},
        status_code=404,
    )


def routes(store: MessageStore, consumers: Consumers, organizer_token: str, clock: Clock = utcnow) -> list[Route]:
    async def list_editions(_: Request) -> JSONResponse:
        async with store.db.sessions() as session:
            editions = await SqlEditions(session).all()
        now = clock()
        return JSONResponse({"editions": [public_edition(e, now) for e in editions]})

    async def show_edition(request: Request) -> JSONResponse:
        async with store.db.sessions() as session:
            edition = await SqlEditions(session).get(request.path_params["slug"])
        if edition is None:
            return unknown_edition()
        return JSONResponse(public_edition(edition, clock()))

    async def show_allocation(request: Request) -> JSONResponse:
        if not is_organizer(request, organizer_token):
            return unauthorized()
        async with store.db.sessions() as session:
            edition = await SqlEditions(session).get(request.path_params["slug"])
            if edition is None:
                return unknown_edition()
            return JSONResponse(await allocation_view(edition, SqlRegistrations(session)))

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

    async def close_registration(request: Request) -> JSONResponse:
        """The organiser closes registration now; places are allocated then if the deadline had not come yet."""
        if not is_organizer(request, organizer_token):
            return unauthorized()
        msg = http_command(request, CloseRegistration, json.dumps({"edition": request.path_params["slug"]}).encode())
        if not isinstance(msg, Incoming):
            return msg
        reply = await consumers.command(CloseRegistration, msg)
        if reply.status == "rejected":
            status = 404 if reply.errors and reply.errors[0].code == "unknown_edition" else 409
            return error_response(reply.errors, status)
        return JSONResponse({"status": "accepted", **reply.ids})

    return [
        Route("/api/editions", list_editions),
        Route("/api/editions/{slug}", show_edition),
        Route("/api/editions/{slug}/allocation", show_allocation),
        Route("/api/editions/{slug}/close", close_registration, methods=["POST"]),
        Route("/editions/{slug}/calendar.ics", calendar),
    ]
