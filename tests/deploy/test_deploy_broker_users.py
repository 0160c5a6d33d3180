"""The broker users of the manifests against the code: each component connects as its own user, the users whose
actors the services believe are the console's and the operators', and the topic permissions let every publisher
send what it sends and no front end an organiser's command (docs/broker-permissions.md)."""

from __future__ import annotations

import importlib
import re
from urllib.parse import urlsplit

import pytest

from services.ops.broker_users import markdown_table, users
from shared.contract import COMMANDS, COMMANDS_EXCHANGE, EVENTS, EVENTS_EXCHANGE
from shared.settings import SERVICES
from tests.deploy.test_deploy_compose import compose, interpolated
from tests.deploy.test_deploy_k8s import K8S, documents, of_kind

COMPONENTS = (*SERVICES, "console")
TRUSTED = {"werkplaatsen-console", "werkplaatsen-operator"}
ORGANISER_COMMANDS = {
    line.routing_key
    for service in SERVICES
    for line in importlib.import_module(f"services.{service}.consumes").CONSUMES
    if line.given_by
}


def may_publish(component: str, exchange: str, routing_key: str) -> bool:
    return re.fullmatch(users()[component].topic_permissions()[exchange]["write"], routing_key) is not None


def user_of(url: str) -> str:
    return urlsplit(interpolated(url)).username or ""


def test_every_compose_component_connects_as_its_own_broker_user_and_trusts_the_console_and_operators() -> None:
    services = compose()["services"]
    for name in COMPONENTS:
        environment = services[name]["environment"]
        assert user_of(environment["WERKPLAATSEN_BROKER_URL"]) == f"werkplaatsen-{name}"
        assert set(environment["WERKPLAATSEN_CONSOLE_BROKER_USERS"].split(",")) == TRUSTED
    assert user_of(services["operator"]["environment"]["WERKPLAATSEN_BROKER_URL"]) == "werkplaatsen-operator"
    admin = services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_USER"]
    assert admin not in {user_of(services[n]["environment"]["WERKPLAATSEN_BROKER_URL"]) for n in COMPONENTS}


def test_compose_creates_the_users_with_the_very_urls_the_components_connect_with_before_they_start() -> None:
    services = compose()["services"]
    setup = services["broker-users"]
    assert setup["command"] == ["broker", "users"]
    for name in (*COMPONENTS, "operator"):
        given = setup["environment"][f"WERKPLAATSEN_BROKER_URL_{name.upper()}"]
        assert given == services[name]["environment"]["WERKPLAATSEN_BROKER_URL"]
        if name != "operator":
            assert services[name]["depends_on"]["broker-users"]["condition"] == "service_completed_successfully"


def test_every_kubernetes_component_has_its_broker_user_in_its_own_secret() -> None:
    secrets = of_kind("Secret")
    assert "WERKPLAATSEN_BROKER_URL" not in secrets["werkplaatsen"]["stringData"]
    for name in (*COMPONENTS, "operator"):
        assert user_of(secrets[f"werkplaatsen-{name}"]["stringData"]["WERKPLAATSEN_BROKER_URL"]) == (
            f"werkplaatsen-{name}"
        )
    trusted = of_kind("ConfigMap")["werkplaatsen"]["data"]["WERKPLAATSEN_CONSOLE_BROKER_USERS"]
    assert set(trusted.split(",")) == TRUSTED


def test_the_kubernetes_job_creates_each_user_from_its_components_secret() -> None:
    (job,) = documents(K8S / "jobs" / "broker-users.yaml")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["broker", "users"]
    given = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    for name in (*COMPONENTS, "operator"):
        assert given[f"WERKPLAATSEN_BROKER_URL_{name.upper()}"] == {
            "name": f"werkplaatsen-{name}",
            "key": "WERKPLAATSEN_BROKER_URL",
        }
    assert (
        given["WERKPLAATSEN_BROKER_ADMIN_URL"]["key"]
        in of_kind("Secret")[given["WERKPLAATSEN_BROKER_ADMIN_URL"]["name"]]["stringData"]
    )


@pytest.mark.parametrize("routing_key", sorted(COMMANDS))
def test_every_command_has_a_publisher_and_only_the_console_and_operators_give_an_organisers_one(
    routing_key: str,
) -> None:
    publishers = {c for c in users() if may_publish(c, COMMANDS_EXCHANGE, routing_key)}
    assert publishers, f"nobody may publish {routing_key}"
    if routing_key in ORGANISER_COMMANDS:
        assert publishers <= {"console", "operator"}
    assert not publishers & set(SERVICES)  # the services give no commands


def test_the_chat_bot_gives_what_a_participant_gives_and_nothing_an_organiser_does() -> None:
    assert {k for k in COMMANDS if may_publish("chat", COMMANDS_EXCHANGE, k)} == {
        "registration.RegisterTrio",
        "registration.CancelRegistration",
    }
    assert not any(may_publish("chat", COMMANDS_EXCHANGE, k) for k in ORGANISER_COMMANDS)
    # A routing key that only looks like an allowed one does not pass either.
    assert not may_publish("chat", COMMANDS_EXCHANGE, "registration.RegisterTrioX")
    assert not may_publish("chat", COMMANDS_EXCHANGE, "registration.RegisterTrio.x")


@pytest.mark.parametrize("routing_key", sorted(EVENTS))
def test_each_event_is_published_by_its_own_service_alone(routing_key: str) -> None:
    publishers = {c for c in users() if may_publish(c, EVENTS_EXCHANGE, routing_key)}
    assert publishers == {routing_key.split(".", 1)[0]}


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_may_bind_its_queue_to_the_commands_it_consumes_and_no_others(service: str) -> None:
    read = users()[service].topic_permissions()[COMMANDS_EXCHANGE]["read"]
    consumed = {
        line.routing_key
        for line in importlib.import_module(f"services.{service}.consumes").CONSUMES
        if line.routing_key in COMMANDS
    }
    assert {k for k in COMMANDS if re.fullmatch(read, k)} == consumed


def test_the_document_shows_the_table_the_code_applies() -> None:
    document = (K8S.parents[1] / "docs" / "broker-permissions.md").read_text(encoding="utf-8")
    assert markdown_table() in document
