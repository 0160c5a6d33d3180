"""The console's rules, free of I/O: roles and what each may do, account status, sign-in lockout with back-off,
the second factor the organiser role requires, and how an email address identifies an account."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, get_args

Role = Literal["organiser", "facilitator", "viewer"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)

# invited: created, the invitation not yet accepted (no password); active: may sign in; disabled: may do nothing,
# its tokens included. An account is disabled rather than deleted: the audit log keeps naming it.
Status = Literal["invited", "active", "disabled"]
STATUSES: Final[tuple[Status, ...]] = get_args(Status)

Action = Literal[
    "read",
    "editions.write",
    "registrations.write",
    "attendance.record",
    "notes.write",
    "reports.publish",
    "mail.send",
    "invoices.write",
    "accounts.manage",
    "audit.read",
]
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)

PERMISSIONS: Final[Mapping[Role, frozenset[Action]]] = {
    "organiser": frozenset(ACTIONS),
    "facilitator": frozenset({"read", "attendance.record", "notes.write"}),
    "viewer": frozenset({"read"}),
}

# A facilitator acts only within the editions assigned to them (Principal.editions): each of their actions names
# an edition, and one outside the assignment is refused like an action their role lacks.
EDITION_SCOPED_ROLES: Final[frozenset[Role]] = frozenset({"facilitator"})


@dataclass(frozen=True)
class Principal:
    """Who is asking: what a signed-in account or a personal access token carries into a permission check."""

    account_id: str
    role: Role
    status: Status
    editions: frozenset[str] = frozenset()


def may(principal: Principal, action: Action, edition: str | None = None) -> bool:
    """Whether PRINCIPAL may do ACTION, on EDITION where the action concerns one."""
    if principal.status != "active" or action not in PERMISSIONS[principal.role]:
        return False
    if principal.role in EDITION_SCOPED_ROLES:
        return edition is not None and edition in principal.editions
    return True


def requires_totp(role: Role) -> bool:
    """The organiser role can do everything, erasing registrations included: a password alone is not enough."""
    return role == "organiser"


class AccountRefused(Exception):
    """An account action that cannot be done; `code` is stable (for the pages' Dutch texts and the audit log).
    Raised after the refusal's audit entry and before any other change: the store commits that entry all the same
    (store.repositories)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class InvalidEmail(ValueError):
    """The text is not an email address an account can be known by."""


def normalise_email(email: str) -> str:
    """The form an account's address is stored and looked up in: trimmed and case-folded, so `Ann@X.nl ` and
    `ann@x.nl` are one account (mail providers treat the local part case-insensitively in practice)."""
    address = email.strip().casefold()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        raise InvalidEmail(email)
    if any(c.isspace() for c in address) or "@" in local or len(address) > 320:
        raise InvalidEmail(email)
    return address


# Lockout: the first LOCKOUT_THRESHOLD failures in a row cost nothing (typos), each one after that locks the
# account for twice as long as the one before, from FIRST_LOCKOUT up to LONGEST_LOCKOUT. A success resets the count.
LOCKOUT_THRESHOLD: Final = 5
FIRST_LOCKOUT: Final = timedelta(minutes=1)
LONGEST_LOCKOUT: Final = timedelta(hours=1)


def lockout_for(failures: int) -> timedelta | None:
    """How long the account stays locked after its FAILURES-th failure in a row (None: not locked)."""
    if failures < LOCKOUT_THRESHOLD:
        return None
    doublings = failures - LOCKOUT_THRESHOLD
    # FIRST_LOCKOUT * 2**6 already exceeds the cap: no need to compute larger powers.
    return min(FIRST_LOCKOUT * (1 << min(doublings, 16)), LONGEST_LOCKOUT)


@dataclass(frozen=True)
class Lockout:
    failed_attempts: int = 0
    locked_until: datetime | None = None

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def after_failure(self, now: datetime) -> Lockout:
        failures = self.failed_attempts + 1
        delay = lockout_for(failures)
        return Lockout(failures, now + delay if delay is not None else None)

    def after_success(self) -> Lockout:
        return Lockout()


MIN_PASSWORD_LENGTH: Final = 12


def password_problem(password: str) -> str | None:
    """Why PASSWORD may not be set (a stable code), or None. Length is what makes a password strong; no rules on
    character classes (NIST SP 800-63B)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return "password_too_short"
    if len(password) > 1024:
        return "password_too_long"
    return None


# Why a sign-in was refused: stable codes, kept in the audit log and turned into Dutch texts by the pages.
SignInRefusal = Literal[
    "unknown_account",
    "not_active",
    "disabled",
    "locked",
    "bad_password",
    "totp_required",
    "totp_not_enrolled",
    "bad_totp",
    "totp_reused",
]
