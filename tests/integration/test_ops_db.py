"""`werkplaatsen db upgrade` (the release job's command) and the compose stack's database init script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from alembic.script import ScriptDirectory

from shared.db import alembic_config
from shared.settings import SERVICES
from tests.support import PG_ADMIN_DSN, database_url

pytestmark = pytest.mark.integration

INIT_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "postgres" / "init-databases.sh"


def werkplaatsen(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_db_upgrade_brings_a_service_database_to_its_newest_migration_and_can_run_again(
    service: str, pg_database
) -> None:
    url = database_url(await pg_database(f"upgrade_{service}"))
    bootstrap = __import__(f"services.{service}.bootstrap", fromlist=["MIGRATIONS"])
    head = ScriptDirectory.from_config(alembic_config(bootstrap.MIGRATIONS)).get_current_head()
    for _ in range(2):
        result = werkplaatsen("db", "upgrade", service, **{f"{service.upper()}_DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"{service}: database at revision {head}"


def test_db_upgrade_refuses_an_unknown_service() -> None:
    result = werkplaatsen("db", "upgrade", "billing")
    assert result.returncode == 2 and "billing" in result.stderr


async def test_the_init_script_creates_a_role_and_database_per_service_and_can_run_twice(real_services) -> None:
    assert shutil.which("psql"), "psql (PostgreSQL's client) is needed to run deploy/postgres/init-databases.sh"
    names = [f"wpinit_{uuid.uuid4().hex[:8]}_{n}" for n in (1, 2)]
    env = {
        **os.environ,
        "PGHOST": "127.0.0.1",
        "POSTGRES_USER": "postgres",
        "WERKPLAATSEN_DB_PASSWORD": "pw",
        "WERKPLAATSEN_SERVICES": " ".join(names),
    }
    try:
        for _ in range(2):
            result = subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            owners = dict(
                await conn.fetch(
                    "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname = ANY($1::text[])", names
                )
            )
        finally:
            await conn.close()
        assert owners == {name: name for name in names}
        role = await asyncpg.connect(f"postgresql://{names[0]}:pw@127.0.0.1:5432/{names[0]}")
        await role.close()
    finally:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            for name in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await conn.execute(f'DROP ROLE IF EXISTS "{name}"')
        finally:
            await conn.close()
