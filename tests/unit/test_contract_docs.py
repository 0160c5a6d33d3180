"""The published contract (docs/asyncapi.json and docs/contract.md) matches the contract models and the services'
tables of what they consume; docs/architecture.md's pictures of the services match those tables."""

from __future__ import annotations

import importlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from services.ops import topology
from shared.contract import COMMANDS, EVENTS, Event, Reply, message_name
from shared.contract.asyncapi import render

DOCS = Path(__file__).resolve().parents[2] / "docs"
ASYNCAPI = DOCS / "asyncapi.json"
ARCHITECTURE = DOCS / "architecture.md"
GUIDE = DOCS / "contract.md"
CATALOGUE_HEADING = re.compile(r"^### ([a-z]+\.[A-Za-z]+)\s*$")


@cache
def asyncapi() -> dict[str, Any]:
    return json.loads(ASYNCAPI.read_text(encoding="utf-8"))


@cache
def json_blocks_by_heading() -> dict[str, list[str]]:
    """The ```json blocks of contract.md, keyed by the heading (without the #s) they appear under."""
    blocks: dict[str, list[str]] = {}
    heading = ""
    current: list[str] | None = None
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        if current is not None:
            if line.strip() == "```":
                blocks.setdefault(heading, []).append("\n".join(current))
                current = None
            else:
                current.append(line)
        elif line.startswith("#"):
            heading = line.lstrip("#").strip()
            blocks.setdefault(heading, [])
        elif line.strip() == "```json":
            current = []
    return blocks


def catalogue_headings() -> list[str]:
    return [
        m.group(1) for line in GUIDE.read_text(encoding="utf-8").splitlines() if (m := CATALOGUE_HEADING.match(line))
    ]


def resolve(document: dict[str, Any], reference: str) -> Any:
    node: Any = document
    for part in reference.removeprefix("#/").split("/"):
        node = node[unquote(part).replace("~1", "/").replace("~0", "~")]
    return node


def payload_schema(routing_key: str) -> dict[str, Any]:
    document = asyncapi()
    (message,) = document["channels"][routing_key]["messages"].values()
    payload = resolve(document, message["$ref"])["payload"]
    return resolve(document, payload["$ref"]) if "$ref" in payload else payload


def test_asyncapi_document_is_current() -> None:
    assert ASYNCAPI.exists() and ASYNCAPI.read_text(encoding="utf-8") == render(topology.subscriptions()), (
        "docs/asyncapi.json is out of date: run `werkplaatsen contract asyncapi`"
    )


@pytest.mark.parametrize("service", topology.SERVICES)
def test_asyncapi_document_lists_every_event_a_service_consumes_as_its_receive_operation(service: str) -> None:
    operations = asyncapi()["operations"]
    for routing_key in topology.topology(service).events:
        operation = operations[f"{service}:{routing_key}"]
        assert operation["action"] == "receive"
        assert operation["bindings"]["amqp"]["cc"] == [routing_key]


def test_architecture_pictures_are_drawn_from_the_current_tables() -> None:
    document = ARCHITECTURE.read_text(encoding="utf-8")
    assert topology.updated(document) == document, (
        "docs/architecture.md is out of date: run `werkplaatsen contract topology`"
    )


@pytest.mark.parametrize("service", topology.SERVICES)
def test_a_services_picture_shows_each_message_of_its_table_and_each_table_of_its_store(service: str) -> None:
    t = topology.topology(service)
    picture = topology.picture(t)
    consumed = importlib.import_module(f"services.{service}.consumes").CONSUMES
    assert {line.routing_key for line in consumed} == set(t.commands) | set(t.events)
    for routing_key in (*t.commands, *t.events, *t.emits):
        owner, name = routing_key.split(".", 1)
        assert (name if owner == service else routing_key) in picture
    assert " · ".join(t.tables) in picture
    assert t.tables and "inbox" in t.tables and "outbox" in t.tables


def test_asyncapi_document_is_version_3_with_the_contract_title() -> None:
    assert asyncapi()["asyncapi"] == "3.0.0"
    assert asyncapi()["info"]["title"] == "Werkplaatsen message contract"


@pytest.mark.parametrize("routing_key", sorted(COMMANDS))
def test_every_command_is_an_operation_the_services_receive(routing_key: str) -> None:
    document = asyncapi()
    assert document["channels"][routing_key]["address"] == routing_key
    assert document["operations"][routing_key]["action"] == "receive"
    assert payload_schema(routing_key)["title"] == COMMANDS[routing_key].__name__


@pytest.mark.parametrize("routing_key", sorted(EVENTS))
def test_every_event_is_an_operation_a_service_sends_on_the_events_exchange(routing_key: str) -> None:
    document = asyncapi()
    channel = document["channels"][routing_key]
    assert channel["address"] == routing_key
    assert channel["bindings"]["amqp"]["exchange"]["name"] == "werkplaatsen.events"
    assert document["operations"][routing_key]["action"] == "send"
    envelope = payload_schema(routing_key)
    assert {"event_id", "correlation_id", "causation_id", "data"} <= set(envelope["properties"])
    assert resolve(document, envelope["properties"]["data"]["$ref"])["title"] == EVENTS[routing_key].__name__


def test_register_trio_payload_schema_has_members_and_case() -> None:
    properties = payload_schema("registration.RegisterTrio")["properties"]
    assert {"members", "case"} <= set(properties)


def test_guide_has_one_heading_per_message_and_none_for_unknown_messages() -> None:
    headings = catalogue_headings()
    assert sorted(headings) == sorted(set(COMMANDS) | set(EVENTS)), (
        "docs/contract.md needs exactly one `### <routing key>` heading per message in COMMANDS and EVENTS"
    )


@pytest.mark.parametrize("routing_key", sorted(COMMANDS))
def test_worked_command_example_is_a_valid_command_body(routing_key: str) -> None:
    blocks = json_blocks_by_heading().get(routing_key, [])
    assert len(blocks) == 1, f"contract.md: `### {routing_key}` needs exactly one ```json example"
    COMMANDS[routing_key].model_validate(json.loads(blocks[0]))


@pytest.mark.parametrize("routing_key", sorted(EVENTS))
def test_worked_event_example_is_a_valid_envelope_of_that_event(routing_key: str) -> None:
    blocks = json_blocks_by_heading().get(routing_key, [])
    assert len(blocks) == 1, f"contract.md: `### {routing_key}` needs exactly one ```json example"
    envelope = Event[EVENTS[routing_key]].model_validate(json.loads(blocks[0]))  # type: ignore[valid-type]
    assert envelope.type == message_name(routing_key)
    assert envelope.producer == routing_key.split(".", 1)[0]
    assert envelope.version == EVENTS[routing_key].version


def test_reply_examples_are_valid_replies() -> None:
    blocks = json_blocks_by_heading()["Replies"]
    assert blocks
    for block in blocks:
        Reply.model_validate(json.loads(block))
