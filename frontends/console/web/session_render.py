"""What the sessions' pages share (session_pages, checkin, notes_pages): rendering one of them with the account,
the CSRF field and the notice of what was just done; reading a posted form with its CSRF field; and turning a
command's outcome into the redirect of post/redirect/get, or None when the page must show the reasons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from shared.contract import ErrorItem
from shared.formatting import AMSTERDAM, dutch_datetime

from .access import Caller, console
from .acting import Outcome
from .rendering import BadForm, csrf_refused, page, problem, read_form

# What was just done, by the `gedaan` of the redirect (post/redirect/get): a fixed text, never one from the URL.
NOTICES: Final[Mapping[str, str]] = {
    "verzet": "De bijeenkomst is verzet. De trio's krijgen een bijgewerkte agenda-uitnodiging.",
    "verstuurd": "Verstuurd. De dienst heeft nog niet geantwoord; ververs de pagina over een moment.",
    "vastgelegd": "De aanwezigheid is vastgelegd.",
    "opgeslagen": "Het concept is opgeslagen.",
    "gepubliceerd": "Het verslag is gepubliceerd.",
    "ingetrokken": "Het verslag is ingetrokken.",
    "gemarkeerd": "De lijst van woorden die geen naam zijn is bijgewerkt; het voorbeeld houdt er rekening mee.",
    "afgerond": "Het verslag is verstuurd. Hieronder zie je het zoals het gepubliceerd wordt.",
}


def session_path(slug: str, number: int, rest: str = "") -> str:
    return f"/console/editions/{slug}/sessions/{number}{rest}"


def when(session: Mapping[str, Any]) -> str:
    """`15 oktober 2027, 13:00 tot 17:00 uur`, in Amsterdam."""
    ends = datetime.fromisoformat(session["ends_at"]).astimezone(AMSTERDAM)
    return f"{dutch_datetime(session['starts_at']).removesuffix(' uur')} tot {ends:%H:%M} uur"


def session_page(
    request: Request,
    caller: Caller,
    template: str,
    status: int = 200,
    *,
    slug: str,
    number: int | None = None,
    errors: Sequence[ErrorItem] = (),
    field_ids: Mapping[str, str] | None = None,
    script: bool = False,
    **context: Any,
) -> Response:
    csrf = console(request).csrf
    token, fresh = csrf.issue(request)
    response = page(
        template,
        status,
        script=script,
        stylesheet=True,
        caller=caller,
        csrf=token,
        slug=slug,
        number=number,
        crumb=number is not None and template != "session.html",
        notice=NOTICES.get(request.query_params.get("gedaan", ""), ""),
        errors=list(errors),
        field_ids=field_ids or {},
        **context,
    )
    return csrf.attach(response, fresh)


def after(outcome: Outcome, to: str, done: str) -> Response | None:
    """The redirect after an action (its notice, or that it is on its way), or None when it was refused."""
    if outcome.status == "rejected":
        return None
    return RedirectResponse(f"{to}?gedaan={done if outcome.status == 'accepted' else 'verstuurd'}", 303)


async def posted(request: Request) -> dict[str, str] | Response:
    """The posted form when its CSRF field is valid, else the page to answer."""
    try:
        form = await read_form(request)
    except BadForm as bad:
        return bad.response
    if not console(request).csrf.valid(request, form.get("csrf", "")):
        return csrf_refused()
    return form


def no_such(what: str = "bijeenkomst") -> Response:
    return problem(404, f"Deze {what} bestaat niet", "Kijk bij de bijeenkomsten van de editie welke er zijn.")
