"""The organiser console as it is deployed: `werkplaatsen console` as a process of its own beside the four
services, on real RabbitMQ and PostgreSQL. Its first account comes from the CLI, as an operator makes it; the
console publishes commands on the broker (with the account as their actor) and hears their replies on a queue of
its own, and reads the services' APIs over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from shared.settings import SERVICES
from tests.console_support import ConsoleProcess, cli, console_process, new_edition, sign_up
from tests.factories import trio
from tests.support import ServiceEnv, running, wait_until


@dataclass
class Deployed:
    console: ConsoleProcess
    registration_url: str
    token: str
    account_id: str


@pytest.fixture(scope="module")
async def deployed(real_services, tmp_path_factory) -> AsyncIterator[Deployed]:
    logs = tmp_path_factory.mktemp("logs")
    services = (*SERVICES, "console")
    async with ServiceEnv("e2econsole", tmp_path_factory.mktemp("data"), "e2e-secret", "e2e-token", services) as env:
        processes = {name: env.process(name, logs / f"{name}.log") for name in SERVICES}
        console = console_process(env, processes, logs / "console.log")
        async with running(*processes.values(), console):
            email = "anna@platform31.nl"
            link = cli(console.env, "accounts", "create", email, "--role", "organiser").strip().splitlines()[-1]
            await sign_up(console.url, link, "organiser")
            token = cli(console.env, "accounts", "token", email, "--name", "e2e").strip().splitlines()[-1]
            async with httpx.AsyncClient(base_url=console.url, timeout=30) as http:
                audit = await http.get("/console/api/audit", headers={"Authorization": f"Bearer {token}"})
            account_id = next(i["subject"] for i in audit.json()["items"] if i["action"] == "account.create")
            yield Deployed(console, processes["registration"].url, token, account_id)


async def test_an_edition_created_in_the_console_reaches_scheduling_on_the_broker_and_opens_registration(
    deployed: Deployed,
) -> None:
    headers = {"Authorization": f"Bearer {deployed.token}"}
    async with httpx.AsyncClient(base_url=deployed.console.url, headers=headers, timeout=30) as console:
        created = await console.post("/console/api/editions", json=new_edition("2028-e2e"))
        assert created.status_code == 201, created.text
        shown = await console.get("/console/api/editions/2028-e2e")
        assert shown.status_code == 200 and shown.json()["slug"] == "2028-e2e"

        # Registration learns of the edition from scheduling's event and takes trios for it.
        async with httpx.AsyncClient(base_url=deployed.registration_url, timeout=30) as registration:

            async def registered() -> bool:
                response = await registration.post("/api/registrations", json=trio("2028-e2e"))
                return response.status_code in (200, 201, 202)

            await wait_until(registered, timeout=60, what="registration taking trios for the new edition")

        audit = (await console.get("/console/api/audit", params={"limit": 20})).json()["items"]
        entry = next(item for item in audit if item["action"] == "ScheduleEdition")
        assert entry == {**entry, "actor": deployed.account_id, "subject": "edition:2028-e2e", "outcome": "accepted"}


async def test_a_refusal_by_the_service_comes_back_through_the_reply_queue_with_its_reason(deployed: Deployed) -> None:
    headers = {"Authorization": f"Bearer {deployed.token}"}
    async with httpx.AsyncClient(base_url=deployed.console.url, headers=headers, timeout=30) as console:
        closed = await console.post("/console/api/editions/does-not-exist/close")
        assert closed.status_code == 404, closed.text
        assert closed.json()["errors"][0]["code"] == "unknown_edition"
        audit = (await console.get("/console/api/audit", params={"limit": 5})).json()["items"]
        assert audit[0]["action"] == "CloseRegistration" and audit[0]["outcome"] == "rejected"
        assert "unknown_edition" in audit[0]["reason"]
        assert json.dumps(audit[0]).count(deployed.token) == 0
