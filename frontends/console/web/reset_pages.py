"""The page a password reset link opens (/console/reset/{token}): choose a new password; the authenticator app
stays as it is. Then every session of the account has ended and the login page says the password is set."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..domain import AccountRefused
from ..resets import reset_link_account, reset_password
from ..store import repositories
from .access import LOGIN_PATH, address, console, database
from .rendering import REFUSAL_TEXTS, page, problem
from .screens import Refused, posted

LINK_TEXTS: Final = {
    "reset_expired": ("Deze link is verlopen", "Vraag een organisator om een nieuwe herstellink."),
    "reset_invalid": ("Deze link klopt niet", "Gebruik de link precies zoals je hem kreeg, of vraag een nieuwe."),
    "reset_used": ("Deze link is al gebruikt", "Het wachtwoord is sindsdien gewijzigd. Log in, of vraag een nieuwe."),
}


def _dead_link(code: str) -> Response:
    title, text = LINK_TEXTS.get(code, LINK_TEXTS["reset_invalid"])
    return problem(404 if code == "reset_invalid" else 410, title, text)


async def _form(request: Request, token: str, *, error: str = "", status: int = 200) -> Response:
    context = console(request)
    async with repositories(database(request)) as repos:
        opened = await reset_link_account(
            repos.accounts, token=token, secret_key=context.secret_key, now=context.clock()
        )
    if isinstance(opened, str):
        return _dead_link(opened)
    csrf_token, fresh = context.csrf.issue(request)
    response = page("reset.html", status, csrf=csrf_token, token=token, email=opened.email, error=error)
    return context.csrf.attach(response, fresh)


async def reset_form(request: Request) -> Response:
    return await _form(request, request.path_params["token"])


async def reset(request: Request) -> Response:
    context = console(request)
    token = request.path_params["token"]
    try:
        form = await posted(request)
    except Refused as refused:
        return refused.response
    password = form.get("password", "")
    if password != form.get("password_again", ""):
        return await _form(request, token, error=REFUSAL_TEXTS["passwords_differ"], status=422)
    try:
        async with repositories(database(request)) as repos:
            await reset_password(
                repos.accounts,
                repos.audit,
                token=token,
                password=password,
                address=address(request),
                secret_key=context.secret_key,
                now=context.clock(),
                hasher=context.hasher,
            )
    except AccountRefused as refused:
        if refused.code.startswith("reset_"):
            return _dead_link(refused.code)
        error = REFUSAL_TEXTS.get(refused.code, "Dat lukte niet. Probeer het opnieuw.")
        return await _form(request, token, error=error, status=422)
    # Any session this browser had ended with the new password: the cookie goes too.
    return context.sessions.end(RedirectResponse(f"{LOGIN_PATH}?hersteld=1", 303))


def reset_routes() -> list[Route]:
    return [Route("/reset/{token}", reset_form, methods=["GET"]), Route("/reset/{token}", reset, methods=["POST"])]
