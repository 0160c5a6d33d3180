"""What the accounts page and the accounts API do alike: checking an invitation field by field, finding the account
a path names (an unknown id refused on record), and the four actions on an existing account, each audited by the
accounts module. The page and the API differ only in how they answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, Literal

from starlette.requests import Request

from shared.contract import ErrorItem

from ..accounts import Invitation, disable_account, end_sessions, refusal, reissue_invitation, subject_of
from ..domain import ROLES, InvalidEmail, normalise_email
from ..resets import ResetLink, issue_password_reset
from ..store import AccountRow, Repositories, repositories
from .access import Caller, address, console, database
from .acting import read

SLUG: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # an edition's slug (contract: ScheduleEdition.edition)

AccountAction = Literal["reinvite", "reset", "disable", "end_sessions"]
AUDITED_AS: Final[dict[AccountAction, str]] = {
    "reinvite": "account.reinvite",
    "reset": "account.issue_reset",
    "disable": "account.disable",
    "end_sessions": "account.end_sessions",
}


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


async def on_account(
    request: Request, caller: Caller, action: AccountAction
) -> tuple[AccountRow, Invitation | ResetLink | None]:
    """ACTION on the account in the path, by CALLER: the account, and the new link where the action makes one
    (None from a reinvitation means the account is no longer invited). AccountRefused as the accounts module
    refuses, with its audit entry already written."""
    context = console(request)
    async with repositories(database(request)) as repos:
        account = await account_at(repos, caller, request, AUDITED_AS[action])
        who = {"email": account.email, "actor": caller.principal.account_id, "address": address(request)}
        now = context.clock()
        link: Invitation | ResetLink | None = None
        if action == "reinvite":
            link = await reissue_invitation(repos.accounts, repos.audit, **who, secret_key=context.secret_key, now=now)
        elif action == "reset":
            link = await issue_password_reset(
                repos.accounts, repos.audit, **who, secret_key=context.secret_key, now=now
            )
        elif action == "disable":
            await disable_account(repos.accounts, repos.audit, **who, now=now)
        else:
            await end_sessions(repos.accounts, repos.audit, **who, now=now)
    return account, link
