"""The Kubernetes manifests in deploy/k8s validate against the Kubernetes schemas (offline) and fit together."""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared.runtime import STOP_BOUND_SECONDS
from shared.settings import SERVICES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
# The oldest Kubernetes minor version the manifests are meant for (PodDisruptionBudget policy/v1, etc.).
KUBERNETES_VERSION = "1.30"
CUSTOM_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): DEPLOY / "schemas" / "keda-scaledobject.schema.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): DEPLOY / "schemas" / "keda-triggerauthentication.schema.json",
}


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def all_documents() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in manifest_files() for doc in documents(path)]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in all_documents() if doc["kind"] == kind}


def validate(doc: dict[str, Any]) -> None:
    """Raises when `doc` does not match its schema; an unknown kind is an error, not a pass."""
    custom = CUSTOM_SCHEMAS.get((doc["apiVersion"], doc["kind"]))
    if custom is not None:
        schema = json.loads(custom.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator(schema).validate(doc)
        return
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.fixture
def no_network(monkeypatch):  # noqa: ANN201
    """CI may have no network: the validation must not need it."""

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("schema validation tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_validates_against_its_schema_without_network(path: Path, no_network: None) -> None:
    docs = documents(path)
    assert docs
    for doc in docs:
        try:
            validate(doc)
        except kubernetes_validate.SchemaNotFoundError as exc:
            pytest.fail(exc.message)
        except jsonschema.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata'].get('name')}: {'.'.join(map(str, exc.path))}: {exc.message}")


def test_the_validation_catches_a_misspelt_field_and_a_scaled_object_without_triggers() -> None:
    deployment = copy.deepcopy(of_kind("Deployment")["scheduling"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/ready"}}
    with pytest.raises(jsonschema.ValidationError):
        validate(deployment)
    scaled = copy.deepcopy(of_kind("ScaledObject")["scheduling"])
    del scaled["spec"]["triggers"]
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)
    scaled = copy.deepcopy(of_kind("ScaledObject")["scheduling"])
    scaled["spec"]["triggers"][0]["metadata"]["mode"] = "Length"
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)


def test_the_custom_schemas_are_valid_json_schemas() -> None:
    for path in CUSTOM_SCHEMAS.values():
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


def test_kustomization_applies_every_manifest_except_the_release_job() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = {K8S / name for name in kustomization["resources"]}
    assert listed == {p for p in manifest_files() if p.parent == K8S}
    assert all(p.exists() for p in listed)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_deployment_service_config_secret_budget_and_scaler(service: str) -> None:
    deployment = of_kind("Deployment")[service]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert "replicas" not in deployment["spec"], "KEDA owns the replica count"
    assert _matches(of_kind("Service")[service]["spec"]["selector"], labels)
    assert _matches(of_kind("PodDisruptionBudget")[service]["spec"]["selector"]["matchLabels"], labels)
    assert f"{service.upper()}_DATABASE_URL" in of_kind("Secret")[f"werkplaatsen-{service}"]["stringData"]
    assert f"werkplaatsen-{service}" in of_kind("ConfigMap")
    (container,) = pod["spec"]["containers"]
    assert container["args"][:2] == ["run", service]
    for ref in container["envFrom"]:
        kind, name = (
            ("ConfigMap", ref["configMapRef"]["name"])
            if "configMapRef" in ref
            else ("Secret", ref["secretRef"]["name"])
        )
        assert name in of_kind(kind), f"{service} reads {kind} {name}, which no manifest defines"


@pytest.mark.parametrize("service", SERVICES)
def test_probes_resources_and_grace_period_fit_the_service(service: str) -> None:
    spec = of_kind("Deployment")[service]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert set(container["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) & set(container["resources"]["limits"])
    # Kubernetes kills the pod after the grace period: it must exceed the service's own stopping bound.
    assert spec["terminationGracePeriodSeconds"] > STOP_BOUND_SECONDS
    assert spec["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("service", SERVICES)
def test_the_scaler_watches_the_service_queue_and_keeps_one_replica(service: str) -> None:
    scaled = of_kind("ScaledObject")[service]["spec"]
    assert scaled["scaleTargetRef"]["name"] == service
    assert scaled["minReplicaCount"] >= 1  # the outbox relay and background jobs live in the replicas
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == f"werkplaatsen.{service}"
    auth = of_kind("TriggerAuthentication")[trigger["authenticationRef"]["name"]]
    for ref in auth["spec"]["secretTargetRef"]:
        assert ref["key"] in of_kind("Secret")[ref["name"]]["stringData"]


def test_the_release_job_migrates_each_service_with_its_own_database_secret() -> None:
    (job,) = documents(K8S / "jobs" / "db-upgrade.yaml")
    containers = job["spec"]["template"]["spec"]["containers"]
    assert {c["name"]: c["args"] for c in containers} == {s: ["db", "upgrade", s] for s in SERVICES}
    for container in containers:
        assert container["envFrom"] == [{"secretRef": {"name": f"werkplaatsen-{container['name']}"}}]


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())
