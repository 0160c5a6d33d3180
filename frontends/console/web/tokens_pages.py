"""The personal access tokens page (/console/tokens): every signed-in account makes, lists and revokes its own
tokens and can sign out everywhere; organisers (accounts.manage) also see and revoke everyone else's."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..accounts import end_sessions
from ..domain import AccountRefused, may
from ..store import AccessTokenRow, AccountRow, Repositories, repositories
from ..tokens import create_token, revoke_token
from .access import LOGIN_PATH, Caller, address, console, database
from .rendering import problem
from .screens import Refused, admin_page, caller_of, posted

TOKENS_PATH: Final = "/console/tokens"
MAX_NAME: Final = 200


def token_name_problem(name: str) -> str:
    """Why NAME cannot name a token (a Dutch text), or ""."""
    if not name:
        return "Geef het token een naam, zodat je later weet waarvoor het is."
    if len(name) > MAX_NAME:
        return f"Hoogstens {MAX_NAME} tekens."
    return ""


async def _listing(repos: Repositories, caller: Caller) -> tuple[list[AccessTokenRow], list[AccessTokenRow]]:
    """The caller's own tokens, and (for organisers) everyone else's."""
    own = list(await repos.tokens.of_account(caller.principal.account_id))
    others: list[AccessTokenRow] = []
    if may(caller.principal, "accounts.manage"):
        others = [t for t in await repos.tokens.all() if t.account_id != caller.principal.account_id]
    return own, others


async def _page(
    request: Request,
    caller: Caller,
    *,
    status: int = 200,
    new_token: str = "",
    new_name: str = "",
    name: str = "",
    error: str = "",
) -> Response:
    async with repositories(database(request)) as repos:
        own, others = await _listing(repos, caller)
        holders: dict[str, AccountRow] = {a.id: a for a in await repos.accounts.by_ids({t.account_id for t in others})}
    notice = "Het token is ingetrokken: het werkt vanaf nu niet meer." if "ingetrokken" in request.query_params else ""
    return admin_page(
        request,
        "tokens.html",
        caller,
        status,
        own=own,
        others=others,
        holders=holders,
        new_token=new_token,
        new_name=new_name,
        name=name,
        error=error,
        notice=notice,
        max_name=MAX_NAME,
    )


async def tokens_page(request: Request) -> Response:
    return await _page(request, await caller_of(request))


async def create(request: Request) -> Response:
    caller = await caller_of(request)
    try:
        form = await posted(request)
    except Refused as refused:
        return refused.response
    name = form.get("name", "").strip()
    if error := token_name_problem(name):
        return await _page(request, caller, status=422, name=name, error=error)
    context = console(request)
    async with repositories(database(request)) as repos:
        account = await repos.accounts.get(caller.principal.account_id)
        if account is None:
            return problem(404, "Dit account bestaat niet meer", "Log opnieuw in.")
        made = await create_token(
            repos.accounts,
            repos.tokens,
            repos.audit,
            email=account.email,
            name=name,
            actor=caller.principal.account_id,
            address=address(request),
            now=context.clock(),
        )
    # Shown in the answer to the POST itself, not after a redirect: the token is in no URL, cookie or store.
    return await _page(request, caller, status=201, new_token=made.token, new_name=made.name)


async def revoke(request: Request) -> Response:
    caller = await caller_of(request)
    try:
        await posted(request)
    except Refused as refused:
        return refused.response
    manager = may(caller.principal, "accounts.manage")
    try:
        async with repositories(database(request)) as repos:
            await revoke_token(
                repos.tokens,
                repos.audit,
                token_id=request.path_params["token_id"],
                actor=caller.principal.account_id,
                address=address(request),
                now=console(request).clock(),
                of_account=None if manager else caller.principal.account_id,
            )
    except AccountRefused:
        text = "Het token staat niet (meer) in je lijst. Laad de pagina opnieuw."
        return problem(404, "Dit token bestaat niet", text)
    return RedirectResponse(f"{TOKENS_PATH}?ingetrokken=1", 303)


async def sign_out_everywhere(request: Request) -> Response:
    """End every session of the caller's own account, this one included."""
    caller = await caller_of(request)
    try:
        await posted(request)
    except Refused as refused:
        return refused.response
    context = console(request)
    async with repositories(database(request)) as repos:
        account = await repos.accounts.get(caller.principal.account_id)
        if account is not None:
            await end_sessions(
                repos.accounts,
                repos.audit,
                email=account.email,
                actor=account.id,
                address=address(request),
                now=context.clock(),
            )
    return context.sessions.end(RedirectResponse(f"{LOGIN_PATH}?overal=1", 303))


def token_routes() -> list[Route]:
    return [
        Route("/tokens", tokens_page, methods=["GET"]),
        Route("/tokens", create, methods=["POST"]),
        Route("/tokens/{token_id}/revoke", revoke, methods=["POST"]),
        Route("/sessions/end", sign_out_everywhere, methods=["POST"]),
    ]
