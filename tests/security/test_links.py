"""Signed links: each token is good for one purpose and one registration, made with this deployment's key, and
expires. Complements tests/unit/test_registration_web.py (wrong, tampered and foreign tokens on the pages, the
expired approval link, a second use of an approval link), with what those do not cover."""

from __future__ import annotations

import base64
import itertools
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from itsdangerous import TimestampSigner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from services.registration import consumes
from services.registration.tokens import ApprovalLinks
from services.registration.web import web_routes
from shared.db import utcnow
from shared.links import DEFAULT_MAX_AGE_SECONDS, LinkExpired, LinkInvalid, sign, unsign
from shared.messaging.messages import CommandRefused
from shared.settings import Settings
from tests.unit.test_registration_web import MUNICIPALITIES, SECRET, open_site, register, sqlite_url

# Every purpose the services sign for.
PURPOSES = ("status", "approve", "csrf", "registration-form", "cancel-form", "session", "invoice")


@pytest.mark.parametrize(("made_for", "used_for"), list(itertools.permutations(PURPOSES, 2)))
def test_a_token_made_for_one_purpose_is_worthless_for_every_other(made_for: str, used_for: str) -> None:
    token = sign(SECRET, made_for, "3f1c9a52-0000-4000-8000-000000000001")
    with pytest.raises(LinkInvalid):
        unsign(SECRET, used_for, token)


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = sign("the-key-of-another-deployment", "approve", "r-1")
    with pytest.raises(LinkInvalid):
        unsign(SECRET, "approve", token)


def test_swapping_the_registration_inside_a_genuine_token_breaks_its_signature() -> None:
    token = sign(SECRET, "approve", "registration-a")
    payload, rest = token.split(".", 1)
    forged_payload = base64.urlsafe_b64encode(b'"registration-b"').rstrip(b"=").decode()
    assert forged_payload != payload
    with pytest.raises(LinkInvalid):
        unsign(SECRET, "approve", f"{forged_payload}.{rest}")


def test_an_approval_token_decides_only_the_registration_it_was_made_for() -> None:
    links = ApprovalLinks(SECRET, "https://wp.example.nl", validity=timedelta(days=14))
    url, _ = links.issue("registration-a", utcnow())
    token = url.rsplit("/", 1)[1]
    assert links.check(token, "registration-a") is False
    with pytest.raises(CommandRefused) as refused:
        links.check(token, "registration-b")
    assert refused.value.errors[0].code == "invalid_token"


def made_days_ago(monkeypatch: pytest.MonkeyPatch, days: float, purpose: str, value: str) -> str:
    with monkeypatch.context() as patched:
        then = int(time.time() - days * 86400)
        patched.setattr(TimestampSigner, "get_timestamp", lambda self: then)
        return sign(SECRET, purpose, value)


def test_a_status_link_expires_after_two_years(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DEFAULT_MAX_AGE_SECONDS["status"] == 730 * 86400
    assert unsign(SECRET, "status", made_days_ago(monkeypatch, 700, "status", "r-1")) == "r-1"
    with pytest.raises(LinkExpired):
        unsign(SECRET, "status", made_days_ago(monkeypatch, 731, "status", "r-1"))


def test_an_explicit_age_overrides_the_purposes_default(monkeypatch: pytest.MonkeyPatch) -> None:
    token = made_days_ago(monkeypatch, 2, "csrf", "cookie")
    with pytest.raises(LinkExpired):
        unsign(SECRET, "csrf", token, max_age_seconds=86400)


async def test_the_status_page_of_an_expired_link_shows_nothing_of_the_trio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = await open_site(sqlite_url(tmp_path))
    try:
        link, registration_id = await register(site)
        assert (await site.client.get(link)).status_code == 200
        old = made_days_ago(monkeypatch, 731, "status", registration_id)
        page = await site.client.get(f"/registrations/{registration_id}", params={"token": old})
        assert page.status_code == 404 and "Veenendaal" not in page.text
        cancel = await site.client.get(f"/registrations/{registration_id}/cancel", params={"token": old})
        assert cancel.status_code == 404
    finally:
        await site.close()


async def test_a_status_link_is_bound_to_its_registration_and_not_to_another(tmp_path: Path) -> None:
    site = await open_site(sqlite_url(tmp_path))
    try:
        link_a, _ = await register(site)
        _, b = await register(site)  # another trio (each gets its own addresses)
        token_a = parse_qs(urlsplit(link_a).query)["token"][0]
        assert (await site.client.get(f"/registrations/{b}", params={"token": token_a})).status_code == 404
        assert (await site.client.get(f"/registrations/{b}?token={token_a}")).status_code == 404
    finally:
        await site.close()


# Rotating WERKPLAATSEN_SECRET_KEY: the replaced key moves to WERKPLAATSEN_SECRET_KEY_PREVIOUS.

OLD_KEY = "old-key-Tq3vJ9x2kLm8RtZpW5nYcB7dHf1sUoEa"
NEW_KEY = "new-key-pV8hK2wZr5NxYb1TqLm9CfJd3sGa7UoE"


def rotated(previous: str = OLD_KEY) -> Settings:
    return Settings(werkplaatsen_secret_key=NEW_KEY, werkplaatsen_secret_key_previous=previous)


def test_after_rotation_new_links_are_signed_with_the_new_key_and_old_ones_still_open() -> None:
    keys = rotated().secret_keys
    assert keys == [OLD_KEY, NEW_KEY]
    old = sign(OLD_KEY, "approve", "r-1")
    assert unsign(keys, "approve", old) == "r-1"
    assert unsign(NEW_KEY, "approve", sign(keys, "approve", "r-2")) == "r-2"  # signed with the newest


def test_a_link_signed_with_a_key_dropped_from_the_previous_keys_no_longer_opens() -> None:
    old = sign(OLD_KEY, "status", "r-1")
    with pytest.raises(LinkInvalid):
        unsign(rotated(previous="").secret_keys, "status", old)
    older = sign("oldest-key-zzzzzzzzzzzzzzzzzzzzzzzzzzzz", "status", "r-1")
    with pytest.raises(LinkInvalid):
        unsign(rotated(previous=OLD_KEY).secret_keys, "status", older)


def test_an_old_link_still_expires_after_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patched:
        then = int(time.time() - 731 * 86400)
        patched.setattr(TimestampSigner, "get_timestamp", lambda self: then)
        old = sign(OLD_KEY, "status", "r-1")
    with pytest.raises(LinkExpired):
        unsign(rotated().secret_keys, "status", old)


async def test_a_mailed_status_link_still_opens_its_page_after_the_key_is_rotated(tmp_path: Path) -> None:
    site = await open_site(sqlite_url(tmp_path))  # signs with SECRET, the key before the rotation
    try:
        link, _ = await register(site)

        async def opened(settings: Settings) -> int:
            routes = web_routes(site.store, consumes.consumers(site.store, MUNICIPALITIES), MUNICIPALITIES, settings)
            transport = httpx.ASGITransport(app=Starlette(routes=routes))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                return (await http.get(link)).status_code

        kept = Settings(werkplaatsen_secret_key=NEW_KEY, werkplaatsen_secret_key_previous=SECRET)
        dropped = Settings(werkplaatsen_secret_key=NEW_KEY)
        assert await opened(kept) == 200
        assert await opened(dropped) == 404
    finally:
        await site.close()


async def test_a_console_invitation_and_reset_link_survive_rotation_until_their_key_is_dropped(tmp_path: Path) -> None:
    from frontends.console import accounts, resets
    from frontends.console.store import open_store, repositories

    db = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'console.sqlite3'}")
    now = utcnow()
    try:
        async with repositories(db) as r:
            invited = await accounts.create_account(
                r.accounts, r.audit, email="ann@zwolle.nl", role="viewer", actor="t", secret_key=OLD_KEY, now=now
            )
        kept, dropped = rotated().secret_keys, rotated(previous="").secret_keys
        assert accounts.invitation_account_id(invited.token, secret_key=kept, now=now) == invited.account_id
        assert accounts.invitation_account_id(invited.token, secret_key=dropped, now=now) is None
        async with repositories(db) as r:
            await accounts.accept_invitation(
                r.accounts, r.audit, token=invited.token, password="een lang wachtwoord", secret_key=kept, now=now
            )
        async with repositories(db) as r:
            reset = await resets.issue_password_reset(
                r.accounts, r.audit, email="ann@zwolle.nl", actor="t", secret_key=OLD_KEY, now=now
            )
        async with repositories(db) as r:
            opened = await resets.reset_link_account(r.accounts, token=reset.token, secret_key=kept, now=now)
            refused = await resets.reset_link_account(r.accounts, token=reset.token, secret_key=dropped, now=now)
        assert not isinstance(opened, str) and opened.id == invited.account_id
        assert refused == "reset_invalid"
    finally:
        await db.dispose()


def test_the_console_session_cookie_follows_the_previous_keys() -> None:
    from frontends.console.web.sessions import SESSION_COOKIE, Sessions

    now = utcnow()
    cookie = Sessions(OLD_KEY, secure=True).start(Response(), "account-1", now, generation=0)
    value = cookie.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
    request = Request({"type": "http", "headers": [(b"cookie", f"{SESSION_COOKIE}={value}".encode())]})
    assert Sessions(rotated().secret_keys, secure=True).account_id(request, now) == "account-1"
    assert Sessions(rotated(previous="").secret_keys, secure=True).account_id(request, now) is None
