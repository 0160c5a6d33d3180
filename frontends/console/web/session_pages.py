"""The sessions' pages: an edition's sessions, one session (with its reschedule form and the way to check-in,
seating and notes) and its seating plan to print; and the routes of all the sessions' pages (with checkin's and
notes_pages') and of the console's static files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from shared.contract import ErrorItem
from shared.contract.scheduling import RescheduleSession
from shared.formatting import AMSTERDAM

from ..domain import may
from ..drafts import session_subject
from . import checkin, notes_pages
from .access import Caller, require
from .acting import perform
from .session_reads import edition_of, placed_trios, seating, session_number, session_of
from .session_render import after, no_such, posted, session_page, session_path, when

STATIC: Final = Path(__file__).parents[1] / "static"


async def sessions_list(request: Request) -> Response:
    slug = request.path_params["slug"]
    caller = await require(request, "read", slug)
    edition = await edition_of(request, slug)
    if edition is None:
        return no_such("editie")
    sessions = [{**s, "when": when(s)} for s in edition.get("sessions", [])]
    return session_page(request, caller, "session_list.html", slug=slug, edition={**edition, "sessions": sessions})


async def show_session(request: Request) -> Response:
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "read", slug)
    return await _session_page(request, caller, slug, number)


async def _session_page(
    request: Request,
    caller: Caller,
    slug: str,
    number: int | None,
    *,
    status: int = 200,
    errors: Sequence[ErrorItem] = (),
    times: Mapping[str, str] | None = None,
) -> Response:
    session = await session_of(request, slug, number) if number is not None else None
    if session is None:
        return no_such()
    shown = times or {name: _local(session[name]) for name in ("starts_at", "ends_at")}
    field_errors = {e.field: e.message for e in errors if e.field in ("starts_at", "ends_at")}
    return session_page(
        request,
        caller,
        "session.html",
        status,
        slug=slug,
        number=number,
        errors=errors,
        field_ids={"starts_at": "starts_at", "ends_at": "ends_at"},
        session=session,
        when=when(session),
        times=shown,
        field_errors=field_errors,
        may={
            "attendance": may(caller.principal, "attendance.record", slug),
            "notes": may(caller.principal, "notes.write", slug),
            "reschedule": may(caller.principal, "editions.write", slug),
        },
    )


def _local(moment: str) -> str:
    """An ISO moment as a datetime-local field shows it, in Amsterdam."""
    return f"{datetime.fromisoformat(moment).astimezone(AMSTERDAM):%Y-%m-%dT%H:%M}"


def _moment(value: str, field: str) -> datetime | ErrorItem:
    try:
        local = datetime.fromisoformat(value.strip())
    except ValueError:
        return ErrorItem(field=field, code="invalid_datetime", message="Vul een datum en een tijd in.")
    return local.replace(tzinfo=AMSTERDAM) if local.tzinfo is None else local


async def reschedule(request: Request) -> Response:
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "editions.write", slug)
    form = await posted(request)
    if not isinstance(form, dict):
        return form
    if number is None:
        return no_such()
    times = {name: form.get(name, "") for name in ("starts_at", "ends_at")}
    moments = {name: _moment(value, name) for name, value in times.items()}
    errors = [m for m in moments.values() if isinstance(m, ErrorItem)]
    if errors:
        return await _session_page(request, caller, slug, number, status=422, errors=errors, times=times)
    starts, ends = moments["starts_at"], moments["ends_at"]
    assert isinstance(starts, datetime) and isinstance(ends, datetime)
    command = RescheduleSession(edition=slug, session_number=number, starts_at=starts, ends_at=ends)
    outcome = await perform(request, caller, command, subject=session_subject(slug, number))
    done = after(outcome, session_path(slug, number), "verzet")
    if done is not None:
        return done
    status = outcome.http_status()
    return await _session_page(request, caller, slug, number, status=status, errors=outcome.errors, times=times)


async def seating_plan(request: Request) -> Response:
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "read", slug)
    session = await session_of(request, slug, number) if number is not None else None
    if session is None:
        return no_such()
    trios = await placed_trios(request, slug, session)
    return session_page(
        request,
        caller,
        "session_seating.html",
        slug=slug,
        number=number,
        session=session,
        when=when(session),
        tables=seating(trios),
    )


def session_routes() -> list[BaseRoute]:
    """The sessions' pages and the console's static files (/console/static/: the sessions' stylesheet and the
    check-in script)."""
    one = "/editions/{slug}/sessions/{number}"
    return [
        Route("/editions/{slug}/sessions", sessions_list, methods=["GET"]),
        Route(one, show_session, methods=["GET"]),
        Route(f"{one}/reschedule", reschedule, methods=["POST"]),
        Route(f"{one}/seating", seating_plan, methods=["GET"]),
        *(Route(f"{one}{path}", endpoint, methods=[method]) for path, endpoint, method in checkin.ROUTES),
        *(Route(f"{one}{path}", endpoint, methods=[method]) for path, endpoint, method in notes_pages.ROUTES),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
