"""The console's API for editions on the whole system in one process: an organiser creates an edition (the
command goes to scheduling with the organiser as its actor), reads it back, and finds it in the audit log;
other roles are refused; bad input and an existing slug get the usual error items; the OpenAPI document is
generated from the declared operations and is valid."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from openapi_spec_validator import validate

from tests.console_support import Console, new_edition, running_console


@pytest.fixture
async def console(tmp_path) -> AsyncIterator[Console]:
    async with running_console(tmp_path / "var") as running:
        yield running


async def test_an_organiser_creates_an_edition_reads_it_back_and_finds_it_in_the_audit_log(console: Console) -> None:
    token = await console.token("anna@platform31.nl", "organiser")
    created = await console.api("POST", "/console/api/editions", token, json=new_edition("2028-voorjaar"))
    assert created.status_code == 201, created.text
    assert created.json() == {"status": "accepted", "edition": "2028-voorjaar"}

    shown = await console.api("GET", "/console/api/editions/2028-voorjaar", token)
    assert shown.status_code == 200
    assert shown.json()["slug"] == "2028-voorjaar"
    assert len(shown.json()["sessions"]) == 3

    audit = (await console.api("GET", "/console/api/audit?limit=5", token)).json()["items"]
    entry = next(item for item in audit if item["action"] == "ScheduleEdition")
    assert entry["subject"] == "edition:2028-voorjaar"
    assert entry["outcome"] == "accepted"
    assert entry["actor"] == await console.account_id("anna@platform31.nl")


async def test_creating_an_edition_under_an_existing_slug_is_a_conflict(console: Console) -> None:
    token = await console.token("anna@platform31.nl", "organiser")
    assert (
        await console.api("POST", "/console/api/editions", token, json=new_edition("2028-najaar"))
    ).status_code == 201
    again = await console.api("POST", "/console/api/editions", token, json=new_edition("2028-najaar"))
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "edition_exists"
    assert again.json()["errors"][0]["field"] == "edition"


async def test_an_edition_with_bad_fields_is_refused_field_by_field_and_nothing_is_created(console: Console) -> None:
    token = await console.token("anna@platform31.nl", "organiser")
    body = new_edition("2029-voorjaar", capacity={"min_trios": 0, "max_trios": 20}, sessions=[])
    refused = await console.api("POST", "/console/api/editions", token, json=body)
    assert refused.status_code == 422
    fields = {e["field"] for e in refused.json()["errors"]}
    assert {"capacity.min_trios", "sessions"} <= fields
    assert all(e["message"] for e in refused.json()["errors"])
    assert (await console.api("GET", "/console/api/editions/2029-voorjaar", token)).status_code == 404


async def test_the_actor_is_set_by_the_console_not_by_the_caller(console: Console) -> None:
    token = await console.token("anna@platform31.nl", "organiser")
    body = new_edition("2029-najaar", actor={"account_id": "someone-else", "role": "organiser"})
    refused = await console.api("POST", "/console/api/editions", token, json=body)
    assert refused.status_code == 422
    assert refused.json()["errors"][0] == {
        "field": "actor",
        "code": "set_by_console",
        "message": "Dit veld vult de console zelf in; laat het weg.",
    }


async def test_a_viewer_and_a_facilitator_may_read_editions_but_not_create_them(console: Console) -> None:
    organiser = await console.token("anna@platform31.nl", "organiser")
    await console.api("POST", "/console/api/editions", organiser, json=new_edition("2030-voorjaar"))
    viewer = await console.token("vera@zwolle.nl", "viewer")
    facilitator = await console.token("fenna@platform31.nl", "facilitator", editions=["2030-voorjaar"])
    for token in (viewer, facilitator):
        refused = await console.api("POST", "/console/api/editions", token, json=new_edition("2030-najaar"))
        assert refused.status_code == 403
        assert "edities aanmaken en wijzigen" in refused.json()["errors"][0]["message"]
        assert (await console.api("GET", "/console/api/editions/2030-voorjaar", token)).status_code == 200
    listed = (await console.api("GET", "/console/api/editions", facilitator)).json()["editions"]
    assert [e["slug"] for e in listed] == ["2030-voorjaar"]


async def test_without_a_token_the_api_answers_401(console: Console) -> None:
    response = await console.http.post("/console/api/editions", json=new_edition("2031-voorjaar"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_the_openapi_document_is_valid_and_lists_the_operations_the_console_serves(console: Console) -> None:
    document = (await console.http.get("/console/api/openapi.json")).json()
    validate(document)
    assert document["paths"]["/api/editions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    new_edition_schema = document["components"]["schemas"]["NewEdition"]
    assert "actor" not in new_edition_schema["properties"]
    assert "venue" in new_edition_schema["required"]
    assert {"/api/editions/{slug}", "/api/audit"} <= set(document["paths"])
    docs = await console.http.get("/console/api/docs")
    assert docs.status_code == 200 and "SwaggerUIBundle" in docs.text
    assert (await console.http.get("/console/api/docs/swagger-ui-bundle.js")).status_code == 200


async def test_a_signed_in_organiser_reaches_the_api_with_the_session_too(console: Console) -> None:
    async with console.browser("anna@platform31.nl", "organiser") as browser:
        created = await browser.post("/console/api/editions", json=new_edition("2031-najaar"))
        assert created.status_code == 201, created.text


async def test_the_console_answers_its_probes_without_a_login(console: Console) -> None:
    assert (await console.http.get("/console/health")).json()["status"] == "ok"
    ready = await console.http.get("/console/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
