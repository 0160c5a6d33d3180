"""The organiser console as the tests drive it: the whole system in one process (`werkplaatsen dev`'s app on the
embedded broker and SQLite), and accounts made straight in the console's store, each with a personal access token
for the API."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher

from frontends.console import accounts, tokens
from frontends.console.dev import beside
from frontends.console.gateway import CommandGateway
from frontends.console.store import repositories
from services.dev import build_dev_app
from services.scheduling.seed import load_programme, moved_into_future
from shared.db import Database
from shared.settings import Settings
from tests.factories import trio
from tests.support import ServiceEnv, ServiceProcess, free_port, hidden, wait_until

SECRET = "console-test-secret"
ORGANISER_TOKEN = "console-test-machine-token"
PASSWORD = "een lang wachtwoord voor de console"
# Argon2 at its cheapest: the tests make many accounts; any PasswordHasher verifies what this one hashed.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass
class Console:
    http: httpx.AsyncClient  # the whole system; /console for the console
    db: Database  # the console's store
    transport: httpx.AsyncBaseTransport
    gateway: CommandGateway | None = None  # the console's; a test may shorten its wait (202: still on its way)

    @asynccontextmanager
    async def browser(self, email: str, role: str, editions: Sequence[str] = ()) -> AsyncIterator[httpx.AsyncClient]:
        """A client of its own (its own cookies), signed in to the pages as a new active account with ROLE."""
        secret = await active_account(self.db, email, role, editions)
        async with httpx.AsyncClient(transport=self.transport, base_url="http://localhost", timeout=30) as client:
            login = await client.get("/console/login")
            form = {"csrf": hidden(login.text, "csrf"), "email": email, "password": PASSWORD}
            if secret:
                form["code"] = pyotp.TOTP(secret).now()
            signed_in = await client.post("/console/login", data=form)
            assert signed_in.status_code == 303, signed_in.text[-500:]
            yield client

    async def token(self, email: str, role: str, editions: Sequence[str] = ()) -> str:
        """A personal access token of a new active account with ROLE (a facilitator for EDITIONS)."""
        await active_account(self.db, email, role, editions)
        async with repositories(self.db) as r:
            made = await tokens.create_token(
                r.accounts, r.tokens, r.audit, email=email, name="tests", actor="tests", now=datetime.now(UTC)
            )
        return made.token

    async def account_id(self, email: str) -> str:
        async with repositories(self.db) as r:
            account = await r.accounts.by_email(email)
        assert account is not None, email
        return account.id

    async def api(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kwargs)


async def active_account(
    db: Database,
    email: str,
    role: str = "viewer",
    editions: Sequence[str] = (),
    *,
    name: str = "",
    secret_key: str = SECRET,
    password: str = PASSWORD,
    now: datetime | None = None,
) -> str | None:
    """An active account made without the pages (invited, then the invitation accepted); its TOTP secret when the
    role needs one."""
    now = now or datetime.now(UTC)
    async with repositories(db) as r:
        invitation = await accounts.create_account(
            r.accounts,
            r.audit,
            email=email,
            role=role,
            name=name,
            editions=list(editions),
            actor="tests",
            secret_key=secret_key,
            now=now,
        )
    secret = pyotp.random_base32() if role == "organiser" else None
    async with repositories(db) as r:
        await accounts.accept_invitation(
            r.accounts,
            r.audit,
            token=invitation.token,
            password=password,
            totp_secret=secret,
            totp_code=pyotp.TOTP(secret).at(now) if secret else None,
            secret_key=secret_key,
            now=now,
            hasher=FAST_HASHER,
        )
    return secret


def settings(data_dir: Path) -> Settings:
    return Settings(
        werkplaatsen_data_dir=data_dir,
        werkplaatsen_secret_key=SECRET,
        werkplaatsen_organizer_token=ORGANISER_TOKEN,
        werkplaatsen_public_url="http://localhost",
    )


@asynccontextmanager
async def running_console(data_dir: Path) -> AsyncIterator[Console]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WERKPLAATSEN_RATE_LIMIT_PER_MINUTE", "0")
        host = build_dev_app(settings(data_dir))
    whole = beside(host, host.state.console)
    async with host.router.lifespan_context(host):
        transport = httpx.ASGITransport(app=whole)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost", timeout=30) as http:
            context = host.state.console.state.console
            yield Console(http, context.db, transport, context.backends.gateway)


def new_edition(slug: str, *, now: datetime | None = None, **changes: Any) -> dict[str, Any]:
    """The body of POST /console/api/editions: the example programme moved into the future, under SLUG."""
    edition = moved_into_future(load_programme(), now or datetime.now(UTC) + timedelta(days=1))
    body = edition.model_dump(mode="json", exclude_none=True)
    body.update(edition=slug, **changes)
    return body


INVOICE_DETAILS = {"address": "Gemeente Utrecht\nPostbus 16200\n3500 CE Utrecht", "reference": "PO-2028-17"}


async def invoiced_trio(console: Console, token: str, slug: str) -> dict[str, Any]:
    """An invoiced trio in a new edition of its own: a large municipality (Utrecht, which pays the fee) with its
    invoice details registers, the organiser approves on the approver's behalf and closes registration, the
    allocation places the trio and registration invoices it. Its entry of registration's `GET /api/invoices`."""
    created = await console.api(
        "POST", "/console/api/editions", token, json=new_edition(slug, capacity={"min_trios": 1, "max_trios": 4})
    )
    assert created.status_code == 201, created.text
    body = trio(slug, municipality="GM0344", invoice=INVOICE_DETAILS)

    async def registered() -> str | None:
        response = await console.http.post("/api/registrations", json=body)
        if response.status_code == 202:
            return str(response.json()["registration_id"])
        assert response.json()["errors"][0]["code"] == "unknown_edition", response.text
        return None

    registration_id = await wait_until(registered, what="registration to know the edition")
    path = f"/console/api/registrations/{registration_id}"
    approved = await console.api("POST", f"{path}/approve", token, json={"reason": "per mail"})
    assert approved.status_code == 200, approved.text
    machine = {"Authorization": f"Bearer {ORGANISER_TOKEN}"}

    async def scheduling_knows() -> bool:
        counts = (await console.http.get(f"/api/editions/{slug}/trios", headers=machine)).json()["counts"]
        return bool(counts["approved"] == 1)

    await wait_until(scheduling_knows, what="scheduling to know the approval")
    closed = await console.api("POST", f"/console/api/editions/{slug}/close", token)
    assert closed.status_code == 200, closed.text

    async def invoiced() -> dict[str, Any] | None:
        found = await console.http.get("/api/invoices", params={"edition": slug}, headers=machine)
        listed: list[dict[str, Any]] = found.json()["invoices"]
        return listed[0] if listed else None

    invoice: dict[str, Any] = await wait_until(invoiced, what="the placed trio's invoice")
    return invoice


@dataclass
class ConsoleProcess(ServiceProcess):
    """The console as `werkplaatsen console`, the command the deployment runs, on a ServiceEnv's broker."""

    ready_path: str = "/console/ready"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "services", "console", "--port", str(self.port), "--host", "127.0.0.1"]


def console_process(env: ServiceEnv, services: dict[str, ServiceProcess], log: Path) -> ConsoleProcess:
    """A console process for ENV (whose services include "console", for its database) reading SERVICES' APIs."""
    port = free_port()
    environment = env.env("console", port)
    environment.update({f"CONSOLE_{name.upper()}_URL": process.url for name, process in services.items()})
    return ConsoleProcess("console", environment, port, log)


def cli(env: dict[str, str], *args: str) -> str:
    """`werkplaatsen ARGS` as an operator runs it, with ENV; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "services", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def sign_up(base_url: str, invitation_link: str, role: str) -> str | None:
    """Accept an invitation through the console's page; the TOTP secret it set up (organisers), else None."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        form = await client.get(invitation_link)
        assert form.status_code == 200, form.text[-500:]
        data = {"csrf": hidden(form.text, "csrf"), "password": PASSWORD, "password_again": PASSWORD}
        secret = None
        if role == "organiser":
            secret = hidden(form.text, "totp_secret")
            data.update(totp_secret=secret, code=pyotp.TOTP(secret).now())
        accepted = await client.post(invitation_link, data=data)
        assert accepted.status_code == 303, accepted.text[-500:]
    return secret
