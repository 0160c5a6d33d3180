"""The console's web skeleton on a SQLite store: signing in (password, TOTP, lockout), invitations, sessions that
end with a disabled account or a logout, CSRF on every form, and who may read the audit log through the API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher

from frontends.console import accounts, tokens
from frontends.console.store import open_store, repositories
from frontends.console.web import app
from frontends.console.web.sessions import SESSION_COOKIE, SESSION_LENGTH
from shared.db import Database
from shared.settings import Settings
from tests.console_support import active_account as make_active_account
from tests.support import hidden

SECRET = "unit-secret"
PASSWORD = "een lang wachtwoord"
HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass
class Clock:
    """The real time (TOTP codes are made with it), moved on by `ahead` where a test needs a session to expire."""

    ahead: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@pytest.fixture
async def db(tmp_path) -> AsyncIterator[Database]:
    database = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'console.sqlite3'}")
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def settings(public_url: str = "http://localhost:8000") -> Settings:
    return Settings(werkplaatsen_secret_key=SECRET, werkplaatsen_public_url=public_url)


@pytest.fixture
async def client(db: Database, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    console = app(settings(), db=db, clock=clock, hasher=HASHER)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=console), base_url="http://localhost") as http:
        yield http


async def invite(db: Database, email: str, role: str) -> accounts.Invitation:
    async with repositories(db) as r:
        return await accounts.create_account(
            r.accounts, r.audit, email=email, role=role, actor="cli:root", secret_key=SECRET, now=datetime.now(UTC)
        )


async def active_account(db: Database, email: str = "vera@zwolle.nl", role: str = "viewer") -> str | None:
    return await make_active_account(db, email, role, secret_key=SECRET, password=PASSWORD)


async def csrf_of(client: httpx.AsyncClient, path: str = "/console/login") -> str:
    response = await client.get(path)
    return hidden(response.text, "csrf")


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD, code: str = "") -> httpx.Response:
    csrf = await csrf_of(client)
    return await client.post("/console/login", data={"csrf": csrf, "email": email, "password": password, "code": code})


async def audit_actions(db: Database) -> list[tuple[str, str, str]]:
    async with repositories(db) as r:
        return [(row.action, row.outcome, row.reason) for row in await r.audit.recent(500)]


async def test_an_organiser_signs_in_with_password_and_totp_and_the_start_page_shows_who_and_what(db, client) -> None:
    secret = await active_account(db, "ann@zwolle.nl", "organiser")
    assert secret is not None

    without_code = await sign_in(client, "ann@zwolle.nl")
    assert without_code.status_code == 401
    assert "Vul ook de code uit je authenticator-app in." in without_code.text

    signed_in = await sign_in(client, "ann@zwolle.nl", code=pyotp.TOTP(secret).now())
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/console/"
    cookie = signed_in.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/console" in cookie and "Secure" not in cookie  # http://localhost: development

    start = await client.get("/console/")
    assert start.status_code == 200
    assert "ann@zwolle.nl" in start.text and "organisator" in start.text
    assert "Het auditlogboek lezen" in start.text
    assert ("account.sign_in", "accepted", "") in await audit_actions(db)


async def test_a_viewer_is_told_only_what_a_viewer_may(db, client) -> None:
    await active_account(db)
    await sign_in(client, "vera@zwolle.nl")
    start = await client.get("/console/")
    assert "meelezer" in start.text
    assert "Overzichten en exports bekijken" in start.text
    assert "auditlogboek" not in start.text


async def test_a_wrong_password_is_counted_and_the_lockout_is_shown_in_dutch(db, client) -> None:
    await active_account(db)
    for _ in range(4):
        wrong = await sign_in(client, "vera@zwolle.nl", "niet mijn wachtwoord")
        assert wrong.status_code == 401
        assert "Het e-mailadres of het wachtwoord klopt niet." in wrong.text

    locking = await sign_in(client, "vera@zwolle.nl", "niet mijn wachtwoord")
    assert "kun je pas weer inloggen vanaf" in locking.text
    # While locked, not even the right password gets in.
    locked = await sign_in(client, "vera@zwolle.nl")
    assert locked.status_code == 401
    assert "kun je pas weer inloggen vanaf" in locked.text
    assert SESSION_COOKIE not in locked.headers.get("set-cookie", "")

    async with repositories(db) as r:
        account = await r.accounts.by_email("vera@zwolle.nl")
        assert account is not None and account.failed_attempts == 5
    assert ("account.sign_in", "rejected", "locked") in await audit_actions(db)


async def test_an_unknown_address_gets_the_same_answer_as_a_wrong_password(db, client) -> None:
    answer = await sign_in(client, "niemand@zwolle.nl")
    assert answer.status_code == 401
    assert "Het e-mailadres of het wachtwoord klopt niet." in answer.text


async def test_the_login_form_without_its_csrf_token_is_refused(db, client) -> None:
    await active_account(db)
    await client.get("/console/login")  # the browser has the CSRF cookie, but the form lacks the field
    refused = await client.post("/console/login", data={"email": "vera@zwolle.nl", "password": PASSWORD})
    assert refused.status_code == 403
    assert "Dit formulier is verlopen" in refused.text
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    assert not [a for a in await audit_actions(db) if a[0] == "account.sign_in"]


async def test_a_csrf_token_from_another_browser_is_refused(db, client, clock) -> None:
    await active_account(db)
    other = app(settings(), db=db, clock=clock, hasher=HASHER)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://localhost") as elsewhere:
        foreign = await csrf_of(elsewhere)
    await client.get("/console/login")
    refused = await client.post(
        "/console/login", data={"csrf": foreign, "email": "vera@zwolle.nl", "password": PASSWORD}
    )
    assert refused.status_code == 403


async def test_logout_needs_its_csrf_token_and_then_clears_the_session(db, client) -> None:
    await active_account(db)
    await sign_in(client, "vera@zwolle.nl")
    start = await client.get("/console/")
    assert start.status_code == 200

    without = await client.post("/console/logout", data={"csrf": ""})
    assert without.status_code == 403
    assert (await client.get("/console/")).status_code == 200

    out = await client.post("/console/logout", data={"csrf": hidden(start.text, "csrf")})
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    after = await client.get("/console/")
    assert after.status_code == 303 and after.headers["location"] == "/console/login"
    assert ("account.sign_out", "accepted", "") in await audit_actions(db)


async def test_without_a_session_pages_redirect_to_the_login_and_the_api_answers_401(client) -> None:
    page = await client.get("/console/")
    assert page.status_code == 303
    assert page.headers["location"] == "/console/login"
    api = await client.get("/console/api/audit")
    assert api.status_code == 401
    assert api.headers["www-authenticate"] == "Bearer"
    assert api.json()["errors"][0]["code"] == "unauthorized"


async def test_an_unknown_or_malformed_token_gets_401(client) -> None:
    for header in ("Bearer wpc_not-a-token", "Bearer something", "Basic dXNlcjpwdw=="):
        answer = await client.get("/console/api/audit", headers={"Authorization": header})
        assert answer.status_code == 401, header


async def test_a_session_expires_after_eight_hours(db, client, clock) -> None:
    await active_account(db)
    await sign_in(client, "vera@zwolle.nl")
    clock.ahead = SESSION_LENGTH - timedelta(minutes=1)
    assert (await client.get("/console/")).status_code == 200
    clock.ahead = SESSION_LENGTH
    expired = await client.get("/console/")
    assert expired.status_code == 303 and expired.headers["location"] == "/console/login"


async def test_a_disabled_accounts_session_stops_working_at_once(db, client) -> None:
    await active_account(db)
    await sign_in(client, "vera@zwolle.nl")
    assert (await client.get("/console/")).status_code == 200
    async with repositories(db) as r:
        await accounts.disable_account(
            r.accounts, r.audit, email="vera@zwolle.nl", actor="cli:root", now=datetime.now(UTC)
        )
    page = await client.get("/console/")
    assert page.status_code == 303 and page.headers["location"] == "/console/login"
    assert (await client.get("/console/api/audit")).status_code == 401


async def test_a_viewer_gets_403_with_a_dutch_explanation_on_the_audit_api(db, client) -> None:
    await active_account(db)
    await sign_in(client, "vera@zwolle.nl")
    by_session = await client.get("/console/api/audit")
    assert by_session.status_code == 403
    error = by_session.json()["errors"][0]
    assert error["code"] == "forbidden"
    assert error["message"].startswith("Met de rol meelezer mag je niet het auditlogboek lezen")

    async with repositories(db) as r:
        token = await tokens.create_token(
            r.accounts,
            r.tokens,
            r.audit,
            email="vera@zwolle.nl",
            name="script",
            actor="cli:root",
            now=datetime.now(UTC),
        )
    by_token = await client.get("/console/api/audit", headers={"Authorization": f"Bearer {token.token}"})
    assert by_token.status_code == 403


async def test_an_organisers_token_reads_the_audit_log_newest_first(db, client) -> None:
    await active_account(db, "ann@zwolle.nl", "organiser")
    await sign_in(client, "ann@zwolle.nl", "fout wachtwoord")
    async with repositories(db) as r:
        token = await tokens.create_token(
            r.accounts, r.tokens, r.audit, email="ann@zwolle.nl", name="script", actor="cli:root", now=datetime.now(UTC)
        )
    headers = {"Authorization": f"Bearer {token.token}"}

    answer = await client.get("/console/api/audit", headers=headers)
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert [item["action"] for item in items] == [
        "token.create",
        "account.sign_in",
        "account.accept_invitation",
        "account.create",
    ]
    assert set(items[0]) == {"actor", "action", "subject", "at", "outcome", "reason"}
    assert items[1]["outcome"] == "rejected" and items[1]["reason"] == "bad_password"
    assert items[0]["actor"] == "cli:root" and items[0]["subject"] == f"token:{token.id}"
    moments = [datetime.fromisoformat(item["at"]) for item in items]
    assert moments == sorted(moments, reverse=True)

    two = await client.get("/console/api/audit?limit=2", headers=headers)
    assert [item["action"] for item in two.json()["items"]] == ["token.create", "account.sign_in"]
    for bad in ("0", "501", "veel", "-1"):
        refused = await client.get(f"/console/api/audit?limit={bad}", headers=headers)
        assert refused.status_code == 422, bad
        assert refused.json()["errors"][0] == {
            "field": "limit",
            "code": "limit_out_of_range",
            "message": "limit moet een geheel getal van 1 tot en met 500 zijn.",
        }


async def test_a_revoked_token_gets_401(db, client) -> None:
    await active_account(db, "ann@zwolle.nl", "organiser")
    async with repositories(db) as r:
        now = datetime.now(UTC)
        token = await tokens.create_token(
            r.accounts, r.tokens, r.audit, email="ann@zwolle.nl", name="x", actor="cli:root", now=now
        )
        await tokens.revoke_token(r.tokens, r.audit, token_id=token.id, actor="cli:root", now=now)
    answer = await client.get("/console/api/audit", headers={"Authorization": f"Bearer {token.token}"})
    assert answer.status_code == 401


async def test_an_organiser_accepts_the_invitation_with_an_authenticator_app_and_then_signs_in(db, client) -> None:
    invitation = await invite(db, "ann@zwolle.nl", "organiser")
    path = f"/console/invitation/{invitation.token}"
    form = await client.get(path)
    assert form.status_code == 200
    secret = hidden(form.text, "totp_secret")
    assert secret in form.text and "otpauth://totp/" in form.text
    # The same secret as a QR code to scan (an SVG data URI, allowed by the page's policy).
    qr = re.search(r'<img class="qr" src="data:image/svg\+xml;charset=utf-8,([^"]+)"', form.text)
    assert qr is not None and "svg" in unquote(qr.group(1))
    csrf = hidden(form.text, "csrf")

    no_code = await client.post(
        path, data={"csrf": csrf, "password": PASSWORD, "password_again": PASSWORD, "totp_secret": secret}
    )
    assert no_code.status_code == 422
    assert "De code uit je authenticator-app klopt niet." in no_code.text
    assert hidden(no_code.text, "totp_secret") == secret  # the app already has it: the page keeps it

    differ = await client.post(
        path, data={"csrf": csrf, "password": PASSWORD, "password_again": PASSWORD + "!", "totp_secret": secret}
    )
    assert "De twee wachtwoorden zijn niet gelijk." in differ.text

    code = pyotp.TOTP(secret).now()
    accepted = await client.post(
        path, data={"csrf": csrf, "password": PASSWORD, "password_again": PASSWORD, "totp_secret": secret, "code": code}
    )
    assert accepted.status_code == 303 and accepted.headers["location"] == "/console/login?welkom=1"
    assert "Je account is klaar." in (await client.get("/console/login?welkom=1")).text

    used = await client.get(path)
    assert used.status_code == 410 and "al gebruikt" in used.text
    assert (await sign_in(client, "ann@zwolle.nl", code=code)).status_code == 303


async def test_a_viewer_accepts_the_invitation_with_a_password_only(db, client) -> None:
    invitation = await invite(db, "vera@zwolle.nl", "viewer")
    path = f"/console/invitation/{invitation.token}"
    form = await client.get(path)
    assert "totp_secret" not in form.text
    short = await client.post(
        path, data={"csrf": hidden(form.text, "csrf"), "password": "kort", "password_again": "kort"}
    )
    assert short.status_code == 422 and "minstens 12 tekens" in short.text
    accepted = await client.post(
        path, data={"csrf": hidden(form.text, "csrf"), "password": PASSWORD, "password_again": PASSWORD}
    )
    assert accepted.status_code == 303
    assert (await sign_in(client, "vera@zwolle.nl")).status_code == 303


async def test_a_forged_invitation_link_is_not_found(client) -> None:
    answer = await client.get("/console/invitation/not-a-token")
    assert answer.status_code == 404
    assert "klopt niet" in answer.text


async def test_cookies_are_secure_outside_development(db, clock) -> None:
    await active_account(db)
    console = app(settings("https://werkplaatsen.example.nl"), db=db, clock=clock, hasher=HASHER)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=console), base_url="https://localhost") as http:
        signed_in = await sign_in(http, "vera@zwolle.nl")
    assert signed_in.status_code == 303
    assert "Secure" in signed_in.headers["set-cookie"]


async def test_pages_carry_a_strict_policy_and_are_not_cached(client) -> None:
    login = await client.get("/console/login")
    assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
    assert login.headers["cache-control"] == "no-store"
    assert login.headers["x-content-type-options"] == "nosniff"
