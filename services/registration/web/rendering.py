"""Rendering the pages and the small JSON API: the templates with their Dutch helpers, the security headers every
answer carries, and the answers several pages share (not found, back to the status page)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse

from shared.contract import ErrorItem
from shared.contract.registration import Fee
from shared.formatting import dutch_datetime, dutch_time, euro
from shared.templating import template_environment

from ..domain import Edition

ROLES = {
    "wijkambtenaar": "Wijkambtenaar (wijkmanager, wijkregisseur, gebiedsregisseur …)",
    "sectorambtenaar": "Sectorambtenaar (collega van een beleidsafdeling)",
}
DOMAINS = {
    "fysiek": "Fysiek (wonen, openbare ruimte, water …)",
    "sociaal": "Sociaal (Wmo, jeugd, participatie, wijkteams …)",
    "veiligheid": "Veiligheid",
    "economie": "Economie",
    "bestuur": "Bestuur",
    "overig": "Overig",
}
# A member's own domain, in a select: the short names (the case's checkboxes explain them).
DOMAIN_CHOICES = {
    "fysiek": "Fysiek",
    "sociaal": "Sociaal",
    "veiligheid": "Veiligheid",
    "economie": "Economie",
    "bestuur": "Bestuur",
    "overig": "Overig",
}
LANGUAGES = {"nl": "Nederlands", "en": "Engels (English)"}
SIZE_CLASSES = {"klein": "kleine gemeente", "middelgroot": "middelgrote gemeente", "groot": "grote gemeente"}


def field_id(path: str) -> str:
    """`members[1].email` -> `members-1-email`: an HTML id for the input a field path names."""
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "formulier"


def fee_text(fee: Fee | Mapping[str, Any]) -> str:
    fee = fee if isinstance(fee, Fee) else Fee.model_validate(fee)
    if fee.waived or fee.amount_cents == 0:
        reason = SIZE_CLASSES.get(fee.reason or "", "")
        return f"Geen eigen bijdrage ({reason})" if reason else "Geen eigen bijdrage"
    return f"{euro(fee.amount_cents)} per trio"


templates = template_environment(Path(__file__).parents[1] / "templates")  # autoescaped: pages show what people typed
templates.globals.update(
    field_id=field_id,
    dutch_datetime=dutch_datetime,
    dutch_time=dutch_time,
    euro=euro,
    fee_text=fee_text,
    ROLES=ROLES,
    DOMAINS=DOMAINS,
    DOMAIN_CHOICES=DOMAIN_CHOICES,
    LANGUAGES=LANGUAGES,
    SIZE_CLASSES=SIZE_CLASSES,
)


def allocation_moment(edition: Edition | None) -> datetime | None:
    """When places are allocated (scheduling's registration deadline), if registration's copy of the edition
    knows it. Not the moment registration closes: that is later, and trios registering in between go straight
    to a free place or the waitlist."""
    return edition.registration_deadline if edition is not None else None


def security_headers(nonce: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
            "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'; object-src 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        # Status and approval links carry their credential in the URL: never pass it on to another site.
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


def page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    body = templates.get_template(template).render(nonce=nonce, **context)
    return HTMLResponse(body, status_code=status_code, headers=security_headers(nonce))


def api_json(content: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(
        content,
        status_code=status_code,
        headers={"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"},
    )


def api_error(field: str, code: str, message: str, status_code: int) -> JSONResponse:
    return api_json({"errors": [ErrorItem(field=field, code=code, message=message).model_dump()]}, status_code)


def back_to_status(registration_id: str, token: str) -> RedirectResponse:
    # Back to the very link the trio came with: it is valid (checked before), and a freshly signed one
    # would differ only in its timestamp, leaving the browser history with two status addresses.
    return RedirectResponse(f"/registrations/{registration_id}?token={quote(token, safe='')}", 303)


def not_found() -> HTMLResponse:
    # One page for a wrong token, an unknown registration and an erased one: a guess learns nothing.
    return page("not_found.html", 404)
