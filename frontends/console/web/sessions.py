"""The console's cookies: the signed session (which account, until when) and the CSRF double submit of its
forms. Both are scoped to /console and HttpOnly, SameSite=Lax, Secure outside development."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

from shared.links import LinkExpired, LinkInvalid, SecretKeys, sign, unsign

SESSION_COOKIE: Final = "werkplaatsen_console_session"
# Its own salt: a value signed for a link or a CSRF field can never pass for a session.
SESSION_SALT: Final = "werkplaatsen:console-session"
SESSION_LENGTH: Final = timedelta(hours=8)  # a working day; then the password (and code) again

CSRF_COOKIE: Final = "werkplaatsen_console_csrf"
CSRF_PURPOSE: Final = "console-csrf"
CSRF_MAX_AGE_SECONDS: Final = 24 * 3600
CSRF_COOKIE_VALUE: Final = re.compile(r"[A-Za-z0-9_-]{32,64}")
COOKIE_PATH: Final = "/console"


@dataclass(frozen=True)
class Session:
    account_id: str
    generation: int  # the account's session_generation when it signed in: a later one ends this session


@dataclass(frozen=True)
class Sessions:
    """A session is the account id, the account's session generation and the expiry, signed; nothing else is in
    it. The account is read again on every request (access.signed_in): a disabled account, or one whose generation
    has moved on (sign out everywhere, a new password), has no session any more."""

    secret: SecretKeys
    secure: bool

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt=SESSION_SALT)

    def session(self, request: Request, now: datetime) -> Session | None:
        value = request.cookies.get(SESSION_COOKIE)
        if not value:
            return None
        try:
            data = self._serializer().loads(value)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        account, expires, generation = data.get("account"), data.get("expires"), data.get("generation")
        # The expiry is in the signed value, not only the cookie's Max-Age: a copied cookie expires all the same.
        if not isinstance(account, str) or not isinstance(expires, int) or now.timestamp() >= expires:
            return None
        if not isinstance(generation, int):  # a cookie from before generations: signed in again, once
            return None
        return Session(account, generation)

    def account_id(self, request: Request, now: datetime) -> str | None:
        found = self.session(request, now)
        return found.account_id if found is not None else None

    def start(self, response: Response, account_id: str, now: datetime, *, generation: int) -> Response:
        """Set the session cookie; GENERATION is the account's session_generation now."""
        expires = int((now + SESSION_LENGTH).timestamp())
        value = self._serializer().dumps({"account": account_id, "expires": expires, "generation": generation})
        response.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=int(SESSION_LENGTH.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path=COOKIE_PATH,
        )
        return response

    def end(self, response: Response) -> Response:
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=self.secure)
        return response


@dataclass(frozen=True)
class Csrf:
    """Double submit: a random cookie and, in a hidden field, that value signed with the secret key. A form
    posted from another site has the cookie (SameSite=Lax lets top-level POSTs through on some browsers'
    defaults) but cannot read it to make the field."""

    secret: SecretKeys
    secure: bool

    def issue(self, request: Request) -> tuple[str, str | None]:
        """The hidden field's value, and a new cookie value when the browser has none yet."""
        cookie = request.cookies.get(CSRF_COOKIE, "")
        fresh = None
        if not CSRF_COOKIE_VALUE.fullmatch(cookie):
            cookie = fresh = secrets.token_urlsafe(32)
        return sign(self.secret, CSRF_PURPOSE, cookie), fresh

    def valid(self, request: Request, field_value: str) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        try:
            expected = unsign(self.secret, CSRF_PURPOSE, field_value, max_age_seconds=CSRF_MAX_AGE_SECONDS)
        except (LinkInvalid, LinkExpired):
            return False
        return bool(cookie) and hmac.compare_digest(expected.encode(), cookie.encode())

    def attach(self, response: Response, fresh: str | None) -> Response:
        if fresh:
            response.set_cookie(CSRF_COOKIE, fresh, httponly=True, samesite="lax", secure=self.secure, path=COOKIE_PATH)
        return response
