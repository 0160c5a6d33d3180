"""The public entry points (Kubernetes Ingress, compose gateway) send every page and API route to its own service,
and none of the services' /health, /ready or /metrics."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml
from starlette.routing import Route

from shared.settings import SERVICES, Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
INTERNAL = {"/health", "/ready", "/metrics"}


class NoBroker:
    async def start(self, consumers: object) -> None: ...
    async def stop(self) -> None: ...
    async def ping(self) -> bool:
        return True

    async def publish(self, out: object) -> None: ...


def public_paths(tmp_path: Path) -> dict[str, str]:
    """Every route path a service serves (parameters filled in) -> that service."""
    settings = Settings(werkplaatsen_data_dir=tmp_path)
    found = {}
    for name in SERVICES:
        service = importlib.import_module(f"services.{name}.bootstrap").build(settings, NoBroker())
        for route in service.routes:
            if isinstance(route, Route) and not route.path.startswith("/dev"):
                found[re.sub(r"\{[^}]+\}", "x", route.path)] = name
    return found


def ingress_rules() -> list[tuple[str, str, str]]:
    (ingress,) = yaml.safe_load_all((DEPLOY / "k8s" / "ingress.yaml").read_text(encoding="utf-8"))
    (rule,) = ingress["spec"]["rules"]
    return [(p["pathType"], p["path"], p["backend"]["service"]["name"]) for p in rule["http"]["paths"]]


def ingress_target(path: str) -> str | None:
    """Kubernetes' rule: an Exact match wins, then the longest Prefix matching whole path elements."""
    rules = ingress_rules()
    for kind, rule, service in rules:
        if kind == "Exact" and rule == path:
            return service
    prefixes = [
        (rule, service)
        for kind, rule, service in rules
        if kind == "Prefix" and (path == rule or path.startswith(rule.rstrip("/") + "/"))
    ]
    return max(prefixes, key=lambda p: len(p[0]))[1] if prefixes else None


def gateway_target(path: str) -> str | None:
    """nginx: an exact location wins, then the longest prefix location; `return 404` counts as none."""
    locations = re.findall(
        r"location\s+(=\s+)?(\S+)\s*\{\s*(proxy_pass http://\$(\w+)|return 404)",
        (DEPLOY / "gateway" / "nginx.conf").read_text(encoding="utf-8"),
    )
    for exact, rule, _, service in locations:
        if exact and rule == path:
            return service or None
    prefixes = [(rule, service) for exact, rule, _, service in locations if not exact and path.startswith(rule)]
    best = max(prefixes, key=lambda p: len(p[0])) if prefixes else None
    return (best[1] or None) if best else None


@pytest.mark.parametrize("target", [ingress_target, gateway_target], ids=["ingress", "gateway"])
def test_every_route_of_a_service_reaches_that_service(target, tmp_path) -> None:
    paths = public_paths(tmp_path)
    assert set(paths.values()) == set(SERVICES)
    wrong = {path: (service, target(path)) for path, service in paths.items() if target(path) != service}
    assert wrong == {}


@pytest.mark.parametrize("target", [ingress_target, gateway_target], ids=["ingress", "gateway"])
def test_health_readiness_and_metrics_are_not_public(target) -> None:
    assert {path: target(path) for path in INTERNAL} == dict.fromkeys(INTERNAL)
