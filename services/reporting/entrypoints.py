"""Reporting's public pages: read, then render (what it consumes is in consumes.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from shared.messaging.processing import MessageStore

from .adapters import SqlAttendance, SqlEditions, SqlReports, SqlRounds, SqlTrios
from .anonymise import Anonymiser, NameKey
from .charts import bar_chart
from .documents import PdfMaker, render_atom, render_html, render_markdown, svg
from .scrubbing import edition_anonymiser
from .views import RoundView, index_entries, round_view, session_view

FEED_EPOCH = datetime(2019, 10, 15, tzinfo=UTC)  # the first round's first session: "nothing yet" in the feed
SESSION_NUMBER = re.compile(r"[0-9]{1,6}")  # anything else cannot name a session (and must not overflow SQL)
EDITION = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# Public pages load nothing from elsewhere and run no script; the inline <style> is all they need.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render_html(template, **context), status_code=status_code, headers=PAGE_HEADERS)


def not_found() -> HTMLResponse:
    return page("not_found.html", status_code=404)


def gone() -> HTMLResponse:
    return page("gone.html", status_code=410)


class PublicPages:
    """The public, anonymised reports: per session, the round's report (HTML, Markdown, PDF), index and feed."""

    def __init__(self, store: MessageStore, key: NameKey, public_url: str) -> None:
        self.store = store
        self.key = key
        self.public_url = public_url
        self.pdfs = PdfMaker()

    def routes(self) -> list[Route]:
        return [
            Route("/reports", self.index, methods=["GET"]),
            Route("/reports/feed.atom", self.feed, methods=["GET"]),
            Route("/reports/{edition}.md", self.round_markdown, methods=["GET"]),
            Route("/reports/{edition}.pdf", self.round_pdf, methods=["GET"]),
            Route("/reports/{edition}", self.round_page, methods=["GET"]),
            Route("/reports/{edition}/{session_number}", self.session_page, methods=["GET"]),
        ]

    async def _anonymiser(self, session: AsyncSession, edition: str) -> Anonymiser:
        return await edition_anonymiser(session, self.key, edition)

    async def session_page(self, request: Request) -> Response:
        slug, number = request.path_params["edition"], request.path_params["session_number"]
        if not EDITION.fullmatch(slug) or not SESSION_NUMBER.fullmatch(number):
            return not_found()
        async with self.store.db.sessions() as session:
            report = await SqlReports(session).get(slug, int(number))
            if report is None or report.published_at is None:
                return not_found()  # a draft is for organisers' eyes only (api.py)
            if report.retracted_at is not None:
                return gone()
            edition = await SqlEditions(session).get(slug)
            trios = await SqlTrios(session).of_edition(slug)
            attendance = await SqlAttendance(session).get(slug, report.session_number)
            clean = await edition_anonymiser(session, self.key, slug, trios)
            published = await SqlRounds(session).get(slug)
        view = session_view(report, edition, trios, attendance.present if attendance else None, clean)
        round_path = f"/reports/{slug}" if published is not None and published.retracted_at is None else None
        return page("session_report.html", report=view, round_path=round_path)

    async def _round(self, slug: str) -> RoundView | Response:
        if not EDITION.fullmatch(slug):
            return not_found()
        async with self.store.db.sessions() as session:
            publication = await SqlRounds(session).get(slug)
            edition = await SqlEditions(session).get(slug)
            if publication is None or edition is None:
                return not_found()
            if publication.retracted_at is not None:
                return gone()
            trios = await SqlTrios(session).of_edition(slug)
            reports = await SqlReports(session).of_edition(slug)
            attendance = await SqlAttendance(session).of_edition(slug)
            clean = await edition_anonymiser(session, self.key, slug, trios)
        return round_view(edition, reports, trios, attendance, clean, publication.published_at)

    def _round_html(self, view: RoundView, *, pdf: bool) -> str:
        chart = svg(
            bar_chart("Deelnemende gemeenten naar grootte", [(c, n) for c, n in view.numbers.size_classes.items()])
        )
        return render_html("edition_report.html", report=view, pdf=pdf, size_chart=chart, public_url=self.public_url)

    async def round_page(self, request: Request) -> Response:
        view = await self._round(request.path_params["edition"])
        if isinstance(view, Response):
            return view
        return HTMLResponse(self._round_html(view, pdf=False), headers=PAGE_HEADERS)

    async def round_markdown(self, request: Request) -> Response:
        view = await self._round(request.path_params["edition"])
        if isinstance(view, Response):
            return view
        return Response(
            render_markdown(report=view, public_url=self.public_url),
            media_type="text/markdown; charset=utf-8",
            headers={**PAGE_HEADERS, "Content-Disposition": f'inline; filename="{view.edition}.md"'},
        )

    async def round_pdf(self, request: Request) -> Response:
        view = await self._round(request.path_params["edition"])
        if isinstance(view, Response):
            return view
        data = await self.pdfs.pdf(self._round_html(view, pdf=True))
        return Response(
            data,
            media_type="application/pdf",
            headers={**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="verslag-{view.edition}.pdf"'},
        )

    async def _entries(self) -> list[Any]:
        async with self.store.db.sessions() as session:
            reports = await SqlReports(session).newest_first()
            publications = await SqlRounds(session).published()
            slugs = {r.edition for r in reports} | {p.edition for p in publications}
            editions = await SqlEditions(session).by_slug(slugs)
            clean_for = {slug: await self._anonymiser(session, slug) for slug in slugs}
            rounds = [
                (editions[p.edition], p.published_at, await SqlReports(session).of_edition(p.edition))
                for p in publications
                if p.edition in editions
            ]
        return index_entries(reports, rounds, editions, clean_for)

    async def index(self, _: Request) -> Response:
        return page("index.html", entries=await self._entries())

    async def feed(self, _: Request) -> Response:
        entries = await self._entries()
        updated = max((e.updated for e in entries), default=FEED_EPOCH)
        return Response(
            render_atom(entries=entries, updated=updated, public_url=self.public_url),
            media_type="application/atom+xml; charset=utf-8",
        )


def routes(store: MessageStore, *, key: NameKey, public_url: str) -> list[Route]:
    return PublicPages(store, key, public_url).routes()
