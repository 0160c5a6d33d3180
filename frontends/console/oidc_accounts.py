"""Signing in with OpenID Connect: which console account the claims of a verified ID token name, and the audit entry
of every attempt (web/oidc.py verifies the token first: signature, issuer, audience, expiry and nonce).

An identity provider never creates an account: an organiser creates it with its role first (invitation), and the
provider only proves that the person holds its address. So the account is found by the `email` claim, normalised
like every address (domain.normalise_email); a provider that says the address is unverified is not believed. An
invited account becomes active on its first sign-in this way (its invitation link then stops working, as after a
password was set). Whatever second factor the account would need for a password (TOTP for organisers) is the
identity provider's to enforce: its `amr` claim, when it sends one, is kept in the audit entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from .accounts import Accounts, Audit, record
from .domain import InvalidEmail, normalise_email
from .store.tables import AccountRow

SIGN_IN_OIDC: Final = "account.sign_in_oidc"

# Why an OpenID Connect sign-in was refused: stable codes for the audit log and the page's Dutch texts. The first
# five are about the flow and the provider's answer (web/oidc.py), the rest about the account the claims name.
OidcRefusal = Literal[
    "state_invalid",  # no, an expired or a forged flow cookie, or a state that is not its own
    "provider_error",  # the provider sent the browser back with an error (the user cancelled, say)
    "provider_unreachable",  # its discovery document could not be read
    "token_failed",  # the code could not be exchanged for tokens
    "id_token_invalid",  # the ID token is missing or fails verification
    "no_email",
    "email_unverified",
    "unknown_account",
    "disabled",
]


@dataclass(frozen=True)
class OidcSignIn:
    """The outcome: the account signed in, or why not; `email` is the address the claims named, if any."""

    account: AccountRow | None = None
    refusal: OidcRefusal | None = None
    email: str = ""


async def refuse_oidc(
    audit: Audit, now: datetime, refusal: OidcRefusal, *, actor: str = "unknown", address: str = "", email: str = ""
) -> OidcSignIn:
    """The refusal on record (no token, code or secret in it) and as an outcome."""
    await record(audit, now, actor, SIGN_IN_OIDC, actor, address=address, outcome="rejected", reason=refusal)
    return OidcSignIn(refusal=refusal, email=email)


async def sign_in_with_oidc(
    accounts: Accounts, audit: Audit, *, claims: Mapping[str, object], address: str = "", now: datetime
) -> OidcSignIn:
    """The account the verified CLAIMS name, made active when it was invited; refused when the claims carry no
    verified address or no account that may sign in has it."""
    subject = claims.get("sub")
    # Without an address the provider's subject id is all there is to tell who tried.
    anonymous = f"oidc:{subject}"[:320] if isinstance(subject, str) else "unknown"
    raw = claims.get("email")
    try:
        email = normalise_email(raw) if isinstance(raw, str) else None
    except InvalidEmail:
        email = None
    if email is None:
        return await refuse_oidc(audit, now, "no_email", actor=anonymous, address=address)
    # Providers that know whether the address was verified say so; one that does not say (Entra ID) vouches for
    # the addresses of its own directory.
    if "email_verified" in claims and claims["email_verified"] is not True:
        return await refuse_oidc(audit, now, "email_unverified", actor=email, address=address, email=email)
    account = await accounts.by_email(email)
    if account is None:
        return await refuse_oidc(audit, now, "unknown_account", actor=email, address=address, email=email)
    if account.status == "disabled":
        return await refuse_oidc(audit, now, "disabled", actor=account.id, address=address, email=email)
    notes = []
    if account.status == "invited":
        account.status = "active"
        await accounts.save(account)
        notes.append("activated")
    methods = claims.get("amr")
    if isinstance(methods, list) and all(isinstance(m, str) for m in methods):
        notes.append("amr=" + " ".join(methods))
    await record(audit, now, account.id, SIGN_IN_OIDC, account.id, address=address, reason="; ".join(notes)[:300])
    return OidcSignIn(account=account, email=email)
