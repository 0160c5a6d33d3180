"""CSRF protection of the forms that act on a participant's behalf: double submit, a random HttpOnly, SameSite=Lax
cookie and, in a hidden field, that value signed with the secret key."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from shared.links import LinkExpired, LinkInvalid, SecretKeys, sign, unsign

CSRF_COOKIE = "werkplaatsen_csrf"
CSRF_MAX_AGE_SECONDS = 24 * 3600  # a form left open overnight is shown again, with its values, to resubmit
CSRF_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{32,64}")


@dataclass(frozen=True)
class Csrf:
    secret: SecretKeys
    secure_cookie: bool

    def issue(self, request: Request) -> tuple[str, str | None]:
        """The hidden field's value, and a new cookie value when the browser has none yet."""
        cookie = request.cookies.get(CSRF_COOKIE, "")
        fresh = None
        if not CSRF_COOKIE_VALUE.fullmatch(cookie):
            cookie = fresh = secrets.token_urlsafe(32)
        return sign(self.secret, "csrf", cookie), fresh

    def valid(self, request: Request, field_value: str) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        try:
            expected = unsign(self.secret, "csrf", field_value, max_age_seconds=CSRF_MAX_AGE_SECONDS)
        except (LinkInvalid, LinkExpired):
            return False
        return bool(cookie) and hmac.compare_digest(expected.encode(), cookie.encode())

    def attach(self, response: Response, fresh: str | None) -> Response:
        if fresh:
            response.set_cookie(CSRF_COOKIE, fresh, httponly=True, samesite="lax", secure=self.secure_cookie, path="/")
        return response
