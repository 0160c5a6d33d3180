"""The organiser's overview over HTTP: `/dashboard` and its CSV and XLSX exports.

Scripts send `Authorization: Bearer <WERKPLAATSEN_ORGANIZER_TOKEN>`. In a browser the organiser enters the token
once on the login page and gets a session cookie: the token's fingerprint signed with the secret key (purpose
"session"), valid for `SESSION_HOURS`, HttpOnly (no script reads it), SameSite=Strict (no other site's page
can make the browser send it, so the pages need no CSRF token) and Secure (only over HTTPS; left off only when
the public URL is plain http on this machine, for development). Changing the organiser token ends every
session, since the fingerprint no longer matches.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from shared.contract import ErrorItem
from shared.csvfile import delimiter_of, safe_csv
from shared.db import utcnow
from shared.http import error_response, is_organizer, secure_cookies, unauthorized
from shared.links import LinkExpired, LinkInvalid, SecretKeys, sign, unsign
from shared.messaging.processing import MessageStore

from .adapters import SqlAttendance, SqlEditions, SqlEventSources, SqlFailures, SqlInvoices, SqlTrios
from .charts import bar_chart, cumulative_chart
from .documents import render_html, svg
from .entrypoints import EDITION, not_found
from .overview import (
    ATTENDANCE_COLUMNS,
    INVOICE_COLUMNS,
    REGISTRATION_COLUMNS,
    EditionOverview,
    as_xlsx,
    attendance_rows,
    edition_overview,
    failure_lines,
    invoice_rows,
    registration_rows,
)

COOKIE = "werkplaatsen_organisator"
PURPOSE = "session"
SESSION_HOURS = 12
MAX_LOGIN_BYTES = 4096
DASHBOARD_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
EXPORTS = {
    "registrations": ("aanmeldingen", REGISTRATION_COLUMNS),
    "attendance": ("aanwezigheid", ATTENDANCE_COLUMNS),
    "invoices": ("facturen", INVOICE_COLUMNS),
}


def fingerprint(token: str) -> str:
    return hashlib.sha256(f"werkplaatsen:organiser:{token}".encode()).hexdigest()[:32]


class OrganiserAuth:
    def __init__(self, token: str, secret: SecretKeys, public_url: str) -> None:
        self.token = token
        self.secret = secret
        self.secure = secure_cookies(public_url)

    def allows(self, request: Request) -> bool:
        return is_organizer(request, self.token) or self._valid_cookie(request.cookies.get(COOKIE, ""))

    def _valid_cookie(self, value: str) -> bool:
        if not value or len(value) > 300:
            return False
        try:
            signed = unsign(self.secret, PURPOSE, value, max_age_seconds=SESSION_HOURS * 3600)
        except (LinkInvalid, LinkExpired):
            return False
        return hmac.compare_digest(signed.encode(), fingerprint(self.token).encode())

    def token_matches(self, given: str) -> bool:
        return hmac.compare_digest(given.strip().encode(), self.token.encode())

    def start_session(self, response: Response) -> Response:
        response.set_cookie(
            COOKIE,
            sign(self.secret, PURPOSE, fingerprint(self.token)),
            max_age=SESSION_HOURS * 3600,
            path="/dashboard",
            httponly=True,
            samesite="strict",
            secure=self.secure,
        )
        return response

    def end_session(self, response: Response) -> Response:
        response.delete_cookie(COOKIE, path="/dashboard", httponly=True, samesite="strict", secure=self.secure)
        return response


def bad_separator() -> Response:
    return error_response(
        [
            ErrorItem(
                field="sep",
                code="invalid_separator",
                message="Het scheidingsteken (sep) moet ; of , zijn; zonder sep is het ;.",
            )
        ],
        400,
    )


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render_html(template, **context), status_code=status_code, headers=DASHBOARD_HEADERS)


def login_page(status_code: int, error: str | None = None) -> HTMLResponse:
    return page("login.html", status_code, error=error, session_hours=SESSION_HOURS)


def routes(
    store: MessageStore,
    *,
    organizer_token: str,
    secret_key: SecretKeys,
    public_url: str,
    clock: Callable[[], datetime] = utcnow,
) -> list[Route]:
    auth = OrganiserAuth(organizer_token, secret_key, public_url)

    def refused(request: Request) -> Response:
        if wants_html(request):
            return login_page(401)
        return unauthorized()

    async def dashboard(request: Request) -> Response:
        if not auth.allows(request):
            return refused(request)
        async with store.db.sessions() as session:
            editions = await SqlEditions(session).every()
            trios_of = {e.slug: await SqlTrios(session).of_edition(e.slug) for e in editions}
            overviews = [
                edition_overview(
                    e,
                    e.slug,
                    trios_of[e.slug],
                    await SqlAttendance(session).of_edition(e.slug),
                    await SqlInvoices(session).of_edition(e.slug),
                )
                for e in editions
            ]
            failures = await SqlFailures(session).every()
            sources = await SqlEventSources(session).lookup({f.caused_by for f in failures})
        trios = {t.registration_id: t for ts in trios_of.values() for t in ts}
        return page(
            "dashboard.html",
            overviews=[(o, charts(o)) for o in overviews],
            failures=failure_lines(failures, sources, trios),
            now=clock(),
        )

    async def login_form(request: Request) -> Response:
        if auth.allows(request):
            return RedirectResponse("/dashboard", status_code=303)
        return login_page(200)

    async def login(request: Request) -> Response:
        body = await request.body()
        form = dict(parse_qsl(body[:MAX_LOGIN_BYTES].decode("utf-8", "replace")))
        if not auth.token_matches(form.get("token", "")):
            return login_page(401, "Dit token klopt niet. Probeer het opnieuw.")
        return auth.start_session(RedirectResponse("/dashboard", status_code=303))

    async def logout(_: Request) -> Response:
        return auth.end_session(RedirectResponse("/dashboard/login", status_code=303))

    async def export(request: Request) -> Response:
        if not auth.allows(request):
            return unauthorized()
        slug, what, kind = (request.path_params[k] for k in ("edition", "what", "kind"))
        if not EDITION.fullmatch(slug) or what not in EXPORTS or kind not in ("csv", "xlsx"):
            return not_found()
        delimiter = delimiter_of(request.query_params.get("sep"))
        if delimiter is None:
            return bad_separator()
        async with store.db.sessions() as session:
            edition = await SqlEditions(session).get(slug)
            trios = await SqlTrios(session).of_edition(slug)
            attendance = await SqlAttendance(session).of_edition(slug)
            invoices = await SqlInvoices(session).of_edition(slug)
        if edition is None and not trios:
            return not_found()
        title, columns = EXPORTS[what]
        if what == "registrations":
            rows = registration_rows(slug, trios)
        elif what == "invoices":
            rows = invoice_rows(invoices)
        else:
            rows = attendance_rows(edition, slug, trios, attendance)
        filename = f"{title}-{slug}.{kind}"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
        if kind == "csv":
            return Response(safe_csv(columns, rows, delimiter), media_type="text/csv; charset=utf-8", headers=headers)
        return Response(
            as_xlsx(title, columns, rows),
            headers=headers,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    return [
        Route("/dashboard", dashboard, methods=["GET"]),
        Route("/dashboard/login", login_form, methods=["GET"]),
        Route("/dashboard/login", login, methods=["POST"]),
        Route("/dashboard/logout", logout, methods=["POST"]),
        Route("/dashboard/{edition}/{what}.{kind}", export, methods=["GET"]),
    ]


def charts(overview: EditionOverview) -> dict[str, Any]:
    return {
        "over_time": svg(cumulative_chart(f"Aanmeldingen in de tijd, {overview.title}", overview.registered_days)),
        "sizes": svg(
            bar_chart(f"Actieve aanmeldingen naar gemeentegrootte, {overview.title}", list(overview.by_size_class))
        ),
    }
