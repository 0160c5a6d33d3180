"""The organiser console as it is deployed: `werkplaatsen console` as a process of its own beside the four
services, on real RabbitMQ and PostgreSQL. Its first account comes from the CLI, as an operator makes it; the
console publishes commands on the broker (with the account as their actor) and hears their replies on a queue of
its own, and reads the services' APIs over HTTP."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aio_pika
import httpx
import pytest

from shared.settings import SERVICES
from tests.console_support import ConsoleProcess, cli, console_process, new_edition, sign_up
from tests.factories import trio
from tests.support import AMQP_HOST, ServiceEnv, amqp_url, running, strong_secret, wait_until


@dataclass
class Deployed:
    console: ConsoleProcess
    registration_url: str
    token: str
    account_id: str
    vhost: str
    console_user: str


@pytest.fixture(scope="module")
async def deployed(real_services, tmp_path_factory) -> AsyncIterator[Deployed]:
    logs = tmp_path_factory.mktemp("logs")
    services = (*SERVICES, "console")
    # The console has a broker user of its own, and the services believe an actor only from that user.
    user = f"wp_console_{uuid.uuid4().hex[:8]}"
    extra = {"WERKPLAATSEN_CONSOLE_BROKER_USERS": user}
    env = ServiceEnv(
        "e2econsole",
        tmp_path_factory.mktemp("data"),
        strong_secret("e2e-secret"),
        strong_secret("e2e-token"),
        services,
        extra,
    )
    async with env, broker_user(env.vhost, user) as password:
        processes = {name: env.process(name, logs / f"{name}.log") for name in SERVICES}
        console = console_process(env, processes, logs / "console.log")
        console.env["WERKPLAATSEN_BROKER_URL"] = f"amqp://{user}:{password}@{AMQP_HOST}:5672/{env.vhost}"
        async with running(*processes.values(), console):
            email = "anna@platform31.nl"
            link = cli(console.env, "accounts", "create", email, "--role", "organiser").strip().splitlines()[-1]
            await sign_up(console.url, link, "organiser")
            token = cli(console.env, "accounts", "token", email, "--name", "e2e").strip().splitlines()[-1]
            async with httpx.AsyncClient(base_url=console.url, timeout=30) as http:
                audit = await http.get("/console/api/audit", headers={"Authorization": f"Bearer {token}"})
            subject = next(i["subject"] for i in audit.json()["items"] if i["action"] == "account.create")
            account_id = subject.removeprefix("account:")
            yield Deployed(console, processes["registration"].url, token, account_id, env.vhost, user)


@asynccontextmanager
async def broker_user(vhost: str, user: str) -> AsyncIterator[str]:
    password = uuid.uuid4().hex

    def ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True)

    ctl("add_user", user, password)
    ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    try:
        yield password
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_user", user], check=False, capture_output=True)


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


async def test_a_command_with_an_actor_from_anyone_but_the_console_is_refused(deployed: Deployed) -> None:
    connection = await aio_pika.connect(amqp_url(deployed.vhost))  # guest: a front end, not the console
    async with connection:
        channel = await connection.channel()
        replies = await channel.declare_queue(exclusive=True)
        commands = await channel.get_exchange("werkplaatsen.commands")
        body = {"edition": "2028-e2e", "actor": {"account_id": deployed.account_id, "role": "organiser"}}
        await commands.publish(
            aio_pika.Message(json.dumps(body).encode(), message_id=str(uuid.uuid4()), reply_to=replies.name),
            routing_key="scheduling.CloseRegistration",
        )
        reply = await _next(replies)
        outcome = json.loads(reply.body)
        assert outcome["status"] == "rejected"
        assert outcome["errors"][0]["code"] == "untrusted_actor"

        # Nor can a front end claim to be the console: RabbitMQ checks the user_id against the connection's user.
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
            await commands.publish(
                aio_pika.Message(b"{}", message_id=str(uuid.uuid4()), user_id=deployed.console_user),
                routing_key="scheduling.CloseRegistration",
            )


async def _next(queue: aio_pika.abc.AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage:
    async def got() -> aio_pika.abc.AbstractIncomingMessage | None:
        return await queue.get(fail=False)

    message: aio_pika.abc.AbstractIncomingMessage = await wait_until(got, timeout=30, what="the service's reply")
    return message
