"""What can be done with accounts: invite, accept an invitation, sign in, disable (personal access tokens:
tokens.py).

Plain async functions that take their repositories by argument (the caller owns the transaction: see
store.repositories) and the time as `now`. Every action appends one entry to the audit log, refusals included;
no entry carries a password, a TOTP code or a token. A refusal raises domain.AccountRefused after its audit entry
and before any other change; store.repositories commits the transaction all the same, so the refusal is on record.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, Protocol

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

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

INVITE_SALT: Final = "console-invite"
INVITATION_VALID: Final = timedelta(days=7)
DEFAULT_HASHER: Final = PasswordHasher()  # argon2-cffi's defaults: Argon2id, RFC 9106's low-memory profile


class Accounts(Protocol):
    async def by_email(self, email: str) -> AccountRow | None: ...
    async def get(self, account_id: str) -> AccountRow | None: ...
    async def add(self, account: AccountRow) -> None: ...
    async def save(self, account: AccountRow) -> None: ...
    async def all(self) -> Sequence[AccountRow]: ...


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


def principal(account: AccountRow) -> Principal:
    return Principal(account.id, _role(account.role), _status(account.status), frozenset(account.editions))


# Invitations ---------------------------------------------------------------------------------------------------


def _serializer(secret_key: str, now: datetime) -> URLSafeTimedSerializer:
    stamp = int(now.timestamp())

    class At(TimestampSigner):
        # itsdangerous reads the clock itself; the handlers are given theirs.
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(secret_key, salt=INVITE_SALT, signer=At)


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
    secret_key: str,
    now: datetime,
) -> Invitation:
    """An invited account and the token of its invitation link (valid INVITATION_VALID, usable once)."""
    normalised = normalise_email(email)
    if role not in ROLES:
        await record(
            audit, now, actor, "account.create", normalised, address=address, outcome="rejected", reason="unknown_role"
        )
        raise AccountRefused("unknown_role")
    if await accounts.by_email(normalised) is not None:
        await record(
            audit, now, actor, "account.create", normalised, address=address, outcome="rejected", reason="exists"
        )
        raise AccountRefused("account_exists")
    account = AccountRow(
        id=str(uuid.uuid4()),
        email=normalised,
        name=name.strip(),
        role=role,
        status="invited",
        failed_attempts=0,
        editions=sorted(set(editions)),
        created_at=now,
    )
    await accounts.add(account)
    await record(audit, now, actor, "account.create", account.id, address=address, reason=f"role={role}")
    token = _serializer(secret_key, now).dumps({"account": account.id})
    return Invitation(account.id, normalised, token, now + INVITATION_VALID)


async def reissue_invitation(
    accounts: Accounts, audit: Audit, *, email: str, actor: str, secret_key: str, now: datetime
) -> Invitation | None:
    """A new invitation link for an account still invited (None when it has signed up since, or is unknown)."""
    account = await accounts.by_email(normalise_email(email))
    if account is None or account.status != "invited":
        return None
    await record(audit, now, actor, "account.reinvite", account.id)
    token = _serializer(secret_key, now).dumps({"account": account.id})
    return Invitation(account.id, account.email, token, now + INVITATION_VALID)


def invitation_account_id(token: str, *, secret_key: str, now: datetime) -> str | None:
    """The account an invitation link is for while the link is genuine and unexpired, else None: what the
    invitation page needs before the invitee sets a password. Nothing is recorded: opening the page changes nothing
    (accept_invitation records the attempt)."""
    try:
        data = _serializer(secret_key, now).loads(token, max_age=int(INVITATION_VALID.total_seconds()))
    except BadSignature:  # SignatureExpired included
        return None
    account = data.get("account") if isinstance(data, dict) else None
    return account if isinstance(account, str) else None


def new_totp_secret() -> str:
    """A secret for the authenticator app (the page shows it as a QR code of totp_uri)."""
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Werkplaatsen")


def _totp_ok(secret: str, code: str, now: datetime) -> bool:
    # One step either side: a phone's clock a little off, or a code typed as it changes.
    return pyotp.TOTP(secret).verify(code.strip(), for_time=now, valid_window=1)


async def accept_invitation(
    accounts: Accounts,
    audit: Audit,
    *,
    token: str,
    password: str,
    totp_secret: str | None = None,
    totp_code: str | None = None,
    address: str = "",
    secret_key: str,
    now: datetime,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> AccountRow:
    """Set the password (and the second factor: required for organisers, proven by a code from the app) and make
    the account active. The link then stops working: it only opens an invited account."""
    try:
        data = _serializer(secret_key, now).loads(token, max_age=int(INVITATION_VALID.total_seconds()))
    except SignatureExpired:
        await record(
            audit, now, "unknown", "account.accept_invitation", address=address, outcome="rejected", reason="expired"
        )
        raise AccountRefused("invitation_expired") from None
    except BadSignature:
        await record(
            audit, now, "unknown", "account.accept_invitation", address=address, outcome="rejected", reason="invalid"
        )
        raise AccountRefused("invitation_invalid") from None
    account = await accounts.get(str(data.get("account", ""))) if isinstance(data, dict) else None
    if account is None or account.status != "invited":
        reason = "not_invited" if account is not None else "unknown_account"
        actor = account.id if account is not None else "unknown"
        await record(
            audit, now, actor, "account.accept_invitation", actor, address=address, outcome="rejected", reason=reason
        )
        raise AccountRefused("invitation_used" if account is not None else "invitation_invalid")
    problem = password_problem(password)
    if problem is None and requires_totp(_role(account.role)) and not totp_secret:
        problem = "totp_required"
    if problem is None and totp_secret and not (totp_code and _totp_ok(totp_secret, totp_code, now)):
        problem = "bad_totp"
    if problem is not None:
        await record(
            audit,
            now,
            account.id,
            "account.accept_invitation",
            account.id,
            address=address,
            outcome="rejected",
            reason=problem,
        )
        raise AccountRefused(problem)
    account.password_hash = hasher.hash(password)
    account.totp_secret = totp_secret or None
    account.status = "active"
    await accounts.save(account)
    await record(audit, now, account.id, "account.accept_invitation", account.id, address=address)
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
    failure: it is how the page learns to ask for one."""
    try:
        normalised = normalise_email(email)
    except ValueError:
        normalised = email.strip()[:320]
    account = await accounts.by_email(normalised)

    async def refuse(refusal: SignInRefusal, retry_at: datetime | None = None) -> SignIn:
        actor = account.id if account is not None else normalised
        await record(audit, now, actor, "account.sign_in", actor, address=address, outcome="rejected", reason=refusal)
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
        if not _totp_ok(account.totp_secret, totp_code, now):
            return await fail("bad_totp")
    after = lockout.after_success()
    account.failed_attempts, account.locked_until = after.failed_attempts, after.locked_until
    if hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hasher.hash(password)
    await accounts.save(account)
    await record(audit, now, account.id, "account.sign_in", account.id, address=address)
    return SignIn(account=account)


def _password_ok(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Disabling -----------------------------------------------------------------------------------------------------


async def disable_account(
    accounts: Accounts, audit: Audit, *, email: str, actor: str, address: str = "", now: datetime
) -> AccountRow:
    """The account can no longer sign in, and its tokens no longer authenticate. Its audit entries stay."""
    account = await account_by_email(accounts, audit, email, "account.disable", actor, address, now)
    account.status = "disabled"
    await accounts.save(account)
    await record(audit, now, actor, "account.disable", account.id, address=address)
    return account


async def account_by_email(
    accounts: Accounts, audit: Audit, email: str, action: str, actor: str, address: str, now: datetime
) -> AccountRow:
    """The account at EMAIL; an unknown address is refused, with the refusal of ACTION on record."""
    normalised = normalise_email(email)
    account = await accounts.by_email(normalised)
    if account is None:
        await record(
            audit, now, actor, action, normalised, address=address, outcome="rejected", reason="unknown_account"
        )
        raise AccountRefused("unknown_account")
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
