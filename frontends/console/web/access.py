"""Who is asking and whether they may: the console's context (store, cookies, clock), `require` for every route,
and the answers to a missing login (a redirect to the login page, or 401 for the API) and a forbidden action (403
with a Dutch explanation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from argon2 import PasswordHasher
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from shared.db import Database
from shared.links import SecretKeys

from ..accounts import principal
from ..backends import Backends, ServiceUnavailable
from ..domain import PERMISSIONS, Action, Principal, may
from ..store import repositories
from ..tokens import authenticate_token
from .rendering import ACTION_TEXTS, ROLE_TEXTS, api_errors, page
from .sessions import Csrf, Sessions

API_PREFIX: Final = "/console/api/"
LOGIN_PATH: Final = "/console/login"


@dataclass(frozen=True)
class Console:
    """What every route needs, on the app's state (`console(request)`)."""

    # WERKPLAATSEN_SECRET_KEY (and the previous keys, Settings.secret_keys): invitation links, sessions and CSRF,
    # each with its own salt
    secret_key: SecretKeys
    sessions: Sessions
    csrf: Csrf
    clock: Callable[[], datetime]
    hasher: PasswordHasher
    db: Database | None = None  # opened by the lifespan when the app was not given one
    backends: Backends | None = None  # the services' APIs and the command gateway; None: only accounts work
    public_url: str = ""  # WERKPLAATSEN_PUBLIC_URL: where invitation and reset links point


def console(request: Request) -> Console:
    context: Console = request.app.state.console
    return context


def database(request: Request) -> Database:
    context = console(request)
    db = context.db if context.db is not None else request.app.state.db
    if not isinstance(db, Database):
        raise RuntimeError("the console's store is not open (the app's lifespan did not run)")
    return db


@dataclass(frozen=True)
class Caller:
    """A signed-in account (by session or personal access token) as one request sees it."""

    principal: Principal
    via: Literal["session", "token"]
    email: str = ""
    name: str = ""


class NotSignedIn(Exception):
    """No session (or an expired one, or one of an account no longer active), or no valid token."""


class Forbidden(Exception):
    def __init__(self, caller: Caller, action: Action, edition: str | None) -> None:
        super().__init__(action)
        self.caller, self.action, self.edition = caller, action, edition


def address(request: Request) -> str:
    return request.client.host if request.client is not None else ""


async def signed_in(request: Request) -> Caller | None:
    """The caller, read afresh from the store: a bearer token when the request has one (an invalid token is no
    caller, whatever cookie comes along), else the session cookie."""
    context = console(request)
    now = context.clock()
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    async with repositories(database(request)) as repos:
        if header:
            if scheme.lower() != "bearer":
                return None
            found = await authenticate_token(repos.accounts, repos.tokens, token=token.strip(), now=now)
            return Caller(found, "token") if found is not None and found.status == "active" else None
        session = context.sessions.session(request, now)
        account = await repos.accounts.get(session.account_id) if session is not None else None
        if account is None or session is None or account.status != "active":
            return None
        if session.generation != account.session_generation:  # signed out everywhere since, or a new password
            return None
        return Caller(principal(account), "session", account.email, account.name)


async def require(request: Request, action: Action, edition: str | None = None) -> Caller:
    """The caller when they may do ACTION (on EDITION); NotSignedIn or Forbidden otherwise, which the app turns
    into the answers below."""
    caller = await signed_in(request)
    if caller is None:
        raise NotSignedIn
    if not may(caller.principal, action, edition):
        raise Forbidden(caller, action, edition)
    return caller


def is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def explanation(error: Forbidden) -> str:
    role = error.caller.principal.role
    what = ACTION_TEXTS[error.action]
    if error.action in PERMISSIONS[role]:
        # A facilitator's role allows it, but only within the editions assigned to them.
        return f"Je mag {what} alleen voor de edities waaraan je bent toegewezen."
    return f"Met de rol {ROLE_TEXTS[role]} mag je niet {what}. Vraag een organisator als je dit nodig hebt."


async def not_signed_in(request: Request, exc: Exception) -> Response:
    if is_api(request):
        response: Response = api_errors(
            "unauthorized", "Log in, of stuur een geldig persoonlijk toegangstoken mee (Bearer wpc_...).", 401
        )
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    response = RedirectResponse(LOGIN_PATH, 303)
    # A session that no longer counts (expired, or its account disabled) is thrown away, not sent again.
    return console(request).sessions.end(response)


async def forbidden(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, Forbidden):  # registered for Forbidden only
        raise exc
    if is_api(request):
        return api_errors("forbidden", explanation(exc), 403)
    return page("forbidden.html", 403, caller=exc.caller, text=explanation(exc))


async def service_unavailable(request: Request, exc: Exception) -> Response:
    service = exc.service if isinstance(exc, ServiceUnavailable) else "?"
    text = f"De dienst {service} antwoordt nu niet. Probeer het over een minuut opnieuw; er is niets veranderd."
    if is_api(request):
        response: Response = api_errors("service_unavailable", text, 503)
    else:
        response = page("problem.html", 503, title="Even geen verbinding", text=text)
    response.headers["Retry-After"] = "30"
    return response
