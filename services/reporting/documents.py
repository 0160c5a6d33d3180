"""Rendering: HTML pages, the round's report as Markdown and as PDF (WeasyPrint), and the Atom feed.

Every template gets already anonymised text (views.py). HTML and Atom escape it (autoescape); Markdown escapes
Markdown's punctuation and HTML's angle brackets with backslashes, so `<script>` in the notes stays text when
the Markdown is rendered anywhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from shared.formatting import dutch_date, euro_compact
from shared.templating import template_environment

from .domain import DOMAINS, SIZE_ADJECTIVES, local_date
from .themes import METHOD
from .views import domain_list

MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#|<>&~])")
# At the start of a line these begin a list, a heading underline or a numbered item.
MARKDOWN_LEADING = re.compile(r"^(?P<mark>[-+=])|^(?P<number>\d+)(?P<dot>[.)])")
PDF_CACHE_SIZE = 16


def md(text: object) -> str:
    """Plain text as Markdown that shows exactly that text: punctuation escaped, line breaks kept as spaces."""
    escaped = MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return MARKDOWN_LEADING.sub(_escape_leading, escaped)


def _escape_leading(match: re.Match[str]) -> str:
    if match.group("mark"):
        return "\\" + match.group("mark")
    return f"{match.group('number')}\\{match.group('dot')}"


def size_class_phrase(size_class: str, count: int) -> str:
    return f"{count} {SIZE_ADJECTIVES[size_class]} {'gemeente' if count == 1 else 'gemeenten'}"


def _environment(autoescape: bool) -> Environment:
    # autoescape is False only for the Markdown/text templates, which escape themselves.
    env = template_environment(Path(__file__).parent / "templates", autoescape=autoescape, keep_trailing_newline=True)
    env.globals.update(
        dutch_date=dutch_date,
        local_date=local_date,
        euros=euro_compact,
        domain_list=domain_list,
        size_class_phrase=size_class_phrase,
        DOMAINS=DOMAINS,
        method=METHOD,
    )
    env.filters["md"] = md
    return env


html_templates = _environment(autoescape=True)
text_templates = _environment(autoescape=False)


def render_html(template: str, **context: Any) -> str:
    return html_templates.get_template(template).render(**context)


def render_markdown(**context: Any) -> str:
    return text_templates.get_template("edition_report.md").render(**context)


def render_atom(**context: Any) -> str:
    # Autoescaping HTML's five characters is also correct escaping for XML text and attributes.
    return html_templates.get_template("feed.atom").render(**context)


def svg(markup: str) -> Markup:
    """A chart drawn by charts.py (which escapes every label itself)."""
    return Markup(markup)  # noqa: S704 # nosec B704  # charts.py builds this from escaped parts only


class PdfMaker:
    """Turns the round's report page into a PDF with WeasyPrint, off the event loop; remembers recent results,
    so repeated downloads of an unchanged report cost nothing."""

    def __init__(self) -> None:
        self._cache: OrderedDict[str, bytes] = OrderedDict()

    async def pdf(self, html: str) -> bytes:
        key = hashlib.sha256(html.encode()).hexdigest()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        data = await asyncio.to_thread(_write_pdf, html)
        self._cache[key] = data
        while len(self._cache) > PDF_CACHE_SIZE:
            self._cache.popitem(last=False)
        return data


def _write_pdf(html: str) -> bytes:
    from weasyprint import HTML  # imported on first use: it loads Pango, which a service without PDFs never needs
    from weasyprint.urls import URLFetcher

    # The report needs nothing from outside; refusing every fetch also keeps a crafted URL from reaching the network.
    fetcher = URLFetcher(allowed_protocols={"data"})
    return HTML(string=html, url_fetcher=fetcher, media_type="print").write_pdf()
