"""The command line, run as a process, refuses a wrong configuration with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import strong_secret


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WERKPLAATSEN_", "REGISTRATION_", "SCHEDULING_", "NOTIFICATIONS_", "REPORTING_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "services", *args], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_run_without_a_broker_url_names_the_missing_setting() -> None:
    result = run("run", "scheduling")
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("werkplaatsen: configuration error: WERKPLAATSEN_BROKER_URL")


def test_a_malformed_database_url_is_refused_at_start_with_its_name() -> None:
    result = run(
        "run",
        "registration",
        WERKPLAATSEN_BROKER_URL="amqp://guest:guest@127.0.0.1/",
        REGISTRATION_DATABASE_URL="mysql://nope",
    )
    assert result.returncode == 2
    assert "REGISTRATION_DATABASE_URL" in result.stderr


def test_production_refuses_the_development_secret() -> None:
    result = run("run", "reporting", WERKPLAATSEN_BROKER_URL="amqp://guest:guest@127.0.0.1/")
    assert result.returncode == 2
    assert "WERKPLAATSEN_SECRET_KEY" in result.stderr


def test_an_unknown_service_is_refused() -> None:
    result = run("run", "billing", WERKPLAATSEN_BROKER_URL="amqp://guest:guest@127.0.0.1/")
    assert result.returncode == 2
    assert "billing" in result.stderr


def test_production_refuses_to_start_without_the_broker_users_whose_actors_it_may_believe() -> None:
    # Secrets set, a broker never reached: the setting is checked before anything connects.
    secrets = {
        "WERKPLAATSEN_SECRET_KEY": strong_secret("cli-secret"),
        "WERKPLAATSEN_ORGANIZER_TOKEN": strong_secret("cli-token"),
    }
    result = run("run", "scheduling", WERKPLAATSEN_BROKER_URL="amqp://guest:guest@127.0.0.1:1/none", **secrets)
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("werkplaatsen: configuration error: WERKPLAATSEN_CONSOLE_BROKER_USERS: not set")
