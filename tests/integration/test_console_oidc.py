"""Signing in to the console with OpenID Connect against a real provider process (oidc-provider-mock: Authlib's
authorization server on uvicorn), the console served by uvicorn on its PostgreSQL store: the browser goes to the
provider, picks a user on its form and comes back signed in, while the console exchanges the code and reads the
provider's keys over HTTP. Refused: an address without an account, a disabled account, an unverified address, a
state that is not the flow's own."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
import uvicorn

from frontends.console import accounts
from frontends.console.oidc_accounts import SIGN_IN_OIDC
from frontends.console.store import open_store, repositories
from frontends.console.web import app
from frontends.console.web.oidc import FLOW_COOKIE
from frontends.console.web.sessions import SESSION_COOKIE
from shared.db import Database
from shared.settings import Settings
from tests.support import database_url, free_port, wait_until

pytestmark = pytest.mark.integration

SECRET = "integration-secret"
CLIENT_ID = "werkplaatsen-console"
# The provider's users, each picked on its form by `sub`. The addresses are written as people type them: the
# console finds accounts by the normalised address.
USERS = (
    {"sub": "ann", "email": "Ann@Zwolle.nl", "email_verified": True, "name": "Ann", "amr": ["pwd", "mfa"]},
    {"sub": "nina", "email": "nina@zwolle.nl", "email_verified": True},
    {"sub": "vera", "email": "vera@zwolle.nl", "email_verified": True},
    {"sub": "olaf", "email": "olaf@elders.nl", "email_verified": True},
    {"sub": "otto", "email": "otto@zwolle.nl", "email_verified": False},
)


@pytest.fixture(scope="module")
async def issuer(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    users = [arg for user in USERS for arg in ("--user-claims", json.dumps(user))]
    command = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port), "--require-nonce", "true", *users]
    process = subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    async def discoverable() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the OIDC provider exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"{url}/.well-known/openid-configuration", timeout=2)).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        await wait_until(discoverable, timeout=30, what="the OIDC provider's discovery document")
        yield url
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class Console:
    url: str
    db: Database


@pytest.fixture
async def console(issuer: str, pg_database, tmp_path: Path) -> AsyncIterator[Console]:
    db = await open_store(database_url(await pg_database("console_oidc")))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        werkplaatsen_secret_key=SECRET,
        werkplaatsen_public_url=url,
        werkplaatsen_data_dir=tmp_path,
        console_oidc_issuer=issuer,
        console_oidc_client_id=CLIENT_ID,
        console_oidc_client_secret="console-secret",  # type: ignore[arg-type]  # pydantic makes it a SecretStr
        console_oidc_name="Entra ID",
    )
    server = uvicorn.Server(uvicorn.Config(app(settings, db=db), host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started, timeout=30, what="the console to listen")
        yield Console(url, db)
    finally:
        server.should_exit = True
        await serving
        await db.dispose()


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def account(db: Database, email: str, role: str = "organiser", *, status: str = "active") -> str:
    """An account as an organiser makes it: invited with a role, then (unless STATUS says invited) active or
    disabled. OIDC sign-in needs no password or TOTP secret."""
    now = datetime.now(UTC)
    async with repositories(db) as r:
        invitation = await accounts.create_account(
            r.accounts, r.audit, email=email, role=role, actor="cli:root", secret_key=SECRET, now=now
        )
        row = await r.accounts.get(invitation.account_id)
        assert row is not None
        row.status = status
        await r.accounts.save(row)
    return invitation.account_id


async def oidc_entries(db: Database) -> list[tuple[str, str, str]]:
    async with repositories(db) as r:
        return [(e.actor, e.outcome, e.reason) for e in await r.audit.recent(100) if e.action == SIGN_IN_OIDC]


async def to_provider(browser: httpx.AsyncClient, console: Console, issuer: str, sub: str) -> str:
    """From the console's button through the provider's form: the URL the provider sends the browser back to."""
    login = await browser.get(f"{console.url}/console/login")
    assert 'href="/console/login/oidc"' in login.text and "Inloggen met Entra ID" in login.text
    start = await browser.get(f"{console.url}/console/login/oidc")
    assert start.status_code == 303
    authorize = start.headers["location"]
    assert authorize.startswith(f"{issuer}/oauth2/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["nonce"][0] and query["state"][0] and query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{console.url}/console/login/oidc/callback"]
    assert "openid" in query["scope"][0].split() and "email" in query["scope"][0].split()

    form = await browser.get(authorize)
    assert form.status_code == 200 and 'name="sub"' in form.text
    chosen = await browser.post(authorize, data={"sub": sub})  # the form posts back to its own address
    assert chosen.status_code == 302, chosen.text
    back = chosen.headers["location"]
    assert back.startswith(f"{console.url}/console/login/oidc/callback?")
    return back


async def test_an_organiser_signs_in_with_the_identity_provider_and_lands_on_the_start_page(
    issuer, console, browser
) -> None:
    ann = await account(console.db, "ann@zwolle.nl", "organiser")
    back = await to_provider(browser, console, issuer, "ann")

    arrived = await browser.get(back)
    assert arrived.status_code == 303 and arrived.headers["location"] == "/console/"
    cookies = arrived.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in session and "Path=/console" in session
    assert any(c.startswith(f"{FLOW_COOKIE}=") and "Max-Age=0" in c for c in cookies)  # the flow is over

    start = await browser.get(f"{console.url}/console/")
    assert start.status_code == 200
    assert "ann@zwolle.nl" in start.text and "organisator" in start.text
    # The provider's account vouches for the second factor: the audit entry keeps how it authenticated.
    assert await oidc_entries(console.db) == [(ann, "accepted", "amr=pwd mfa")]


async def test_an_invited_account_becomes_active_on_its_first_sign_in(issuer, console, browser) -> None:
    nina = await account(console.db, "nina@zwolle.nl", "viewer", status="invited")
    arrived = await browser.get(await to_provider(browser, console, issuer, "nina"))
    assert arrived.status_code == 303
    assert (await browser.get(f"{console.url}/console/")).status_code == 200
    async with repositories(console.db) as r:
        row = await r.accounts.get(nina)
        assert row is not None and row.status == "active" and row.password_hash is None
    assert await oidc_entries(console.db) == [(nina, "accepted", "activated")]


async def test_an_address_without_an_account_is_refused_and_nothing_is_made(issuer, console, browser) -> None:
    refused = await browser.get(await to_provider(browser, console, issuer, "olaf"))
    assert refused.status_code == 403
    assert "Met het e-mailadres olaf@elders.nl is er geen actief account voor de console." in refused.text
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    assert (await browser.get(f"{console.url}/console/")).status_code == 303
    async with repositories(console.db) as r:
        assert await r.accounts.by_email("olaf@elders.nl") is None
    assert await oidc_entries(console.db) == [("olaf@elders.nl", "rejected", "unknown_account")]


async def test_a_disabled_account_is_refused(issuer, console, browser) -> None:
    vera = await account(console.db, "vera@zwolle.nl", "viewer", status="disabled")
    refused = await browser.get(await to_provider(browser, console, issuer, "vera"))
    assert refused.status_code == 403
    assert "geen actief account voor de console" in refused.text
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    assert (await browser.get(f"{console.url}/console/")).status_code == 303
    assert await oidc_entries(console.db) == [(vera, "rejected", "disabled")]


async def test_an_address_the_provider_has_not_verified_is_refused(issuer, console, browser) -> None:
    await account(console.db, "otto@zwolle.nl", "viewer")
    refused = await browser.get(await to_provider(browser, console, issuer, "otto"))
    assert refused.status_code == 403
    assert "je e-mailadres is daar nog niet bevestigd" in refused.text
    assert await oidc_entries(console.db) == [("otto@zwolle.nl", "rejected", "email_unverified")]


async def test_a_tampered_state_is_refused_and_ends_the_flow(issuer, console, browser) -> None:
    await account(console.db, "ann@zwolle.nl", "organiser")
    back = await to_provider(browser, console, issuer, "ann")
    parts = urlsplit(back)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    forged = urlunsplit(parts._replace(query=urlencode({**query, "state": query["state"] + "x"})))

    refused = await browser.get(forged)
    assert refused.status_code == 400
    assert "Deze inlogpoging is verlopen of in een andere browser begonnen." in refused.text
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    # The flow cookie went with the refusal: not even the genuine answer signs in any more.
    again = await browser.get(back)
    assert again.status_code == 400
    assert (await browser.get(f"{console.url}/console/")).status_code == 303
    assert await oidc_entries(console.db) == [("unknown", "rejected", "state_invalid")] * 2


async def test_an_answer_brought_to_another_browser_is_refused(issuer, console, browser) -> None:
    """Login CSRF: an attacker's own genuine answer, sent to a victim's browser, which never started a flow."""
    await account(console.db, "ann@zwolle.nl", "organiser")
    back = await to_provider(browser, console, issuer, "ann")
    async with httpx.AsyncClient(timeout=10) as victim:
        refused = await victim.get(back)
    assert refused.status_code == 400
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
