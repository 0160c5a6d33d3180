"""deploy/compose.yaml follows the Compose Specification and runs each service on its own database, scalably."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from shared.runtime import STOP_BOUND_SECONDS
from shared.settings import SERVICES, Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


# What an operator puts in deploy/.env before the first `docker compose up` (the file's header says how).
OPERATOR_ENV = {
    "WERKPLAATSEN_SECRET_KEY": "Q3vJ9x_2kLm8RtZpW5nYcB7dHf1sUoEa4gTiXqNw6eM",
    "WERKPLAATSEN_ORGANIZER_TOKEN": "pV8hK2-wZr5NxYb1TqLm9CfJd3sGa7UoEi4RkWnXy6Q",
    "RABBITMQ_ADMIN_PASSWORD": "r7Yq2mXk9TzV4bNw",
    **{
        f"WERKPLAATSEN_BROKER_PASSWORD_{component}": f"{component.lower()}-Hq8sLz3vR6"
        for component in ("REGISTRATION", "SCHEDULING", "NOTIFICATIONS", "REPORTING", "CONSOLE", "OPERATOR")
    },
}


class Unset(Exception):
    """Compose's `${NAME:?message}` with NAME unset: compose refuses to start."""


def interpolated(value: str, environment: dict[str, str] = OPERATOR_ENV) -> str:
    """Compose's `${NAME:-default}` and `${NAME:?message}` with ENVIRONMENT set: its value, else the default or
    Unset."""

    def substitute(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if environment.get(name):
            return environment[name]
        if kind == "?":
            raise Unset(f"{name}: {rest}")
        return rest

    return re.sub(r"\$\{([A-Z0-9_]+):([-?])([^}]*)\}", substitute, value)


def test_compose_file_matches_the_compose_specification_schema() -> None:
    schema = json.loads((DEPLOY / "schemas" / "compose-spec.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []


def test_the_schema_refuses_what_compose_would_refuse() -> None:
    schema = json.loads((DEPLOY / "schemas" / "compose-spec.json").read_text(encoding="utf-8"))
    broken = compose()
    broken["services"]["scheduling"]["depends_on"]["rabbitmq"]["condition"] = "healthy"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_its_own_database_and_can_run_as_several_replicas(service: str) -> None:
    spec = compose()["services"][service]
    assert "container_name" not in spec and "ports" not in spec
    env = {k: interpolated(str(v)) for k, v in spec["environment"].items()}
    database_urls = {k: v for k, v in env.items() if k.endswith("_DATABASE_URL")}
    assert list(database_urls) == [f"{service.upper()}_DATABASE_URL"]
    assert database_urls[f"{service.upper()}_DATABASE_URL"].endswith(f"@postgres:5432/{service}")
    settings = Settings(**{k.lower(): v for k, v in env.items() if k.startswith(("WERKPLAATSEN_", service.upper()))})
    settings.require_production()
    assert settings.werkplaatsen_smtp_url == "smtp://mailpit:1025"


@pytest.mark.parametrize("secret", ["WERKPLAATSEN_SECRET_KEY", "WERKPLAATSEN_ORGANIZER_TOKEN"])
def test_compose_has_no_fallback_secret_and_refuses_to_start_without_one(secret: str) -> None:
    value = str(compose()["services"]["registration"]["environment"][secret])
    with pytest.raises(Unset, match=secret):
        interpolated(value, {k: v for k, v in OPERATOR_ENV.items() if k != secret})


def test_no_broker_password_has_a_fallback_and_the_broker_listens_on_loopback_only() -> None:
    # A password every copy of this file shares would let anyone who reaches the broker act as the console.
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    passwords = sorted(
        set(re.findall(r"\$\{((?:WERKPLAATSEN_BROKER_PASSWORD_|RABBITMQ_ADMIN_PASSWORD)[A-Z_]*):", text))
    )
    assert len(passwords) == 7
    for name in passwords:
        uses = re.findall(rf"\$\{{{name}:(.)", text)
        assert uses and set(uses) == {"?"}, (name, uses)  # compose refuses to start without it
    assert all(port.startswith("127.0.0.1:") for port in compose()["services"]["rabbitmq"]["ports"])


def test_only_the_gateway_is_trusted_to_name_the_client() -> None:
    spec = compose()
    trusted = Settings(
        werkplaatsen_trusted_proxies=spec["services"]["registration"]["environment"]["WERKPLAATSEN_TRUSTED_PROXIES"]
    ).trusted_proxies
    gateway = spec["services"]["gateway"]["networks"]["default"]["ipv4_address"]
    assert [str(n) for n in trusted] == [f"{gateway}/32"]
    assert "FORWARDED_ALLOW_IPS" not in spec["services"]["registration"]["environment"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_waits_for_healthy_dependencies_and_has_a_health_check(service: str) -> None:
    spec = compose()["services"][service]
    assert spec["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert spec["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "/ready" in " ".join(spec["healthcheck"]["test"])
    assert _seconds(spec["stop_grace_period"]) > STOP_BOUND_SECONDS


def test_infrastructure_has_health_checks_management_plugin_and_a_mail_catcher() -> None:
    services = compose()["services"]
    assert "management" in services["rabbitmq"]["image"]
    assert services["rabbitmq"]["healthcheck"]["test"]
    assert services["postgres"]["healthcheck"]["test"]
    assert "mailpit" in services["mailpit"]["image"]
    mounts = services["postgres"]["volumes"]
    assert any(m.startswith("./postgres/init-databases.sh:/docker-entrypoint-initdb.d/") for m in mounts)


def test_the_postgres_init_script_creates_a_database_for_every_service_and_the_console() -> None:
    script = (DEPLOY / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    default = re.search(r"WERKPLAATSEN_SERVICES:-([a-z ]+)\}", script)
    assert default is not None and tuple(default.group(1).split()) == (*SERVICES, "console")


def test_every_file_the_compose_stack_mounts_exists() -> None:
    for name, spec in compose()["services"].items():
        for mount in spec.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which is missing"


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, duration
    return float(match.group(1))
