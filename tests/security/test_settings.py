"""Secrets come from the environment only, and production refuses to start with development or template values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import DEV_ORGANIZER_TOKEN, DEV_SECRET_KEY, Settings, SettingsError, load_settings

# What `secrets.token_urlsafe(32)` makes: the kind of value operators are told to set.
GOOD = {
    "werkplaatsen_secret_key": "Q3vJ9x_2kLm8RtZpW5nYcB7dHf1sUoEa4gTiXqNw6eM",
    "werkplaatsen_organizer_token": "pV8hK2-wZr5NxYb1TqLm9CfJd3sGa7UoEi4RkWnXy6Q",
}


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
        ({"werkplaatsen_secret_key": "x"}, "WERKPLAATSEN_SECRET_KEY: too short (1 characters, at least 32)"),
        ({"werkplaatsen_organizer_token": "tok-9f8e7d"}, "WERKPLAATSEN_ORGANIZER_TOKEN: too short"),
        ({"werkplaatsen_secret_key": "ab" * 20}, "WERKPLAATSEN_SECRET_KEY: too predictable"),
        ({"werkplaatsen_organizer_token": "a" * 64}, "WERKPLAATSEN_ORGANIZER_TOKEN: too predictable"),
        # The fallbacks deploy/compose.yaml used to start with, and the example this test used to call good.
        (
            {"werkplaatsen_secret_key": "compose-secret-not-for-production"},
            "WERKPLAATSEN_SECRET_KEY: a value published",
        ),
        (
            {"werkplaatsen_organizer_token": "compose-organizer-token"},
            "WERKPLAATSEN_ORGANIZER_TOKEN: a value published",
        ),
        (
            {"werkplaatsen_secret_key": "a-long-random-secret-from-the-vault"},
            "WERKPLAATSEN_SECRET_KEY: a value published",
        ),
        # A key kept for rotation signs nothing new but still opens links: it must be as strong.
        ({"werkplaatsen_secret_key_previous": "old"}, "WERKPLAATSEN_SECRET_KEY_PREVIOUS: too short"),
        (
            {"werkplaatsen_secret_key_previous": GOOD["werkplaatsen_organizer_token"]},
            "WERKPLAATSEN_ORGANIZER_TOKEN: must differ from WERKPLAATSEN_SECRET_KEY",
        ),
    ],
)
def test_production_refuses_development_template_published_and_weak_secrets(
    changed: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(**{**GOOD, **changed}).require_production()
    assert named in str(refused.value)


def test_a_secret_of_secrets_token_hex_16_is_strong_enough() -> None:
    Settings(**{**GOOD, "werkplaatsen_secret_key": "fdfb911f965ee083b73ab55a965937cb"}).require_production()


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


def test_werkplaatsen_run_refuses_a_one_character_secret_naming_the_setting() -> None:
    result = run_service(
        {"WERKPLAATSEN_SECRET_KEY": "x", "WERKPLAATSEN_ORGANIZER_TOKEN": GOOD["werkplaatsen_organizer_token"]}
    )
    assert result.returncode != 0
    assert "WERKPLAATSEN_SECRET_KEY: too short" in result.stderr + result.stdout


def test_werkplaatsen_run_refuses_the_placeholder_of_the_kubernetes_template() -> None:
    template = (Path(__file__).parents[2] / "deploy" / "k8s" / "common.yaml").read_text()
    assert "WERKPLAATSEN_SECRET_KEY: change-me" in template  # what an unedited manifest would start with
    result = run_service({"WERKPLAATSEN_SECRET_KEY": "change-me", "WERKPLAATSEN_ORGANIZER_TOKEN": "change-me"})
    assert result.returncode != 0
    assert "WERKPLAATSEN_SECRET_KEY: still the placeholder" in result.stderr + result.stdout
