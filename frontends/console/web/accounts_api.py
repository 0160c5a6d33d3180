"""Accounts in the console's JSON API (accounts.manage): list, invite (the answer carries the invitation link: the
console cannot mail it yet), a new invitation link, a password reset link, disable, and end an account's sessions
(which any account may do for itself)."""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import BaseModel, Field, StringConstraints
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.http import error_response

from ..accounts import create_account
from ..domain import AccountRefused, Role, may
from ..store import AccountRow, repositories
from .access import Forbidden, address, console, database, require
from .account_actions import invite_problems, on_account
from .acting import BadBody, parse_body
from .openapi import Operation
from .rendering import api_errors
from .screens import caller_of, public_link

REFUSALS: Final = {
    "unknown_account": (404, "Dit account bestaat niet."),
    "own_account": (409, "Je eigen account schakel je niet uit: vraag een andere organisator."),
    "disabled": (409, "Dit account is uitgeschakeld."),
    "no_password": (409, "Dit account heeft nog geen wachtwoord: stuur het een nieuwe uitnodiging."),
    "not_invited": (409, "Dit account heeft de uitnodiging al aangenomen."),
}


class NewAccount(BaseModel):
    email: str = Field(max_length=320)
    role: Role
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    editions: list[str] = Field(default_factory=list, max_length=50, description="Slugs (facilitators only).")


class AccountItem(BaseModel):
    id: str
    email: str
    name: str
    role: str
    status: str = Field(description="invited, active or disabled.")
    editions: list[str]
    created_at: str


class AccountList(BaseModel):
    accounts: list[AccountItem]


class AccountLink(BaseModel):
    account: AccountItem
    link: str = Field(description="The invitation or reset link, to send to the account yourself.")
    expires_at: str
    mailed: bool = Field(description="Always false for now: the console cannot send mail yet.")


def account_item(account: AccountRow) -> dict[str, Any]:
    return {
        "id": account.id,
        "email": account.email,
        "name": account.name,
        "role": account.role,
        "status": account.status,
        "editions": list(account.editions),
        "created_at": account.created_at.isoformat(),
    }


def _json(body: object, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _refused(refused: AccountRefused) -> Response:
    status, message = REFUSALS.get(refused.code, (422, "Dat kan niet."))
    return api_errors(refused.code, message, status)


def _link(request: Request, account: AccountRow, path: str, expires: Any, status: int = 200) -> Response:
    body = {"account": account_item(account), "link": public_link(request, path), "expires_at": expires.isoformat()}
    return _json({**body, "mailed": False}, status)


async def list_accounts(request: Request) -> Response:
    await require(request, "accounts.manage")
    async with repositories(database(request)) as repos:
        everyone = await repos.accounts.all()
    return _json({"accounts": [account_item(a) for a in everyone]})


async def invite(request: Request) -> Response:
    caller = await require(request, "accounts.manage")
    try:
        body = await parse_body(request, NewAccount)
    except BadBody as bad:
        return bad.response
    editions = sorted(set(body.editions)) if body.role == "facilitator" else []
    context = console(request)
    async with repositories(database(request)) as repos:
        errors = await invite_problems(
            request, repos, email=body.email, role=body.role, name=body.name, editions=editions
        )
        if errors:
            status = 409 if [e.code for e in errors] == ["account_exists"] else 422
            return error_response(errors, status)
        invitation = await create_account(
            repos.accounts,
            repos.audit,
            email=body.email,
            role=body.role,
            name=body.name,
            editions=editions,
            actor=caller.principal.account_id,
            address=address(request),
            secret_key=context.secret_key,
            now=context.clock(),
        )
        account = await repos.accounts.get(invitation.account_id)
    assert account is not None  # made in this transaction
    return _link(request, account, f"/console/invitation/{invitation.token}", invitation.expires_at, 201)


async def reinvite(request: Request) -> Response:
    caller = await require(request, "accounts.manage")
    try:
        account, invitation = await on_account(request, caller, "reinvite")
    except AccountRefused as refused:
        return _refused(refused)
    if invitation is None:
        return _refused(AccountRefused("not_invited"))
    return _link(request, account, f"/console/invitation/{invitation.token}", invitation.expires_at)


async def reset(request: Request) -> Response:
    caller = await require(request, "accounts.manage")
    try:
        account, link = await on_account(request, caller, "reset")
    except AccountRefused as refused:
        return _refused(refused)
    assert link is not None  # a reset always makes its link, or is refused
    return _link(request, account, f"/console/reset/{link.token}", link.expires_at)


async def disable(request: Request) -> Response:
    caller = await require(request, "accounts.manage")
    try:
        account, _ = await on_account(request, caller, "disable")
    except AccountRefused as refused:
        return _refused(refused)
    return _json({"account": account_item(account)})


async def end_account_sessions(request: Request) -> Response:
    caller = await caller_of(request)
    own = request.path_params["account_id"] == caller.principal.account_id
    if not own and not may(caller.principal, "accounts.manage"):
        raise Forbidden(caller, "accounts.manage", None)
    try:
        account, _ = await on_account(request, caller, "end_sessions")
    except AccountRefused as refused:
        return _refused(refused)
    return _json({"account": account_item(account)})


class AccountAnswer(BaseModel):
    account: AccountItem


OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/accounts",
        list_accounts,
        "Alle accounts",
        "accounts.manage",
        "accounts",
        answer=AccountList,
        answers={200: "De accounts, op e-mailadres."},
    ),
    Operation(
        "POST",
        "/api/accounts",
        invite,
        "Iemand uitnodigen (het antwoord bevat de uitnodigingslink; de console mailt hem nog niet)",
        "accounts.manage",
        "accounts",
        body=NewAccount,
        answer=AccountLink,
        answers={201: "Uitgenodigd.", 409: "Er is al een account met dit adres.", 422: "De gegevens kloppen niet."},
    ),
    Operation(
        "POST",
        "/api/accounts/{account_id}/invitation",
        reinvite,
        "Een nieuwe uitnodigingslink voor een account dat nog niet is begonnen",
        "accounts.manage",
        "accounts",
        answer=AccountLink,
        answers={200: "De nieuwe link.", 404: "Dit account bestaat niet.", 409: "Al in gebruik."},
    ),
    Operation(
        "POST",
        "/api/accounts/{account_id}/reset",
        reset,
        "Een herstellink voor het wachtwoord (24 uur, één keer; de authenticator-app blijft)",
        "accounts.manage",
        "accounts",
        answer=AccountLink,
        answers={200: "De herstellink.", 404: "Dit account bestaat niet.", 409: "Uitgeschakeld of zonder wachtwoord."},
    ),
    Operation(
        "POST",
        "/api/accounts/{account_id}/disable",
        disable,
        "Een account uitschakelen (sessies en tokens stoppen meteen)",
        "accounts.manage",
        "accounts",
        answer=AccountAnswer,
        answers={200: "Uitgeschakeld.", 404: "Dit account bestaat niet.", 409: "Het eigen account."},
    ),
    Operation(
        "POST",
        "/api/accounts/{account_id}/sessions/end",
        end_account_sessions,
        "Alle sessies van een account beëindigen (het eigen account: elk account; een ander: een organisator)",
        None,
        "accounts",
        answer=AccountAnswer,
        answers={200: "Beëindigd.", 404: "Dit account bestaat niet."},
    ),
)
