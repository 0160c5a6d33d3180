"""The organiser console is deployed like a service: compose and Kubernetes run `werkplaatsen console` on the port
their probes ask, give it its own database, tell it where each service's API is, and route /console to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.settings import SERVICES
from tests.deploy.test_deploy_dockerfile import kubernetes_args, parse
from tests.deploy.test_deploy_routes import gateway_target, ingress_target

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def compose_console() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]["console"]
    return spec


def kubernetes_console() -> tuple[dict[str, Any], dict[str, str]]:
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "console.yaml").read_text(encoding="utf-8")))
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (config,) = [d for d in docs if d["kind"] == "ConfigMap"]
    return deployment["spec"]["template"]["spec"]["containers"][0], config["data"]


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_the_console_runs_its_own_command_on_port_8000(where: str) -> None:
    argv = compose_console()["command"] if where == "compose" else kubernetes_args()["console"]
    path, params = parse(argv)
    assert path == ["console"] and params["port"] == 8000


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_the_console_is_told_where_every_service_api_is(where: str) -> None:
    environment = compose_console()["environment"] if where == "compose" else kubernetes_console()[1]
    for service in SERVICES:
        assert environment[f"CONSOLE_{service.upper()}_URL"] == f"http://{service}:8000"


def test_the_console_probes_ask_its_own_health_and_readiness() -> None:
    container, _ = kubernetes_console()
    assert container["startupProbe"]["httpGet"]["path"] == "/console/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/console/ready"
    assert "/console/ready" in " ".join(compose_console()["healthcheck"]["test"])


def test_the_console_has_a_database_of_its_own_in_compose() -> None:
    url = compose_console()["environment"]["CONSOLE_DATABASE_URL"]
    assert url.startswith("postgresql+asyncpg://console:") and url.endswith("/console")


@pytest.mark.parametrize("target", [ingress_target, gateway_target], ids=["ingress", "gateway"])
def test_the_console_pages_and_api_reach_the_console(target) -> None:
    for path in ("/console/login", "/console/api/editions", "/console/api/openapi.json"):
        assert target(path) == "console"
