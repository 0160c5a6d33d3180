"""Password reset links: an organiser (or an operator, `werkplaatsen accounts reset EMAIL`) issues one for an
active account; the link is signed, expires after RESET_VALID and sets a password once; the TOTP secret stays.

A link names the password it replaces (an HMAC of its hash), so it stops working as soon as any new password is
set, by this link or another: single use without a table of used links. Setting a password ends every session of
the account and lifts a lockout. The console cannot mail the link yet: the page and the command show it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from argon2 import PasswordHasher
from itsdangerous import BadSignature, SignatureExpired

from shared.links import SecretKeys, every, newest

from .accounts import DEFAULT_HASHER, Accounts, Audit, account_by_email, link_serializer, record, refusal, subject_of
from .domain import password_problem
from .store.tables import AccountRow

RESET_SALT: Final = "console-password-reset"
RESET_VALID: Final = timedelta(hours=24)


@dataclass(frozen=True)
class ResetLink:
    account_id: str
    email: str
    token: str  # for the link /console/reset/{token}
    expires_at: datetime


def _replaces(account: AccountRow, secret_key: str) -> str:
    # Keyed: the link is readable (signed, not encrypted), and even a digest of the hash is nobody's business.
    digest = hmac.new(secret_key.encode(), (account.password_hash or "").encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


async def issue_password_reset(
    accounts: Accounts,
    audit: Audit,
    *,
    email: str,
    actor: str,
    address: str = "",
    secret_key: SecretKeys,
    now: datetime,
) -> ResetLink:
    """A reset link for the active account at EMAIL. An invited account gets a new invitation instead
    (accounts.reissue_invitation); a disabled one nothing."""
    account = await account_by_email(accounts, audit, email, "account.issue_reset", actor, address, now)
    if account.status != "active" or account.password_hash is None:
        reason = "disabled" if account.status == "disabled" else "no_password"
        raise await refusal(audit, now, actor, "account.issue_reset", subject_of(account), reason, address=address)
    token = link_serializer(secret_key, now, RESET_SALT).dumps(
        {"account": account.id, "replaces": _replaces(account, newest(secret_key))}
    )
    await record(audit, now, actor, "account.issue_reset", subject_of(account), address=address)
    return ResetLink(account.id, account.email, token, now + RESET_VALID)


async def _opens(
    accounts: Accounts, token: str, secret_key: SecretKeys, now: datetime
) -> tuple[AccountRow | None, str]:
    """The account the link opens, or None and why not (a refusal code)."""
    try:
        data = link_serializer(secret_key, now, RESET_SALT).loads(token, max_age=int(RESET_VALID.total_seconds()))
    except SignatureExpired:
        return None, "reset_expired"
    except BadSignature:
        return None, "reset_invalid"
    if not isinstance(data, dict) or not isinstance(data.get("account"), str):
        return None, "reset_invalid"
    account = await accounts.get(data["account"])
    if account is None or account.status != "active":
        return None, "reset_invalid"
    given = str(data.get("replaces", ""))
    # Made with whichever key signed the link: a link from before a key rotation still works.
    if not any(hmac.compare_digest(given, _replaces(account, key)) for key in every(secret_key)):
        return None, "reset_used"
    return account, ""


async def reset_link_account(
    accounts: Accounts, *, token: str, secret_key: SecretKeys, now: datetime
) -> AccountRow | str:
    """What the reset page shows before a password is chosen: the account, or the refusal code. Nothing is
    recorded: opening the page changes nothing (reset_password records the attempt)."""
    account, why = await _opens(accounts, token, secret_key, now)
    return account if account is not None else why


async def reset_password(
    accounts: Accounts,
    audit: Audit,
    *,
    token: str,
    password: str,
    address: str = "",
    secret_key: SecretKeys,
    now: datetime,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> AccountRow:
    account, why = await _opens(accounts, token, secret_key, now)
    if account is None:
        raise await refusal(audit, now, "unknown", "account.reset_password", "", why, address=address)
    problem = password_problem(password)
    if problem is not None:
        raise await refusal(
            audit, now, account.id, "account.reset_password", subject_of(account), problem, address=address
        )
    account.password_hash = hasher.hash(password)
    account.failed_attempts, account.locked_until = 0, None
    account.session_generation += 1
    await accounts.save(account)
    await record(audit, now, account.id, "account.reset_password", subject_of(account), address=address)
    return account
