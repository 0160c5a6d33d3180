"""The accounts page (/console/accounts, accounts.manage): every account with its role, status and editions;
inviting one (the invitation link is shown to copy: the console cannot mail yet), a new invitation link, a password
reset link, ending an account's sessions everywhere, and disabling (after a confirmation page)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final, Literal

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..accounts import create_account
from ..domain import ROLES, AccountRefused
from ..store import repositories
from .access import LOGIN_PATH, Caller, address, console, database, require
from .account_actions import invite_problems, on_account
from .rendering import problem
from .screens import Refused, admin_page, posted, public_link

ACCOUNTS_PATH: Final = "/console/accounts"
DONE_TEXTS: Final = {
    "uitgeschakeld": "Het account is uitgeschakeld: het kan niet meer inloggen en zijn tokens werken niet meer.",
    "uitgelogd": "Alle sessies van het account zijn beëindigd. Het kan opnieuw inloggen.",
}
NO_MAIL: Final = (
    "De console kan deze link nog niet zelf mailen. Kopieer de link en stuur hem zelf naar {email}, "
    "bijvoorbeeld in een mail of bericht."
)


def editions_of(text: str) -> list[str]:
    """The slugs typed in a field, separated by commas or spaces."""
    return sorted({part for part in re.split(r"[\s,;]+", text.strip().lower()) if part})


def unknown_account() -> Response:
    return problem(404, "Dit account bestaat niet", "Ga terug naar de lijst met accounts en kies het opnieuw.")


async def _list(request: Request, caller: Caller, *, status: int = 200, **form: object) -> Response:
    async with repositories(database(request)) as repos:
        everyone = await repos.accounts.all()
    done = next((text for flag, text in DONE_TEXTS.items() if request.query_params.get("gedaan") == flag), "")
    values = {"email": "", "name": "", "role": "", "editions": "", "errors": {}, **form}
    return admin_page(request, "accounts.html", caller, status, accounts=everyone, done=done, roles=ROLES, **values)


async def accounts_page(request: Request) -> Response:
    return await _list(request, await require(request, "accounts.manage"))


def _link_page(
    request: Request, caller: Caller, kind: Literal["invitation", "reset"], email: str, path: str, expires: datetime
) -> Response:
    return admin_page(
        request,
        "account_link.html",
        caller,
        201 if kind == "invitation" else 200,
        kind=kind,
        email=email,
        link=public_link(request, path),
        expires_at=expires,
        no_mail=NO_MAIL.format(email=email),
    )


async def invite(request: Request) -> Response:
    caller = await require(request, "accounts.manage")
    try:
        form = await posted(request)
    except Refused as refused:
        return refused.response
    email, name, role = form.get("email", "").strip(), form.get("name", "").strip(), form.get("role", "")
    editions = editions_of(form.get("editions", "")) if role == "facilitator" else []
    context = console(request)
    async with repositories(database(request)) as repos:
        errors = await invite_problems(request, repos, email=email, role=role, name=name, editions=editions)
        if not errors:
            invitation = await create_account(
                repos.accounts,
                repos.audit,
                email=email,
                role=role,
                name=name,
                editions=editions,
                actor=caller.principal.account_id,
                address=address(request),
                secret_key=context.secret_key,
                now=context.clock(),
            )
    if errors:
        fields = {"email": email, "name": name, "role": role, "editions": form.get("editions", "")}
        return await _list(request, caller, status=422, errors={e.field: e.message for e in errors}, **fields)
    path = f"/console/invitation/{invitation.token}"
    return _link_page(request, caller, "invitation", invitation.email, path, invitation.expires_at)


async def reinvite(request: Request) -> Response:
    caller = await require(request, "accounts.manage")
    try:
        await posted(request)
        account, invitation = await on_account(request, caller, "reinvite")
    except Refused as refused:
        return refused.response
    except AccountRefused:
        return unknown_account()
    if invitation is None:
        return problem(409, "Dit account is al in gebruik", "Het heeft de uitnodiging al aangenomen.")
    path = f"/console/invitation/{invitation.token}"
    return _link_page(request, caller, "invitation", account.email, path, invitation.expires_at)


async def reset(request: Request) -> Response:
    caller = await require(request, "accounts.manage")
    try:
        await posted(request)
        account, link = await on_account(request, caller, "reset")
    except Refused as refused:
        return refused.response
    except AccountRefused as refused:
        if refused.code == "unknown_account":
            return unknown_account()
        text = "Een uitgeschakeld account krijgt geen nieuw wachtwoord."
        if refused.code == "no_password":
            text = "Dit account heeft nog geen wachtwoord: stuur het een nieuwe uitnodiging."
        return problem(409, "Geen herstellink voor dit account", text)
    assert link is not None  # a reset always makes its link, or is refused
    return _link_page(request, caller, "reset", account.email, f"/console/reset/{link.token}", link.expires_at)


async def disable_form(request: Request) -> Response:
    caller = await require(request, "accounts.manage")
    async with repositories(database(request)) as repos:
        account = await repos.accounts.get(request.path_params["account_id"])
    if account is None:
        return unknown_account()
    return admin_page(request, "account_disable.html", caller, account=account)


async def disable(request: Request) -> Response:
    caller = await require(request, "accounts.manage")
    try:
        await posted(request)
        await on_account(request, caller, "disable")
    except Refused as refused:
        return refused.response
    except AccountRefused as refused:
        if refused.code == "own_account":
            return problem(409, "Je eigen account schakel je niet uit", "Vraag een andere organisator dit te doen.")
        return unknown_account()
    return RedirectResponse(f"{ACCOUNTS_PATH}?gedaan=uitgeschakeld", 303)


async def end_account_sessions(request: Request) -> Response:
    caller = await require(request, "accounts.manage")
    try:
        await posted(request)
        account, _ = await on_account(request, caller, "end_sessions")
    except Refused as refused:
        return refused.response
    except AccountRefused:
        return unknown_account()
    if account.id == caller.principal.account_id:  # this session too
        return console(request).sessions.end(RedirectResponse(f"{LOGIN_PATH}?overal=1", 303))
    return RedirectResponse(f"{ACCOUNTS_PATH}?gedaan=uitgelogd", 303)


def account_routes() -> list[Route]:
    return [
        Route("/accounts", accounts_page, methods=["GET"]),
        Route("/accounts", invite, methods=["POST"]),
        Route("/accounts/{account_id}/invitation", reinvite, methods=["POST"]),
        Route("/accounts/{account_id}/reset", reset, methods=["POST"]),
        Route("/accounts/{account_id}/disable", disable_form, methods=["GET"]),
        Route("/accounts/{account_id}/disable", disable, methods=["POST"]),
        Route("/accounts/{account_id}/sessions/end", end_account_sessions, methods=["POST"]),
    ]
