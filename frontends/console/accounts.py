"""What can be done with accounts: invite, accept an invitation, sign in, end all sessions, disable (personal
access tokens: tokens.py; password reset links: resets.py).

Plain async functions that take their repositories by argument (the caller owns the transaction: see
store.repositories) and the time as `now`. Every action appends one entry to the audit log, refusals included;
no entry carries a password, a TOTP code or a token. An entry about an account has the subject `account:<id>`
(`account:<address>` for an address no account has). A refusal raises domain.AccountRefused after its audit entry
and before any other change; store.repositories commits the transaction all the same, so the refusal is on record.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from shared.links import SecretKeys

from .domain import (
    ROLES,
    STATUSES,
    AccountRefused,
    Lockout,
    Principal,
    Role,
    SignInRefusal,
    Status,
    normalise_email,
    password_problem,
    requires_totp,
)
from .store.tables import AccountRow, AuditRow
from .totp import new_totp_secret as new_totp_secret  # the invitation page's, beside accept_invitation
from .totp import totp_step
from .totp import totp_uri as totp_uri

INVITE_SALT: Final = "console-invite"
INVITATION_VALID: Final = timedelta(days=7)
DEFAULT_HASHER: Final = PasswordHasher()  # argon2-cffi's defaults: Argon2id, RFC 9106's low-memory profile


class Accounts(Protocol):
    async def by_email(self, email: str) -> AccountRow | None: ...
    async def get(self, account_id: str) -> AccountRow | None: ...
    async def add(self, account: AccountRow) -> None: ...
    async def save(self, account: AccountRow) -> None: ...
    async def all(self) -> Sequence[AccountRow]: ...
    async def by_ids(self, account_ids: Collection[str]) -> Sequence[AccountRow]: ...
    async def claim_totp_step(self, account: AccountRow, step: int) -> bool: ...


class Audit(Protocol):
    async def append(self, entry: AuditRow) -> None: ...


async def record(
    audit: Audit,
    now: datetime,
    actor: str,
    action: str,
    subject: str = "",
    *,
    address: str = "",
    reason: str = "",
    outcome: Literal["accepted", "rejected", "pending"] = "accepted",
) -> None:
    await audit.append(
        AuditRow(at=now, actor=actor, action=action, subject=subject, address=address, outcome=outcome, reason=reason)
    )


async def refusal(
    audit: Audit,
    now: datetime,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    *,
    address: str = "",
    code: str = "",
) -> AccountRefused:
    """Put the refusal of ACTION on record (REASON in the log) and return the AccountRefused to raise: CODE, or
    REASON when the two are the same."""
    await record(audit, now, actor, action, subject, address=address, outcome="rejected", reason=reason)
    return AccountRefused(code or reason)


def principal(account: AccountRow) -> Principal:
    return Principal(account.id, _role(account.role), _status(account.status), frozenset(account.editions))


def subject_of(account: AccountRow | str) -> str:
    """The audit log's subject for an account (or for the address a refused action named)."""
    return f"account:{account.id if isinstance(account, AccountRow) else account}"


# Invitations ---------------------------------------------------------------------------------------------------


def link_serializer(secret_key: SecretKeys, now: datetime, salt: str = INVITE_SALT) -> URLSafeTimedSerializer:
    """Signs and reads the console's expiring links (each kind with its own SALT, so one never passes for another)
    at the handler's NOW."""
    stamp = int(now.timestamp())

    class At(TimestampSigner):
        # itsdangerous reads the clock itself; the handlers are given theirs.
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(secret_key, salt=salt, signer=At)


@dataclass(frozen=True)
class Invitation:
    account_id: str
    email: str
    token: str  # for the link /console/invitation/{token}
    expires_at: datetime


async def create_account(
    accounts: Accounts,
    audit: Audit,
    *,
    email: str,
    role: str,
    name: str = "",
    editions: Sequence[str] = (),
    actor: str,
    address: str = "",
    secret_key: SecretKeys,
    now: datetime,
) -> Invitation:
    """An invited account and the token of its invitation link (valid INVITATION_VALID, usable once)."""
    normalised = normalise_email(email)
    if role not in ROLES:
        raise await refusal(
            audit, now, actor, "account.create", subject_of(normalised), "unknown_role", address=address
        )
    if await accounts.by_email(normalised) is not None:
        raise await refusal(
            audit,
            now,
            actor,
            "account.create",
            subject_of(normalised),
            "exists",
            address=address,
            code="account_exists",
        )
    account = AccountRow(
        id=str(uuid.uuid4()),
        email=normalised,
        name=name.strip(),
        role=role,
        status="invited",
        failed_attempts=0,
        session_generation=0,
        editions=sorted(set(editions)),
        created_at=now,
    )
    await accounts.add(account)
    await record(audit, now, actor, "account.create", subject_of(account), address=address, reason=f"role={role}")
    token = link_serializer(secret_key, now).dumps({"account": account.id})
    return Invitation(account.id, normalised, token, now + INVITATION_VALID)


async def reissue_invitation(
    accounts: Accounts,
    audit: Audit,
    *,
    email: str,
    actor: str,
    secret_key: SecretKeys,
    now: datetime,
    address: str = "",
) -> Invitation | None:
    """A new invitation link for an account still invited (None when it has signed up since, or is unknown)."""
    account = await accounts.by_email(normalise_email(email))
    if account is None or account.status != "invited":
        return None
    await record(audit, now, actor, "account.reinvite", subject_of(account), address=address)
    token = link_serializer(secret_key, now).dumps({"account": account.id})
    return Invitation(account.id, account.email, token, now + INVITATION_VALID)


def invitation_account_id(token: str, *, secret_key: SecretKeys, now: datetime) -> str | None:
    """The account an invitation link is for while the link is genuine and unexpired, else None: what the
    invitation page needs before the invitee sets a password. Nothing is recorded: opening the page changes nothing
    (accept_invitation records the attempt)."""
    try:
        data = link_serializer(secret_key, now).loads(token, max_age=int(INVITATION_VALID.total_seconds()))
    except BadSignature:  # SignatureExpired included
        return None
    account = data.get("account") if isinstance(data, dict) else None
    return account if isinstance(account, str) else None


async def accept_invitation(
    accounts: Accounts,
    audit: Audit,
    *,
    token: str,
    password: str,
    totp_secret: str | None = None,
    totp_code: str | None = None,
    address: str = "",
    secret_key: SecretKeys,
    now: datetime,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> AccountRow:
    """Set the password (and the second factor: required for organisers, proven by a code from the app) and make
    the account active. The link then stops working: it only opens an invited account."""
    try:
        data = link_serializer(secret_key, now).loads(token, max_age=int(INVITATION_VALID.total_seconds()))
    except BadSignature as bad:  # SignatureExpired included
        expired = isinstance(bad, SignatureExpired)
        raise await refusal(
            audit,
            now,
            "unknown",
            "account.accept_invitation",
            "",
            "expired" if expired else "invalid",
            address=address,
            code="invitation_expired" if expired else "invitation_invalid",
        ) from None
    account = await accounts.get(str(data.get("account", ""))) if isinstance(data, dict) else None
    if account is None:
        raise await refusal(
            audit, now, "unknown", "account.accept_invitation", "", "unknown_account", code="invitation_invalid"
        )
    if account.status != "invited":
        raise await refusal(
            audit,
            now,
            account.id,
            "account.accept_invitation",
            subject_of(account),
            "not_invited",
            address=address,
            code="invitation_used",
        )
    problem = password_problem(password)
    if problem is None and requires_totp(_role(account.role)) and not totp_secret:
        problem = "totp_required"
    if problem is None and totp_secret and not (totp_code and totp_step(totp_secret, totp_code, now) is not None):
        problem = "bad_totp"
    if problem is not None:
        raise await refusal(
            audit, now, account.id, "account.accept_invitation", subject_of(account), problem, address=address
        )
    account.password_hash = hasher.hash(password)
    account.totp_secret = totp_secret or None
    account.status = "active"
    await accounts.save(account)
    await record(audit, now, account.id, "account.accept_invitation", subject_of(account), address=address)
    return account


# Sign-in -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: the account, or why not (and, when locked, until when)."""

    account: AccountRow | None = None
    refusal: SignInRefusal | None = None
    retry_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.account is not None


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when no account has the address, so an unknown address takes as long as a wrong password
    (made on first use: hashing costs time the command line should not spend at import)."""
    return hasher.hash(secrets.token_urlsafe(16))


async def verify_sign_in(
    accounts: Accounts,
    audit: Audit,
    *,
    email: str,
    password: str,
    totp_code: str | None = None,
    address: str = "",
    now: datetime,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> SignIn:
    """Check a password (and the TOTP code, where the account has a second factor). Failures count towards the
    lockout (domain.Lockout); while locked, nothing is checked. A missing code after a right password is no
    failure: it is how the page learns to ask for one. A code signs in once: one of the step that last signed in
    (or an earlier one) is refused as `totp_reused`, so a code seen over a shoulder or in a proxy is worth nothing.
    (Accepting the invitation proves a code but opens no session, so it uses up no step.)"""
    try:
        normalised = normalise_email(email)
    except ValueError:
        normalised = email.strip()[:320]
    account = await accounts.by_email(normalised)

    async def refuse(refusal: SignInRefusal, retry_at: datetime | None = None) -> SignIn:
        actor = account.id if account is not None else normalised
        await record(
            audit, now, actor, "account.sign_in", subject_of(actor), address=address, outcome="rejected", reason=refusal
        )
        return SignIn(refusal=refusal, retry_at=retry_at)

    if account is None:
        _password_ok(hasher, _dummy_hash(hasher), password)
        return await refuse("unknown_account")
    if account.status == "disabled":
        return await refuse("disabled")
    if account.status != "active" or account.password_hash is None:
        return await refuse("not_active")
    lockout = Lockout(account.failed_attempts, account.locked_until)
    if lockout.locked_at(now):
        return await refuse("locked", lockout.locked_until)

    async def fail(refusal: SignInRefusal) -> SignIn:
        after = lockout.after_failure(now)
        account.failed_attempts, account.locked_until = after.failed_attempts, after.locked_until
        await accounts.save(account)
        return await refuse(refusal, after.locked_until)

    if not _password_ok(hasher, account.password_hash, password):
        return await fail("bad_password")
    if requires_totp(_role(account.role)) and not account.totp_secret:
        return await refuse("totp_not_enrolled")
    if account.totp_secret:
        if not totp_code:
            return await refuse("totp_required")
        step = totp_step(account.totp_secret, totp_code, now)
        if step is None:
            return await fail("bad_totp")
        if not await accounts.claim_totp_step(account, step):
            return await fail("totp_reused")
    after = lockout.after_success()
    account.failed_attempts, account.locked_until = after.failed_attempts, after.locked_until
    if hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hasher.hash(password)
    await accounts.save(account)
    await record(audit, now, account.id, "account.sign_in", subject_of(account), address=address)
    return SignIn(account=account)


def _password_ok(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Ending sessions, disabling -------------------------------------------------------------------------------------


async def end_sessions(
    accounts: Accounts, audit: Audit, *, email: str, actor: str, address: str = "", now: datetime
) -> AccountRow:
    """Every session of the account ends at once, on every device (its next request finds the session's
    generation outdated). Its personal access tokens are not touched: they are revoked one by one."""
    account = await account_by_email(accounts, audit, email, "account.end_sessions", actor, address, now)
    account.session_generation += 1
    await accounts.save(account)
    await record(audit, now, actor, "account.end_sessions", subject_of(account), address=address)
    return account


async def disable_account(
    accounts: Accounts, audit: Audit, *, email: str, actor: str, address: str = "", now: datetime
) -> AccountRow:
    """The account can no longer sign in, its sessions end and its tokens no longer authenticate. Its audit
    entries stay. An account does not disable itself from the console: nobody could undo it there."""
    account = await account_by_email(accounts, audit, email, "account.disable", actor, address, now)
    if actor == account.id:
        raise await refusal(audit, now, actor, "account.disable", subject_of(account), "own_account", address=address)
    account.status = "disabled"
    account.session_generation += 1
    await accounts.save(account)
    await record(audit, now, actor, "account.disable", subject_of(account), address=address)
    return account


async def account_by_email(
    accounts: Accounts, audit: Audit, email: str, action: str, actor: str, address: str, now: datetime
) -> AccountRow:
    """The account at EMAIL; an unknown address is refused, with the refusal of ACTION on record."""
    normalised = normalise_email(email)
    account = await accounts.by_email(normalised)
    if account is None:
        raise await refusal(audit, now, actor, action, subject_of(normalised), "unknown_account", address=address)
    return account


def _role(value: str) -> Role:
    for role in ROLES:
        if role == value:
            return role
    raise ValueError(f"unknown role {value!r}")


def _status(value: str) -> Status:
    for status in STATUSES:
        if status == value:
            return status
    raise ValueError(f"unknown status {value!r}")
