"""Personal access tokens for the console's API: made for an account, shown once, stored only as a hash, listed,
revoked, and speaking for their account's role while the account is active. Every change is audited (subject
`token:<id>`); a use is not (it would be a row per request), but the token remembers when it was last used."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from .accounts import Accounts, Audit, account_by_email, principal, record, refusal
from .domain import AccountRefused, Principal, normalise_email
from .store.tables import AccessTokenRow

TOKEN_PREFIX: Final = "wpc_"  # recognisable in a leaked log or a secret scanner's rules
# How exact "last used" is: a script calling every second writes the token's row once a minute, not every time.
LAST_USE_PRECISION: Final = timedelta(minutes=1)


class Tokens(Protocol):
    async def add(self, token: AccessTokenRow) -> None: ...
    async def by_hash(self, token_hash: str) -> AccessTokenRow | None: ...
    async def get(self, token_id: str) -> AccessTokenRow | None: ...
    async def of_account(self, account_id: str) -> Sequence[AccessTokenRow]: ...
    async def save(self, token: AccessTokenRow) -> None: ...
    async def all(self) -> Sequence[AccessTokenRow]: ...


def token_hash(token: str) -> str:
    """Tokens are long and random: a plain SHA-256 is enough to make a stolen table useless (no salt, no Argon2),
    and it can be looked up by equality."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    id: str
    name: str
    token: str  # shown once, never stored


async def create_token(
    accounts: Accounts,
    tokens: Tokens,
    audit: Audit,
    *,
    email: str,
    name: str,
    actor: str,
    address: str = "",
    now: datetime,
) -> NewToken:
    """A new personal access token for the account at EMAIL, carrying its role. A disabled account gets none."""
    account = await account_by_email(accounts, audit, email, "token.create", actor, address, now)
    if account.status == "disabled":
        raise await refusal(audit, now, actor, "token.create", f"account:{account.id}", "disabled", address=address)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = AccessTokenRow(
        id=str(uuid.uuid4()),
        account_id=account.id,
        name=name.strip() or "token",
        token_hash=token_hash(token),
        created_at=now,
    )
    await tokens.add(row)
    await record(audit, now, actor, "token.create", f"token:{row.id}", address=address, reason=f"account={account.id}")
    return NewToken(row.id, row.name, token)


async def list_tokens(accounts: Accounts, tokens: Tokens, *, email: str) -> Sequence[AccessTokenRow]:
    account = await accounts.by_email(normalise_email(email))
    if account is None:
        raise AccountRefused("unknown_account")
    return await tokens.of_account(account.id)


async def revoke_token(
    tokens: Tokens,
    audit: Audit,
    *,
    token_id: str,
    actor: str,
    address: str = "",
    now: datetime,
    of_account: str | None = None,
) -> AccessTokenRow:
    """Revoke a token (again is no error). OF_ACCOUNT, when given, is the only account whose token the actor may
    revoke: another's is refused as unknown, so nobody learns which token ids exist."""
    row = await tokens.get(token_id)
    if row is None or (of_account is not None and row.account_id != of_account):
        reason = "unknown" if row is None else "not_own"
        raise await refusal(
            audit, now, actor, "token.revoke", f"token:{token_id}"[:300], reason, address=address, code="unknown_token"
        )
    if row.revoked_at is None:
        row.revoked_at = now
        await tokens.save(row)
    await record(audit, now, actor, "token.revoke", f"token:{row.id}", address=address)
    return row


async def authenticate_token(accounts: Accounts, tokens: Tokens, *, token: str, now: datetime) -> Principal | None:
    """Who a bearer token speaks for, or None (unknown, revoked, or its account no longer active). The use is
    remembered to the minute (LAST_USE_PRECISION): most requests read the token and write nothing."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = await tokens.by_hash(token_hash(token))
    if row is None or row.revoked_at is not None:
        return None
    account = await accounts.get(row.account_id)
    if account is None or account.status == "disabled":
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USE_PRECISION:
        row.last_used_at = now
        await tokens.save(row)
    return principal(account)
