"""Signed links (status page, approval): one format, so the service that mails a link and the one that
serves it agree. Each purpose has its own salt, so a token for one purpose is worthless for another; each token
carries the one value (a registration id) it was made for and when it was made, so it can expire.

Key rotation: a secret may be a list of keys, oldest first (Settings.secret_keys: WERKPLAATSEN_SECRET_KEY_PREVIOUS,
then WERKPLAATSEN_SECRET_KEY). Tokens are signed with the last and checked against each, so links mailed before a
rotation keep opening until their own expiry, and stop once their key is dropped from the list."""

from __future__ import annotations

import math
from collections.abc import Sequence

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

# One key, or every key still accepted with the newest last.
SecretKeys = str | Sequence[str]


def newest(secret: SecretKeys) -> str:
    """The key new tokens and digests are made with."""
    return secret if isinstance(secret, str) else secret[-1]


def every(secret: SecretKeys) -> list[str]:
    """Every key a token may have been made with, newest first."""
    return [secret] if isinstance(secret, str) else list(reversed(secret))


class LinkInvalid(Exception):
    """Tampered with, or made for another purpose."""


class LinkExpired(Exception):
    """Genuine, but older than it may be."""


# How long a purpose's tokens stay good when the caller sets no age of its own. A trio's status link lives as long
# as the registration can matter: its edition's sessions and the retention time after them (then the data is
# erased and the page shows nothing anyway).
DEFAULT_MAX_AGE_SECONDS: dict[str, float] = {"status": 730 * 24 * 3600}


def sign(secret: SecretKeys, purpose: str, value: str) -> str:
    return _serializer(secret, purpose).dumps(value)


def unsign(secret: SecretKeys, purpose: str, token: str, max_age_seconds: float | None = None) -> str:
    """The value `token` was made for; LinkInvalid if it was not made with `secret` for `purpose`, LinkExpired
    if it is older than `max_age_seconds` (default: the purpose's DEFAULT_MAX_AGE_SECONDS, else no limit)."""
    if max_age_seconds is None:
        max_age_seconds = DEFAULT_MAX_AGE_SECONDS.get(purpose)
    try:
        # itsdangerous counts a token's age in whole seconds, so `age > floor(limit)` is exactly `age > limit`.
        max_age = None if max_age_seconds is None else math.floor(max_age_seconds)
        value = _serializer(secret, purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise LinkExpired(purpose) from exc
    except BadSignature as exc:
        raise LinkInvalid(purpose) from exc
    if not isinstance(value, str):
        raise LinkInvalid(purpose)
    return value


def status_path(secret: SecretKeys, registration_id: str) -> str:
    """Where a trio reads its status; the acknowledgement mail links here."""
    return f"/registrations/{registration_id}?token={sign(secret, 'status', registration_id)}"


def _serializer(secret: SecretKeys, purpose: str) -> URLSafeTimedSerializer:
    # itsdangerous takes a list of keys oldest first: it signs with the last and verifies with any.
    keys = secret if isinstance(secret, str) else list(secret)
    return URLSafeTimedSerializer(keys, salt=f"werkplaatsen:{purpose}")
