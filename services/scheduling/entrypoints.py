"""Scheduling's subscribers and HTTP routes: parse, then call a handler."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.contract.registration import TrioRegistered
from shared.contract.scheduling import CompleteSession, ScheduleEdition
from shared.db import utcnow
from shared.messaging.messages import Consumer, Incoming
from shared.messaging.processing import MessageStore, run_command, run_event

from . import handlers
from .adapters import SqlEditions, SqlRegistrations
from .domain import Edition


def consumers(store: MessageStore) -> dict[str, Consumer]:
    async def schedule_edition(msg: Incoming) -> None:
        await run_command(store, msg, ScheduleEdition, lambda cmd, session, outbox: handlers.schedule_edition(
            cmd, editions=SqlEditions(session), emit=outbox.emit, now=utcnow()))

    async def complete_session(msg: Incoming) -> None:
        await run_command(store, msg, CompleteSession, lambda cmd, session, outbox: handlers.complete_session(
            cmd, editions=SqlEditions(session), registrations=SqlRegistrations(session), emit=outbox.emit,
            now=utcnow()))

    async def trio_registered(msg: Incoming) -> None:
        await run_event(store, msg, TrioRegistered, lambda event, _envelope, session, _outbox:
                        handlers.remember_registration(event, registrations=SqlRegistrations(session)))

    return {
        ScheduleEdition.routing_key: schedule_edition,
        CompleteSession.routing_key: complete_session,
        TrioRegistered.routing_key: trio_registered,
    }


def public_edition(edition: Edition) -> dict[str, Any]:
    now = utcnow()
    return {
        "slug": edition.slug,
        "title": edition.title,
        "venue": edition.venue,
        "capacity": {"min_trios": edition.min_trios, "max_trios": edition.max_trios},
        "places_left": edition.places_left,
        "registration_open": edition.registration_open(now),
        "registration_deadline": edition.registration_deadline.isoformat(),
        "registration_closes_at": edition.registration_closes_at.isoformat(),
        "fee": edition.fee,
        "sessions": [
            {"number": s.number, "title": s.title, "outcome": s.outcome, "starts_at": s.starts_at.isoformat(),
             "ends_at": s.ends_at.isoformat(), "completed": s.completed_at is not None}
            for s in edition.sessions
        ],
    }


def routes(store: MessageStore) -> list[Route]:
    async def list_editions(_: Request) -> JSONResponse:
        async with store.db.sessions() as session:
            editions = await SqlEditions(session).all()
        return JSONResponse({"editions": [public_edition(e) for e in editions]})

    async def show_edition(request: Request) -> JSONResponse:
        async with store.db.sessions() as session:
            edition = await SqlEditions(session).get(request.path_params["slug"])
        if edition is None:
            return JSONResponse({"errors": [{"field": "slug", "code": "unknown_edition",
                                             "message": "Deze editie bestaat niet."}]}, status_code=404)
        return JSONResponse(public_edition(edition))

    return [Route("/api/editions", list_editions), Route("/api/editions/{slug}", show_edition)]
