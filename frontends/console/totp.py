"""The second factor: TOTP secrets for an authenticator app (RFC 6238, via pyotp) and which time step a code is
of, so a code that signed in once is refused the second time (accounts.verify_sign_in)."""

from __future__ import annotations

from datetime import datetime

import pyotp


def new_totp_secret() -> str:
    """A secret for the authenticator app (the page shows it as a QR code of totp_uri)."""
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Werkplaatsen")


def totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step CODE belongs to, or None when it is no code of this moment. One step either side: a phone's
    clock a little off, or a code typed as it changes."""
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(code.strip().replace(" ", ""), for_time=now, valid_window=1)
    except pyotp.OTPVerificationError:
        return None
