"""Check-in at a session's door, on a phone: one button per placed trio that toggles whether it is inside, kept as
a draft in the console's store (drafts.py: taps by their id, the latest tap about a trio wins), and one button
that records the draft's trios as present with scheduling's RecordAttendance.

Every tap is a POST to .../checkin/taps. Without JavaScript the trio's button posts its form and the page comes
back (post/redirect/get). With /console/static/checkin.js the page posts the same taps in the background as JSON
(`{"taps": [...]}`, the CSRF token in the X-CSRF-Token header), queued in the phone's localStorage and sent again
until the console acknowledges them, so a slow or lost network loses no tap; a tap sent twice counts once. Only
this page may run a script (rendering.page_headers: script-src 'self')."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from shared.contract import ErrorItem
from shared.contract.scheduling import RecordAttendance

from ..drafts import Tap, apply_tap, session_subject
from ..store import repositories
from .access import Caller, address, console, database, require
from .acting import BadBody, parse_body, perform
from .rendering import api_errors, problem
from .session_reads import placed_trios, session_number, session_of
from .session_render import after, no_such, posted, session_page, session_path, when

MAX_TAPS_PER_REQUEST: Final = 200


class TapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tap: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$", description="The tap's id, made by the phone.")
    registration_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    present: bool
    at: int | None = Field(default=None, ge=0, le=10**14, description="When, in ms since 1970 on the phone's clock.")

    def as_tap(self) -> Tap:
        moment = datetime.fromtimestamp(self.at / 1000, UTC) if self.at is not None else None
        return Tap(self.tap, self.registration_id, self.present, moment)


class Taps(BaseModel):
    model_config = ConfigDict(extra="forbid")

    taps: list[TapIn] = Field(default_factory=list, max_length=MAX_TAPS_PER_REQUEST)


async def checkin_page(request: Request) -> Response:
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "attendance.record", slug)
    if number is None:
        return no_such()
    return await _page(request, caller, slug, number)


async def _page(
    request: Request, caller: Caller, slug: str, number: int, *, status: int = 200, errors: Sequence[ErrorItem] = ()
) -> Response:
    session = await session_of(request, slug, number)
    if session is None:
        return no_such()
    trios = await placed_trios(request, slug, session)
    async with repositories(database(request)) as repos:
        present = set(await repos.checkin.present(slug, number))
    return session_page(
        request,
        caller,
        "checkin.html",
        status,
        script=True,
        slug=slug,
        number=number,
        errors=errors,
        session=session,
        when=when(session),
        trios=trios,
        present=present,
        new_tap_id=lambda: uuid.uuid4().hex,
    )


async def taps(request: Request) -> Response:
    """One tap from the trio's form, or the phone's queue of taps as JSON."""
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "attendance.record", slug)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
        return await _json_taps(request, caller, slug, number)
    form = await posted(request)
    if not isinstance(form, dict):
        return form
    if number is None:
        return no_such()
    try:
        tap = TapIn.model_validate({name: form.get(name) for name in ("tap", "registration_id", "present")})
    except ValidationError:
        return problem(400, "Dit formulier kunnen we niet lezen", "Laad de pagina opnieuw en tik nog eens.")
    await _apply(request, caller, slug, number, [tap])
    return RedirectResponse(f"{session_path(slug, number, '/checkin')}#trio-{tap.registration_id}", 303)


async def _json_taps(request: Request, caller: Caller, slug: str, number: int | None) -> Response:
    if not console(request).csrf.valid(request, request.headers.get("x-csrf-token", "")):
        return api_errors("csrf", "Laad de pagina opnieuw; je tikken blijven op dit apparaat bewaard.", 403)
    if number is None:
        return api_errors("unknown_session", "Deze editie heeft geen bijeenkomst met dit nummer.", 404, "number")
    try:
        given = await parse_body(request, Taps)
    except BadBody as bad:
        return bad.response
    applied = await _apply(request, caller, slug, number, given.taps)
    async with repositories(database(request)) as repos:
        marks = await repos.checkin.marks(slug, number)
    return JSONResponse(
        {
            "received": [t.tap for t in given.taps],
            "applied": applied,
            "marks": {m.registration_id: m.present for m in marks},
        },
        headers={"Cache-Control": "no-store"},
    )


async def _apply(request: Request, caller: Caller, slug: str, number: int, given: Sequence[TapIn]) -> list[str]:
    """Record each tap in one transaction; the ids of those that had not been recorded before."""
    applied = []
    now = console(request).clock()
    async with repositories(database(request)) as repos:
        for tap in given:
            if await apply_tap(
                repos.checkin,
                repos.audit,
                tap.as_tap(),
                edition=slug,
                session_number=number,
                account_id=caller.principal.account_id,
                address=address(request),
                now=now,
            ):
                applied.append(tap.tap)
    return applied


async def record(request: Request) -> Response:
    """RecordAttendance with the trios the draft has inside: those placed (what the page shows is what is sent)."""
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "attendance.record", slug)
    form = await posted(request)
    if not isinstance(form, dict):
        return form
    session = await session_of(request, slug, number) if number is not None else None
    if session is None or number is None:
        return no_such()
    async with repositories(database(request)) as repos:
        inside = await repos.checkin.present(slug, number)
    placed = set(session.get("placed", []))
    command = RecordAttendance(edition=slug, session_number=number, present=[r for r in inside if r in placed])
    outcome = await perform(request, caller, command, subject=session_subject(slug, number))
    done = after(outcome, session_path(slug, number, "/checkin"), "vastgelegd")
    if done is not None:
        return done
    return await _page(request, caller, slug, number, status=outcome.http_status(), errors=outcome.errors)


ROUTES: Final = (
    ("/checkin", checkin_page, "GET"),
    ("/checkin/taps", taps, "POST"),
    ("/checkin/record", record, "POST"),
)
