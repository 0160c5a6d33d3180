"""Secrets come from the environment only, and production refuses to start with development or template values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import DEV_ORGANIZER_TOKEN, DEV_SECRET_KEY, Settings, SettingsError, load_settings

GOOD = {"werkplaatsen_secret_key": "a-long-random-secret-from-the-vault", "werkplaatsen_organizer_token": "tok-9f8e7d"}


def test_production_accepts_secrets_of_its_own() -> None:
    Settings(**GOOD).require_production()


@pytest.mark.parametrize(
    ("changed", "named"),
    [
        ({"werkplaatsen_secret_key": DEV_SECRET_KEY}, "WERKPLAATSEN_SECRET_KEY: not set"),
        ({"werkplaatsen_organizer_token": DEV_ORGANIZER_TOKEN}, "WERKPLAATSEN_ORGANIZER_TOKEN: not set"),
        ({"werkplaatsen_secret_key": "change-me"}, "WERKPLAATSEN_SECRET_KEY: still the placeholder"),
        ({"werkplaatsen_organizer_token": "CHANGEME"}, "WERKPLAATSEN_ORGANIZER_TOKEN: still the placeholder"),
        ({"werkplaatsen_organizer_token": "   "}, "WERKPLAATSEN_ORGANIZER_TOKEN: still the placeholder"),
        ({"werkplaatsen_organizer_token": GOOD["werkplaatsen_secret_key"]}, "must differ from WERKPLAATSEN_SECRET_KEY"),
    ],
)
def test_production_refuses_development_and_template_secrets(changed: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(**{**GOOD, **changed}).require_production()
    assert named in str(refused.value)


def test_secrets_are_read_from_the_environment_and_not_from_a_dotenv_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("WERKPLAATSEN_SECRET_KEY=from-a-file-in-the-working-directory\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WERKPLAATSEN_SECRET_KEY", raising=False)
    assert load_settings().werkplaatsen_secret_key == DEV_SECRET_KEY
    monkeypatch.setenv("WERKPLAATSEN_SECRET_KEY", "from-the-environment")
    assert load_settings().werkplaatsen_secret_key == "from-the-environment"


def test_a_negative_rate_limit_stops_the_service_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WERKPLAATSEN_RATE_LIMIT_PER_MINUTE", "-1")
    with pytest.raises(SettingsError, match=r"^WERKPLAATSEN_RATE_LIMIT_PER_MINUTE: "):
        load_settings()


def run_service(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WERKPLAATSEN_", "REGISTRATION_"))}
    # A broker that is never reached: the secrets are checked before anything connects.
    clean.update(WERKPLAATSEN_BROKER_URL="amqp://guest:guest@127.0.0.1:1/none", **env)
    return subprocess.run(
        [sys.executable, "-m", "services", "run", "registration", "--port", "1"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_werkplaatsen_run_refuses_to_start_without_its_secrets() -> None:
    result = run_service({})
    assert result.returncode != 0
    assert "WERKPLAATSEN_SECRET_KEY: not set" in result.stderr + result.stdout


def test_werkplaatsen_run_refuses_the_placeholder_of_the_kubernetes_template() -> None:
    template = (Path(__file__).parents[2] / "deploy" / "k8s" / "common.yaml").read_text()
    assert "WERKPLAATSEN_SECRET_KEY: change-me" in template  # what an unedited manifest would start with
    result = run_service({"WERKPLAATSEN_SECRET_KEY": "change-me", "WERKPLAATSEN_ORGANIZER_TOKEN": "change-me"})
    assert result.returncode != 0
    assert "WERKPLAATSEN_SECRET_KEY: still the placeholder" in result.stderr + result.stdout
