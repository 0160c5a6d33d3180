"""Approval links: a signed, expiring token that is good for approving one registration and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.links import LinkExpired, LinkInvalid, SecretKeys, sign, unsign
from shared.messaging.messages import CommandRefused, refuse

PURPOSE = "approve"
# A token is ~100 characters; anything far longer is not one of ours and is not worth verifying.
MAX_TOKEN_LENGTH = 500


@dataclass(frozen=True)
class ApprovalLinks:
    secret: SecretKeys
    public_url: str
    validity: timedelta

    def issue(self, registration_id: str, now: datetime) -> tuple[str, datetime]:
        """The approve_url to mail and when it expires."""
        token = sign(self.secret, PURPOSE, registration_id)
        return f"{self.public_url.rstrip('/')}/approve/{token}", now + self.validity

    def check(self, token: str, registration_id: str) -> bool:
        """Raise `invalid_token` unless `token` is ours, for approving `registration_id`; True if it is too old.

        Expiry is reported separately so a decided registration can answer `already_decided` first.
        """
        if len(token) > MAX_TOKEN_LENGTH:
            raise invalid_token()
        try:
            value = unsign(self.secret, PURPOSE, token, max_age_seconds=self.validity.total_seconds())
            expired = False
        except LinkExpired:
            value = unsign(self.secret, PURPOSE, token)
            expired = True
        except LinkInvalid:
            raise invalid_token() from None
        if value != registration_id:
            raise invalid_token()
        return expired


def invalid_token() -> CommandRefused:
    return refuse(
        "token",
        "invalid_token",
        "Deze goedkeuringslink is ongeldig. Gebruik de link uit de e-mail precies zoals die is "
        "verstuurd, of vraag de organisatie om een nieuwe.",
    )


def token_expired() -> CommandRefused:
    return refuse(
        "token", "token_expired", "Deze goedkeuringslink is verlopen. Vraag de organisatie om een nieuwe link."
    )


def token_required() -> CommandRefused:
    return refuse(
        "token",
        "token_required",
        "Er is geen goedkeuringslink meegegeven: alleen de goedkeurder (met de link uit de e-mail) "
        "of de organisatie kan over deze aanmelding beslissen.",
    )


INVOICE_PURPOSE = "invoice"


@dataclass(frozen=True)
class InvoiceLinks:
    """Links to an invoice's or credit note's documents for the trio: signed (purpose `invoice`) for that one number.

    They do not expire: an invoice stays the trio's document for as long as it is kept.
    """

    secret: SecretKeys
    public_url: str

    def url(self, number: str, kind: str, *, credit_note: bool = False) -> str:
        """`kind`: `pdf` or `xml`."""
        folder = "credit-notes" if credit_note else "invoices"
        return (
            f"{self.public_url.rstrip('/')}/{folder}/{number}.{kind}?token={sign(self.secret, INVOICE_PURPOSE, number)}"
        )

    def allows(self, token: str, number: str) -> bool:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return False
        try:
            return unsign(self.secret, INVOICE_PURPOSE, token) == number
        except (LinkInvalid, LinkExpired):
            return False
