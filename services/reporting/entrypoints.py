"""Reporting's subscribers and public pages: parse, then call a handler; read, then render."""

from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from shared.contract.scheduling import EditionScheduled, SessionCompleted
from shared.messaging.messages import Consumer, Incoming
from shared.messaging.processing import MessageStore, run_event

from . import handlers
from .adapters import SqlEditions, SqlReports
from .domain import dutch_date, local_date

SESSION_NUMBER = re.compile(r"[0-9]{1,6}")  # anything else cannot name a session (and must not overflow SQL)

templates = Environment(
    loader=PackageLoader("services.reporting", "templates"),
    autoescape=True,  # every page shows organisers' free text
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals.update(dutch_date=dutch_date, local_date=local_date)


def consumers(store: MessageStore, *, public_url: str) -> dict[str, Consumer]:
    async def session_completed(msg: Incoming) -> None:
        await run_event(store, msg, SessionCompleted, lambda event, envelope, session, outbox:
                        handlers.publish_session_report(event, envelope, reports=SqlReports(session),
                                                        emit=outbox.emit, public_url=public_url))

    async def edition_scheduled(msg: Incoming) -> None:
        await run_event(store, msg, EditionScheduled, lambda event, envelope, session, _outbox:
                        handlers.remember_edition(event, editions=SqlEditions(session),
                                                  occurred_at=envelope.occurred_at))

    return {SessionCompleted.routing_key: session_completed, EditionScheduled.routing_key: edition_scheduled}


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(template).render(**context), status_code=status_code)


def not_found() -> HTMLResponse:
    return render("not_found.html", status_code=404)


def routes(store: MessageStore) -> list[Route]:
    # The edition's own report (issue 6) will live at /reports/{edition}.

    async def report_index(_: Request) -> HTMLResponse:
        async with store.db.sessions() as session:
            reports = await SqlReports(session).newest_first()
            editions = await SqlEditions(session).by_slug({r.edition for r in reports})
        return render("index.html", reports=reports, edition_titles={s: e.title for s, e in editions.items()})

    async def session_report(request: Request) -> HTMLResponse:
        number = request.path_params["session_number"]
        if not SESSION_NUMBER.fullmatch(number):
            return not_found()
        async with store.db.sessions() as session:
            report = await SqlReports(session).get(request.path_params["edition"], int(number))
            if report is None:
                return not_found()
            edition = await SqlEditions(session).get(report.edition)
        outcome = edition.outcome(report.session_number) if edition else None
        return render("session_report.html", report=report, edition=edition, outcome=outcome)

    return [
        Route("/reports", report_index, methods=["GET"]),
        Route("/reports/{edition}/{session_number}", session_report, methods=["GET"]),
    ]

