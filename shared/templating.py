"""The one way the services set up Jinja2 for their templates (pages, mails, documents, invoices)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

# What every page shares, whichever service or front end renders it (the house style: `{% include
# "house_style.css" %}` inside a page's <style> element); a folder's own template of the same name wins.
SHARED_TEMPLATES = Path(__file__).parent / "templates"


def template_environment(
    folder: Path, *, autoescape: bool | Callable[[str | None], bool] = True, keep_trailing_newline: bool = False
) -> Environment:
    """Templates from `folder`, as every service uses them: a missing variable is an error (StrictUndefined), block
    tags leave no blank lines, and the files are not stat()ed on every render (they ship with the code). The
    shared templates (SHARED_TEMPLATES) can be included from any of them.

    `autoescape` is True for HTML made from what participants typed; a caller passes False (or a chooser such as
    `select_autoescape`) only for plain-text or Markdown templates that escape what they need themselves.
    """
    return Environment(  # nosec B701  # autoescape is the caller's choice, True unless it renders plain text
        loader=ChoiceLoader([FileSystemLoader(folder), FileSystemLoader(SHARED_TEMPLATES)]),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
        auto_reload=False,
    )
