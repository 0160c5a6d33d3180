"""Personal access tokens in the console's JSON API: list, create (the token is in the answer, once), revoke. Any
signed-in account for its own tokens; organisers (accounts.manage) for everyone's."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, Field, StringConstraints
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain import AccountRefused, may
from ..store import AccessTokenRow, repositories
from ..tokens import create_token, revoke_token
from .access import Forbidden, address, console, database
from .acting import BadBody, parse_body
from .openapi import Operation, Query
from .rendering import api_errors
from .screens import caller_of
from .tokens_pages import MAX_NAME


class NewTokenBody(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME)] = Field(
        description="What the token is for, as listed."
    )


class TokenItem(BaseModel):
    id: str
    name: str
    account_id: str
    created_at: str
    last_used_at: str | None = Field(description="To the minute; null when never used.")
    revoked_at: str | None


class TokenList(BaseModel):
    tokens: list[TokenItem]


class CreatedToken(TokenItem):
    token: str = Field(description="The token itself (wpc_...): in this answer only, never again.")


def token_item(row: AccessTokenRow) -> dict[str, str | None]:
    return {
        "id": row.id,
        "name": row.name,
        "account_id": row.account_id,
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


def _json(body: object, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def list_tokens(request: Request) -> Response:
    caller = await caller_of(request)
    everyone = request.query_params.get("all", "").lower() in ("1", "true", "ja")
    if everyone and not may(caller.principal, "accounts.manage"):
        raise Forbidden(caller, "accounts.manage", None)
    async with repositories(database(request)) as repos:
        rows = await (repos.tokens.all() if everyone else repos.tokens.of_account(caller.principal.account_id))
    return _json({"tokens": [token_item(row) for row in rows]})


async def new_token(request: Request) -> Response:
    caller = await caller_of(request)
    try:
        body = await parse_body(request, NewTokenBody)
    except BadBody as bad:
        return bad.response
    async with repositories(database(request)) as repos:
        account = await repos.accounts.get(caller.principal.account_id)
        if account is None:
            return api_errors("unknown_account", "Dit account bestaat niet meer.", 404)
        made = await create_token(
            repos.accounts,
            repos.tokens,
            repos.audit,
            email=account.email,
            name=body.name,
            actor=account.id,
            address=address(request),
            now=console(request).clock(),
        )
        row = await repos.tokens.get(made.id)
    assert row is not None  # made in this transaction
    return _json({**token_item(row), "token": made.token}, 201)


async def revoke(request: Request) -> Response:
    caller = await caller_of(request)
    manager = may(caller.principal, "accounts.manage")
    try:
        async with repositories(database(request)) as repos:
            row = await revoke_token(
                repos.tokens,
                repos.audit,
                token_id=request.path_params["token_id"],
                actor=caller.principal.account_id,
                address=address(request),
                now=console(request).clock(),
                of_account=None if manager else caller.principal.account_id,
            )
    except AccountRefused:
        return api_errors("unknown_token", "Dit token bestaat niet (of is niet van jou).", 404, field="token_id")
    return _json(token_item(row))


OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/tokens",
        list_tokens,
        "De eigen toegangstokens (een organisator met all=true: die van iedereen)",
        None,
        "toegangstokens",
        answer=TokenList,
        answers={200: "De tokens, zonder de tokens zelf.", 403: "all=true zonder het recht accounts te beheren."},
        query=(Query("all", "true: de tokens van alle accounts (alleen voor organisatoren).", "boolean"),),
    ),
    Operation(
        "POST",
        "/api/tokens",
        new_token,
        "Een nieuw toegangstoken voor het eigen account (het token staat alleen in dit antwoord)",
        None,
        "toegangstokens",
        body=NewTokenBody,
        answer=CreatedToken,
        answers={201: "Gemaakt; `token` is het token zelf.", 422: "Geen of een te lange naam."},
    ),
    Operation(
        "POST",
        "/api/tokens/{token_id}/revoke",
        revoke,
        "Een toegangstoken intrekken (het eigen; een organisator: elk)",
        None,
        "toegangstokens",
        answer=TokenItem,
        answers={200: "Ingetrokken (of was het al).", 404: "Dit token bestaat niet, of is niet van jou."},
    ),
)
