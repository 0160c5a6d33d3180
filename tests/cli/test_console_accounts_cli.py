"""`werkplaatsen accounts ...` run as a process on a SQLite data dir: invite, list, token, disable; the token it
prints last authenticates through the console's store."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from frontends.console import tokens
from frontends.console.domain import Principal
from frontends.console.store import open_store, repositories
from shared.db import utcnow

PUBLIC_URL = "https://werkplaatsen.example.nl"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


def werkplaatsen(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WERKPLAATSEN_", "CONSOLE_"))}
    env = {**clean, "WERKPLAATSEN_DATA_DIR": str(data_dir), "WERKPLAATSEN_PUBLIC_URL": PUBLIC_URL + "/"}
    return subprocess.run(
        [sys.executable, "-m", "services", "accounts", *args], env=env, capture_output=True, text=True, timeout=60
    )


def authenticate(data_dir: Path, token: str) -> Principal | None:
    async def check() -> Principal | None:
        db = await open_store(f"sqlite+aiosqlite:///{data_dir / 'console.sqlite3'}")
        try:
            async with repositories(db) as r:
                return await tokens.authenticate_token(r.accounts, r.tokens, token=token, now=utcnow())
        finally:
            await db.dispose()

    return asyncio.run(check())


def test_create_prints_an_invitation_link_under_the_public_url(data_dir: Path) -> None:
    result = werkplaatsen(data_dir, "create", "Ann@Zwolle.nl", "--role", "organiser", "--name", "Ann de Vries")
    assert result.returncode == 0, result.stderr
    link = result.stdout.strip().splitlines()[-1]
    assert link.startswith(f"{PUBLIC_URL}/console/invitation/")
    assert len(link.rsplit("/", 1)[1]) > 20
    listed = werkplaatsen(data_dir, "list")
    assert listed.returncode == 0, listed.stderr
    assert "ann@zwolle.nl" in listed.stdout and "organiser" in listed.stdout and "invited" in listed.stdout


def test_an_unknown_role_or_a_second_account_for_one_address_is_refused(data_dir: Path) -> None:
    assert werkplaatsen(data_dir, "create", "ann@zwolle.nl", "--role", "admin").returncode != 0
    assert werkplaatsen(data_dir, "create", "ann@zwolle.nl", "--role", "viewer").returncode == 0
    again = werkplaatsen(data_dir, "create", "ANN@zwolle.nl", "--role", "viewer")
    assert again.returncode == 1
    assert "exists already" in again.stderr


def test_the_token_is_the_last_line_and_authenticates_until_the_account_is_disabled(data_dir: Path) -> None:
    assert (
        werkplaatsen(
            data_dir, "create", "piet@zwolle.nl", "--role", "facilitator", "--edition", "2027-voorjaar"
        ).returncode
        == 0
    )
    result = werkplaatsen(data_dir, "token", "piet@zwolle.nl", "--name", "check-in")
    assert result.returncode == 0, result.stderr
    token = result.stdout.rstrip("\n").splitlines()[-1]
    assert token.startswith("wpc_")
    assert token not in (data_dir / "console.sqlite3").read_bytes().decode("latin-1")
    principal = authenticate(data_dir, token)
    assert principal is not None
    assert (principal.role, principal.editions) == ("facilitator", frozenset({"2027-voorjaar"}))

    disabled = werkplaatsen(data_dir, "disable", "piet@zwolle.nl")
    assert disabled.returncode == 0, disabled.stderr
    assert authenticate(data_dir, token) is None
    assert werkplaatsen(data_dir, "token", "piet@zwolle.nl").returncode == 1


def test_a_command_on_an_unknown_address_fails_with_a_clear_line(data_dir: Path) -> None:
    result = werkplaatsen(data_dir, "disable", "niemand@zwolle.nl")
    assert result.returncode == 1
    assert result.stderr.strip() == "werkplaatsen: no account has that email address"
