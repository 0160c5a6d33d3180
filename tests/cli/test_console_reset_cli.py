"""`werkplaatsen accounts reset EMAIL` run as a process on a SQLite data dir: it prints a password reset link (the
console cannot mail it), the link sets a new password once, and an invited or unknown account gets none."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from frontends.console import accounts, resets
from frontends.console.domain import AccountRefused
from frontends.console.store import AccountRow, Repositories, open_store, repositories
from shared.db import utcnow

T = TypeVar("T")
PUBLIC_URL = "https://werkplaatsen.example.nl"
SECRET = "cli-reset-test-secret"
PASSWORD = "een lang wachtwoord"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


def werkplaatsen(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WERKPLAATSEN_", "CONSOLE_"))}
    env = {
        **clean,
        "WERKPLAATSEN_DATA_DIR": str(data_dir),
        "WERKPLAATSEN_PUBLIC_URL": PUBLIC_URL,
        "WERKPLAATSEN_SECRET_KEY": SECRET,
    }
    return subprocess.run(
        [sys.executable, "-m", "services", "accounts", *args], env=env, capture_output=True, text=True, timeout=60
    )


def in_store(data_dir: Path, work: Callable[[Repositories], Awaitable[T]]) -> T:
    async def go() -> T:
        db = await open_store(f"sqlite+aiosqlite:///{data_dir / 'console.sqlite3'}")
        try:
            async with repositories(db) as r:
                return await work(r)
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_reset_prints_a_link_that_sets_a_new_password_once(data_dir: Path) -> None:
    created = werkplaatsen(data_dir, "create", "vera@zwolle.nl", "--role", "viewer")
    assert created.returncode == 0, created.stderr
    invitation = created.stdout.strip().splitlines()[-1].rsplit("/", 1)[1]
    in_store(
        data_dir,
        lambda r: accounts.accept_invitation(
            r.accounts, r.audit, token=invitation, password=PASSWORD, secret_key=SECRET, now=utcnow()
        ),
    )

    result = werkplaatsen(data_dir, "reset", "Vera@Zwolle.nl")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "the console cannot send mail yet" in result.stdout
    assert lines[-1].startswith(f"{PUBLIC_URL}/console/reset/")
    token = lines[-1].rsplit("/", 1)[1]

    def reset(r: Repositories) -> Awaitable[AccountRow]:
        return resets.reset_password(
            r.accounts, r.audit, token=token, password="een nieuw lang wachtwoord", secret_key=SECRET, now=utcnow()
        )

    assert in_store(data_dir, reset).email == "vera@zwolle.nl"
    with pytest.raises(AccountRefused, match="reset_used"):
        in_store(data_dir, reset)


def test_an_invited_or_unknown_account_gets_no_reset_link(data_dir: Path) -> None:
    assert werkplaatsen(data_dir, "create", "nieuw@zwolle.nl", "--role", "viewer").returncode == 0
    invited = werkplaatsen(data_dir, "reset", "nieuw@zwolle.nl")
    assert invited.returncode == 1
    assert invited.stderr.strip() == "werkplaatsen: the account has no password yet: it has not accepted its invitation"
    unknown = werkplaatsen(data_dir, "reset", "niemand@zwolle.nl")
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "werkplaatsen: no account has that email address")
