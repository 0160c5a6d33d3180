"""`werkplaatsen dev` includes the organiser console: the link it prints signs a newcomer in, on the embedded
default (SQLite, in-process broker), with nothing else installed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest

from tests.support import free_port, hidden, wait_until

PASSWORD = "een lang wachtwoord voor de console"
LINK = re.compile(r"Console: eerste keer aanmelden als (\S+): (http://\S+/console/invitation/\S+)")


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WERKPLAATSEN_", "REGISTRATION_", "CONSOLE_"))}
    env.update(
        WERKPLAATSEN_DATA_DIR=str(tmp_path / "var"),
        WERKPLAATSEN_PUBLIC_URL=f"http://127.0.0.1:{port}",
        WERKPLAATSEN_RATE_LIMIT_PER_MINUTE="0",
    )
    out = tmp_path / "dev.out"
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "services", "dev", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}", out
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


async def test_the_link_werkplaatsen_dev_prints_lets_the_development_organiser_sign_up_and_sign_in(
    dev: tuple[str, Path],
) -> None:
    url, out = dev
    await wait_until(lambda: _printed(out), timeout=90, interval=0.2, what="the console's first sign-in link")
    # The link is printed while the system starts; the port opens once every service has started.
    await wait_until(lambda: _listening(url), timeout=90, interval=0.2, what="werkplaatsen dev answering")
    found = LINK.search(out.read_text())
    assert found, out.read_text()[-2000:]
    email, link = found.groups()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        form = await client.get(link)
        assert form.status_code == 200
        secret = hidden(form.text, "totp_secret")
        accepted = await client.post(
            link,
            data={
                "csrf": hidden(form.text, "csrf"),
                "password": PASSWORD,
                "password_again": PASSWORD,
                "totp_secret": secret,
                "code": pyotp.TOTP(secret).now(),
            },
        )
        assert accepted.status_code == 303, accepted.text[-1000:]
        login = await client.get("/console/login")
        signed_in = await client.post(
            "/console/login",
            data={
                "csrf": hidden(login.text, "csrf"),
                "email": email,
                "password": PASSWORD,
                "code": pyotp.TOTP(secret).now(),
            },
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/console/"
        start = await client.get("/console/")
        assert start.status_code == 200 and email in start.text
        # The services' pages share the port: the console did not take their place.
        assert (await client.get("/dev")).status_code == 200

        # The whole console works on the embedded default: it reads the example edition from scheduling and
        # reporting in the same process, and acts on it through the embedded broker.
        async def example_edition() -> str | None:
            found = re.search(r'id="editie-([a-z0-9-]+)"', (await client.get("/console/editions")).text)
            return found.group(1) if found else None

        slug = await wait_until(example_edition, timeout=60, interval=0.5, what="the example edition in the console")
        assert (await client.get(f"/console/editions/{slug}/sessions")).status_code == 200
        assert (await client.get(f"/console/registrations?edition={slug}")).status_code == 200
        csrf = hidden((await client.get(f"/console/editions/{slug}")).text, "csrf")
        closed = await client.post(f"/console/editions/{slug}/close", data={"csrf": csrf})
        assert closed.status_code == 303, closed.text[-1000:]
        audit = (await client.get("/console/api/audit", params={"limit": 5})).json()["items"]
        assert audit[0]["action"] == "CloseRegistration" and audit[0]["outcome"] == "accepted"


async def _listening(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(f"{url}/health")).status_code == 200
    except httpx.HTTPError:
        return False


async def _printed(out: Path) -> bool:
    return "Console:" in out.read_text(errors="replace")
