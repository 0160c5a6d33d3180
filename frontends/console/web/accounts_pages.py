"""The accounts page (/console/accounts, accounts.manage): every account with its role, status and editions;
inviting one (the invitation link is shown to copy: the console cannot mail yet), a new invitation link, a password
reset link, ending an account's sessions everywhere, and disabling (after a confirmation page)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Final, Literal

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shared.contract import ErrorItem

from ..accounts import create_account, disable_account, end_sessions, refusal, reissue_invitation, subject_of
from ..domain import ROLES, AccountRefused, InvalidEmail, normalise_email
from ..resets import issue_password_reset
from ..store import AccountRow, Repositories, repositories
from .access import LOGIN_PATH, Caller, address, console, database, require
from .acting import read
from .rendering import problem
from .screens import Refused, admin_page, posted, public_link

ACCOUNTS_PATH: Final = "/console/accounts"
SLUG: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # an edition's slug (contract: ScheduleEdition.edition)
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


async def invite_problems(
    request: Request, repos: Repositories, *, email: str, role: str, name: str, editions: Sequence[str]
) -> list[ErrorItem]:
    """What is wrong with an invitation, field by field (Dutch): for the form and the API alike."""
    errors: list[ErrorItem] = []
    try:
        if await repos.accounts.by_email(normalise_email(email)) is not None:
            message = "Er is al een account met dit e-mailadres."
            errors.append(ErrorItem(field="email", code="account_exists", message=message))
    except InvalidEmail:
        message = "Vul een geldig e-mailadres in, zoals naam@gemeente.nl."
        errors.append(ErrorItem(field="email", code="invalid_email", message=message))
    if role not in ROLES:
        errors.append(ErrorItem(field="role", code="unknown_role", message="Kies een rol."))
    if len(name) > 200:
        errors.append(ErrorItem(field="name", code="too_long", message="Hoogstens 200 tekens."))
    wrong = [slug for slug in editions if not SLUG.fullmatch(slug)]
    if wrong:
        message = f"Geen editie: {', '.join(wrong)}. Gebruik de korte naam van een editie, zoals 2027-najaar."
        errors.append(ErrorItem(field="editions", code="invalid_edition", message=message))
    elif editions and console(request).backends is not None:
        # A typo would leave a facilitator with nothing to do and nobody the wiser: each edition must exist.
        unknown = [slug for slug in editions if not (await read(request, "scheduling", f"/api/editions/{slug}")).found]
        if unknown:
            message = f"Deze editie bestaat niet: {', '.join(unknown)}."
            errors.append(ErrorItem(field="editions", code="unknown_edition", message=message))
    return errors


async def account_at(repos: Repositories, caller: Caller, request: Request, action: str) -> AccountRow:
    """The account in the path; an unknown id is refused (and on record) as an unknown account."""
    account_id = request.path_params["account_id"]
    account = await repos.accounts.get(account_id)
    if account is None:
        actor = caller.principal.account_id
        raise await refusal(
            repos.audit, console(request).clock(), actor, action, subject_of(account_id[:64]), "unknown_account"
        )
    return account


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
        context = console(request)
        async with repositories(database(request)) as repos:
            account = await account_at(repos, caller, request, "account.reinvite")
            invitation = await reissue_invitation(
                repos.accounts,
                repos.audit,
                email=account.email,
                actor=caller.principal.account_id,
                address=address(request),
                secret_key=context.secret_key,
                now=context.clock(),
            )
    except Refused as refused:
        return refused.response
    except AccountRefused:
        return unknown_account()
    if invitation is None:
        return problem(409, "Dit account is al in gebruik", "Het heeft de uitnodiging al aangenomen.")
    path = f"/console/invitation/{invitation.token}"
    return _link_page(request, caller, "invitation", invitation.email, path, invitation.expires_at)


async def reset(request: Request) -> Response:
    caller = await require(request, "accounts.manage")
    context = console(request)
    try:
        await posted(request)
        async with repositories(database(request)) as repos:
            account = await account_at(repos, caller, request, "account.issue_reset")
            link = await issue_password_reset(
                repos.accounts,
                repos.audit,
                email=account.email,
                actor=caller.principal.account_id,
                address=address(request),
                secret_key=context.secret_key,
                now=context.clock(),
            )
    except Refused as refused:
        return refused.response
    except AccountRefused as refused:
        if refused.code == "unknown_account":
            return unknown_account()
        text = "Een uitgeschakeld account krijgt geen nieuw wachtwoord."
        if refused.code == "no_password":
            text = "Dit account heeft nog geen wachtwoord: stuur het een nieuwe uitnodiging."
        return problem(409, "Geen herstellink voor dit account", text)
    return _link_page(request, caller, "reset", link.email, f"/console/reset/{link.token}", link.expires_at)


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
        async with repositories(database(request)) as repos:
            account = await account_at(repos, caller, request, "account.disable")
            await disable_account(
                repos.accounts,
                repos.audit,
                email=account.email,
                actor=caller.principal.account_id,
                address=address(request),
                now=console(request).clock(),
            )
    except Refused as refused:
        return refused.response
    except AccountRefused as refused:
        if refused.code == "own_account":
            return problem(409, "Je eigen account schakel je niet uit", "Vraag een andere organisator dit te doen.")
        return unknown_account()
    return RedirectResponse(f"{ACCOUNTS_PATH}?gedaan=uitgeschakeld", 303)


async def end_account_sessions(request: Request) -> Response:
    caller = await require(request, "accounts.manage")
    context = console(request)
    try:
        await posted(request)
        async with repositories(database(request)) as repos:
            account = await account_at(repos, caller, request, "account.end_sessions")
            await end_sessions(
                repos.accounts,
                repos.audit,
                email=account.email,
                actor=caller.principal.account_id,
                address=address(request),
                now=context.clock(),
            )
    except Refused as refused:
        return refused.response
    except AccountRefused:
        return unknown_account()
    if account.id == caller.principal.account_id:  # this session too
        return context.sessions.end(RedirectResponse(f"{LOGIN_PATH}?overal=1", 303))
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
