"""The console's pages and answers: the Dutch texts for roles, actions and refusals, the templates, the headers
every page carries, and reading a posted form."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse

from shared.contract import ErrorItem
from shared.formatting import dutch_datetime, dutch_time
from shared.http import error_response
from shared.templating import template_environment

from ..domain import Action, Role
from .menu import menu

ROLE_TEXTS: Final[Mapping[Role, str]] = {"organiser": "organisator", "facilitator": "begeleider", "viewer": "meelezer"}

ACTION_TEXTS: Final[Mapping[Action, str]] = {
    "read": "overzichten en exports bekijken",
    "editions.write": "edities aanmaken en wijzigen",
    "registrations.write": "aanmeldingen beheren: plaatsen, vervangen, corrigeren, annuleren en wissen",
    "attendance.record": "aanwezigheid bij sessies vastleggen",
    "notes.write": "verslagen van sessies invoeren",
    "reports.publish": "verslagen publiceren en intrekken",
    "mail.send": "mail sturen aan trio's",
    "invoices.write": "facturen en betalingen beheren",
    "accounts.manage": "accounts en toegangstokens beheren",
    "audit.read": "het auditlogboek lezen",
}

# Why a form was refused (domain.SignInRefusal, AccountRefused codes), in Dutch. A sign-in does not say whether
# the address has an account, nor whether it is disabled: a guess learns nothing.
WRONG_CREDENTIALS: Final = "Het e-mailadres of het wachtwoord klopt niet."
REFUSAL_TEXTS: Final[Mapping[str, str]] = {
    "unknown_account": WRONG_CREDENTIALS,
    "bad_password": WRONG_CREDENTIALS,
    "not_active": WRONG_CREDENTIALS,
    "disabled": WRONG_CREDENTIALS,
    "totp_required": "Vul ook de code uit je authenticator-app in.",
    "bad_totp": "De code uit je authenticator-app klopt niet. Vul de code in die de app nu toont.",
    "totp_reused": "Deze code is al gebruikt om in te loggen. Wacht op de volgende code van je app en vul die in.",
    "totp_not_enrolled": (
        "Voor dit account is nog geen authenticator-app ingesteld. Vraag een organisator om een nieuwe uitnodiging."
    ),
    "password_too_short": "Kies een wachtwoord van minstens 12 tekens.",  # nosec B105  # a Dutch text, no secret
    "password_too_long": "Kies een wachtwoord van hoogstens 1024 tekens.",  # nosec B105  # likewise
    "passwords_differ": "De twee wachtwoorden zijn niet gelijk.",
    "invitation_expired": "Deze uitnodiging is verlopen. Vraag een organisator om een nieuwe.",
    "invitation_invalid": "Deze uitnodigingslink klopt niet. Gebruik de link precies zoals die is verstuurd.",
    "invitation_used": "Deze uitnodiging is al gebruikt. Log in met je e-mailadres en wachtwoord.",
}

MAX_FORM_BYTES: Final = 16 * 1024
MAX_FORM_FIELDS: Final = 20

templates = template_environment(Path(__file__).parents[1] / "templates")
templates.globals.update(
    dutch_datetime=dutch_datetime, dutch_time=dutch_time, ROLE_TEXTS=ROLE_TEXTS, ACTION_TEXTS=ACTION_TEXTS, menu=menu
)


def page_headers(nonce: str, *, script: bool = False, stylesheet: bool = False) -> dict[str, str]:
    """The page's headers. No page runs a script, but the one given SCRIPT (the check-in page's, served by the
    console itself from /console/static/, which also sends its taps back to the console); STYLESHEET lets a page
    link the console's own stylesheets beside its inline style."""
    styles = f"'self' 'nonce-{nonce}'" if stylesheet else f"'nonce-{nonce}'"
    scripts = "script-src 'self'; connect-src 'self'; " if script else ""
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; {scripts}style-src {styles}; img-src 'self' data:; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'"
        ),
        "X-Frame-Options": "DENY",
        # Pages show who is signed in and, on the invitation page, a TOTP secret: never from a cache.
        "Cache-Control": "no-store",
    }


def page(
    template: str, status_code: int = 200, *, script: bool = False, stylesheet: bool = False, **context: Any
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    body = templates.get_template(template).render(nonce=nonce, **context)
    headers = page_headers(nonce, script=script, stylesheet=stylesheet)
    return HTMLResponse(body, status_code=status_code, headers=headers)


def problem(status_code: int, title: str, text: str) -> HTMLResponse:
    return page("problem.html", status_code, title=title, text=text)


def csrf_refused() -> HTMLResponse:
    return problem(
        403,
        "Dit formulier is verlopen",
        "Het formulier kon niet worden gecontroleerd. Laad de pagina opnieuw en probeer het nog eens.",
    )


def api_errors(code: str, message: str, status_code: int, field: str = "") -> JSONResponse:
    response = error_response([ErrorItem(field=field, code=code, message=message)], status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


class BadForm(Exception):
    def __init__(self, response: HTMLResponse) -> None:
        self.response = response


async def read_form(
    request: Request, *, max_bytes: int = MAX_FORM_BYTES, max_fields: int = MAX_FORM_FIELDS
) -> dict[str, str]:
    """The url-encoded form in the body (the last value of a repeated field), or BadForm with the page to answer.
    A long form (an edition's) passes larger limits."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    unreadable = BadForm(problem(400, "Dit formulier kunnen we niet lezen", "Verstuur het formulier vanuit de pagina."))
    if content_type != "application/x-www-form-urlencoded":
        raise unreadable
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BadForm(problem(413, "Dit is te veel tekst", "Wat je verstuurde is te groot voor dit formulier."))
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError):
        raise unreadable from None
    return dict(fields)
