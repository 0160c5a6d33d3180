"""The console's pages: sign-in (password, and the authenticator code where the account has one), sign-out,
accepting an invitation (the password, and for organisers the authenticator app), and the start page."""

from __future__ import annotations

import segno
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shared.formatting import dutch_time

from ..accounts import (
    accept_invitation,
    invitation_account_id,
    new_totp_secret,
    principal,
    record,
    totp_uri,
    verify_sign_in,
)
from ..backends import ServiceUnavailable
from ..domain import ACTIONS, PERMISSIONS, AccountRefused, may, requires_totp
from ..store import repositories
from .access import LOGIN_PATH, NotSignedIn, address, console, database, signed_in
from .overview import edition_lines
from .rendering import REFUSAL_TEXTS, WRONG_CREDENTIALS, BadForm, csrf_refused, page, problem, read_form

START_PATH = "/console/"
# What the login page says after what sent the browser there (?welkom=1 ...).
LOGIN_NOTICES = {
    "welkom": "Je account is klaar. Log in met je e-mailadres en wachtwoord.",
    "hersteld": (
        "Je nieuwe wachtwoord is ingesteld. Log in met je e-mailadres, het nieuwe wachtwoord en, als je die "
        "gebruikt, de code uit je authenticator-app."
    ),
    "overal": "Je bent overal uitgelogd, op elk apparaat. Log hier opnieuw in als je verder wilt.",
}


async def login_form(request: Request) -> Response:
    if await signed_in(request) is not None:
        return RedirectResponse(START_PATH, 303)
    notice = next((text for flag, text in LOGIN_NOTICES.items() if flag in request.query_params), "")
    return _login_page(request, notice=notice)


def _login_page(request: Request, *, email: str = "", error: str = "", notice: str = "", status: int = 200) -> Response:
    csrf = console(request).csrf
    token, fresh = csrf.issue(request)
    # The button of the OpenID Connect sign-in (web/oidc.py) while a provider is configured.
    oidc_name = getattr(getattr(request.app.state, "oidc", None), "name", None)
    response = page("login.html", status, csrf=token, email=email, error=error, notice=notice, oidc_name=oidc_name)
    return csrf.attach(response, fresh)


async def login(request: Request) -> Response:
    context = console(request)
    try:
        form = await read_form(request)
    except BadForm as bad:
        return bad.response
    if not context.csrf.valid(request, form.get("csrf", "")):
        return csrf_refused()
    email = form.get("email", "")
    async with repositories(database(request)) as repos:
        outcome = await verify_sign_in(
            repos.accounts,
            repos.audit,
            email=email,
            password=form.get("password", ""),
            totp_code=form.get("code", "") or None,
            address=address(request),
            now=context.clock(),
            hasher=context.hasher,
        )
    if outcome.account is None:
        error = REFUSAL_TEXTS.get(outcome.refusal or "", WRONG_CREDENTIALS)
        if outcome.retry_at is not None:
            # The failure that locked the account, or an attempt while it is locked: say until when.
            error = (
                "Er is te vaak een verkeerd wachtwoord of een verkeerde code ingevuld. Om je account te beschermen "
                f"kun je pas weer inloggen vanaf {dutch_time(outcome.retry_at)}."
            )
        return _login_page(request, email=email, error=error, status=401)
    response = RedirectResponse(START_PATH, 303)
    account = outcome.account
    return context.sessions.start(response, account.id, context.clock(), generation=account.session_generation)


async def logout(request: Request) -> Response:
    context = console(request)
    try:
        form = await read_form(request)
    except BadForm as bad:
        return bad.response
    if not context.csrf.valid(request, form.get("csrf", "")):
        return csrf_refused()
    caller = await signed_in(request)
    if caller is not None and caller.via == "session":
        async with repositories(database(request)) as repos:
            account = caller.principal.account_id
            await record(repos.audit, context.clock(), account, "account.sign_out", account, address=address(request))
    return context.sessions.end(RedirectResponse(LOGIN_PATH, 303))


async def start(request: Request) -> Response:
    """Who is signed in, what their role may, and the editions they may read with the numbers that matter. Every
    active account may see it: a facilitator's editions are their own (edition_lines filters them)."""
    caller = await signed_in(request)
    if caller is None:
        raise NotSignedIn
    csrf = console(request).csrf
    token, fresh = csrf.issue(request)
    allowed = [action for action in ACTIONS if action in PERMISSIONS[caller.principal.role]]
    lines, unavailable = None, ""
    if console(request).backends is not None:  # without the services (tests of accounts): no overview
        try:
            lines = await edition_lines(request, caller)
        except ServiceUnavailable as down:
            unavailable = f"De cijfers zijn nu niet te zien: de dienst {down.service} antwoordt niet."
    response = page(
        "start.html",
        caller=caller,
        allowed=allowed,
        editions_assigned=sorted(caller.principal.editions),
        lines=lines,
        unavailable=unavailable,
        may_write=may(caller.principal, "editions.write"),
        csrf=token,
    )
    return csrf.attach(response, fresh)


# Invitations ---------------------------------------------------------------------------------------------------


async def invitation_form(request: Request) -> Response:
    token = request.path_params["token"]
    return await _invitation_page(request, token, totp_secret=None)


async def _invitation_page(
    request: Request, token: str, *, totp_secret: str | None, error: str = "", status: int = 200
) -> Response:
    context = console(request)
    account_id = invitation_account_id(token, secret_key=context.secret_key, now=context.clock())
    async with repositories(database(request)) as repos:
        account = await repos.accounts.get(account_id) if account_id is not None else None
    if account is None:
        return problem(404, "Deze uitnodiging klopt niet (meer)", REFUSAL_TEXTS["invitation_invalid"])
    if account.status != "invited":
        return problem(410, "Deze uitnodiging is al gebruikt", REFUSAL_TEXTS["invitation_used"])
    needs_totp = requires_totp(principal(account).role)
    if needs_totp and totp_secret is None:
        totp_secret = new_totp_secret()
    csrf_token, fresh = context.csrf.issue(request)
    uri = totp_uri(totp_secret, account.email) if needs_totp and totp_secret else ""
    response = page(
        "invitation.html",
        status,
        csrf=csrf_token,
        token=token,
        email=account.email,
        totp_secret=totp_secret if needs_totp else None,
        totp_uri=uri,
        # Drawn here as an SVG data URI (the page's policy allows data: images): the secret never leaves the page.
        totp_qr=segno.make(uri, error="m").svg_data_uri(scale=5, dark="#1b1b1b") if uri else "",
        error=error,
    )
    return context.csrf.attach(response, fresh)


async def accept(request: Request) -> Response:
    context = console(request)
    token = request.path_params["token"]
    try:
        form = await read_form(request)
    except BadForm as bad:
        return bad.response
    if not context.csrf.valid(request, form.get("csrf", "")):
        return csrf_refused()
    # The secret the page showed comes back with the form: the invitee's app has it, and proves it with a code.
    totp_secret = form.get("totp_secret", "").strip() or None
    password = form.get("password", "")
    if password != form.get("password_again", ""):
        return await _invitation_page(
            request, token, totp_secret=totp_secret, error=REFUSAL_TEXTS["passwords_differ"], status=422
        )
    try:
        async with repositories(database(request)) as repos:
            await accept_invitation(
                repos.accounts,
                repos.audit,
                token=token,
                password=password,
                totp_secret=totp_secret,
                totp_code=form.get("code", "") or None,
                address=address(request),
                secret_key=context.secret_key,
                now=context.clock(),
                hasher=context.hasher,
            )
    except AccountRefused as refused:
        if refused.code.startswith("invitation_"):
            return problem(410, "Deze uitnodiging werkt niet (meer)", REFUSAL_TEXTS[refused.code])
        error = REFUSAL_TEXTS.get(refused.code, "Dat lukte niet. Probeer het opnieuw.")
        return await _invitation_page(request, token, totp_secret=totp_secret, error=error, status=422)
    return RedirectResponse(f"{LOGIN_PATH}?welkom=1", 303)


def page_routes() -> list[Route]:
    return [
        Route("/", start, methods=["GET"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/invitation/{token}", invitation_form, methods=["GET"]),
        Route("/invitation/{token}", accept, methods=["POST"]),
    ]
