"""Mail and page texts from the Jinja2 templates in ./templates (HTML autoescaped, plain text not)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import select_autoescape

from shared.templating import template_environment

TEMPLATES = Path(__file__).parent / "templates"

templates = template_environment(
    TEMPLATES,
    # Participants' own words (names, case titles) end up in the HTML; the plain text must stay unescaped.
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
)
# Which templates exist, listed once: a kind without an HTML part would otherwise be looked for on disk per mail.
NAMES = frozenset(templates.list_templates())


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


def render_mail(kind: str, language: str, context: Mapping[str, Any]) -> Rendered:
    """Templates are named `<kind>.<language>.subject.txt`, `.txt` (required) and `.html` (optional)."""
    subject = " ".join(templates.get_template(f"{kind}.{language}.subject.txt").render(context).split())
    text = templates.get_template(f"{kind}.{language}.txt").render(context)
    html_name = f"{kind}.{language}.html"
    html = templates.get_template(html_name).render(context) if html_name in NAMES else None
    return Rendered(subject=subject, text=text, html=html)


def render_chat(kind: str, language: str, context: Mapping[str, Any]) -> str:
    """The short text for a chat room: `<kind>.<language>.chat.txt`, on one paragraph per blank line."""
    text = templates.get_template(f"{kind}.{language}.chat.txt").render(context)
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n\n") if p.strip())


def render_page(name: str, **context: Any) -> str:
    return templates.get_template(name).render(context)
