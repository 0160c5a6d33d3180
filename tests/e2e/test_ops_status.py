"""`werkplaatsen status` and /metrics against the four services running as processes on RabbitMQ and PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.settings import SERVICES
from tests.factories import open_edition
from tests.support import free_port, wait_until

pytestmark = pytest.mark.e2e

MANAGEMENT_URL = "http://127.0.0.1:15672"


def management_answers() -> bool:
    try:
        with urllib.request.urlopen(f"{MANAGEMENT_URL}/api/overview", timeout=2):
            return True
    except OSError as exc:  # 401 means it runs (we sent no credentials)
        return getattr(exc, "code", None) == 401


@pytest.fixture(scope="module")
async def management() -> str:
    """RabbitMQ's management API; this machine's broker gets the plugin enabled when it lacks it."""
    if not management_answers():
        assert shutil.which("rabbitmq-plugins"), "the management API is not reachable and rabbitmq-plugins is missing"
        subprocess.run(["rabbitmq-plugins", "enable", "rabbitmq_management"], check=True, capture_output=True)
        await wait_until(management_answers, timeout=60, interval=0.5, what="the RabbitMQ management API")
    return MANAGEMENT_URL


def status(system, *args: str, urls: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    urls = urls if urls is not None else {name: system[name].url for name in SERVICES}
    env = {**os.environ, "WERKPLAATSEN_BROKER_URL": system.amqp_url}
    argv = [sys.executable, "-m", "services", "status", "--json", *args]
    for name, url in urls.items():
        argv += ["--url", f"{name}={url}"]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def by_service(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["service"]: s for s in answer["services"]}


def all_ready_and_idle(answer: dict[str, Any]) -> bool:
    return all(
        s["ready"]
        and s["queue"]["consumers"] == 1
        and s["queue"]["messages"] == 0
        and s["outbox"] == 0
        and s["dead_letters"] == 0
        for s in answer["services"]
    )


async def test_status_shows_every_service_ready_consuming_and_idle_from_the_management_api(system, management) -> None:
    async def settled() -> dict[str, Any] | None:
        code, answer = status(system, "--management-url", management)
        return answer if code == 0 and all_ready_and_idle(answer) else None

    answer = await wait_until(settled, timeout=60, interval=1, what="an idle system in the status")
    assert answer["source"].startswith("RabbitMQ management API")
    assert answer["healthy"] is True
    assert all(s["queue"]["unacked"] == 0 for s in answer["services"])


async def test_without_the_management_api_status_declares_the_queues_passively(system) -> None:
    code, answer = status(system, "--no-management")
    assert code == 0
    assert answer["source"].startswith("AMQP passive declarations")
    assert {name: s["queue"]["consumers"] for name, s in by_service(answer).items()} == dict.fromkeys(SERVICES, 1)


async def test_a_dead_letter_shows_in_the_status_and_in_the_metrics(system, bus) -> None:
    await bus.commands.channel.default_exchange.publish(  # straight into registration's queue, as a broken event
        _message(b'{"not": "an event"}', "scheduling.PlaceReleased"), routing_key="werkplaatsen.registration"
    )

    async def dead_letter_counted() -> dict[str, Any] | None:
        _, answer = status(system, "--no-management")
        return answer if by_service(answer)["registration"]["dead_letters"] == 1 else None

    await wait_until(dead_letter_counted, timeout=30, interval=0.5, what="the dead letter in the status")
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{system['registration'].url}/metrics")).text
    assert (
        sample(text, "werkplaatsen_dead_letters_total", service="registration", routing_key="scheduling.PlaceReleased")
        == 1
    )

    env = {**os.environ, "WERKPLAATSEN_BROKER_URL": system.amqp_url}
    purge = subprocess.run(
        [sys.executable, "-m", "services", "dlq", "purge", "registration", "--all", "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert purge.returncode == 0 and "deleted 1" in purge.stdout


async def test_a_service_that_does_not_answer_makes_the_status_fail(system) -> None:
    urls = {name: system[name].url for name in SERVICES} | {"reporting": f"http://127.0.0.1:{free_port()}"}
    code, answer = status(system, "--no-management", urls=urls)
    assert code == 1
    assert by_service(answer)["reporting"]["ready"] is False
    assert by_service(answer)["scheduling"]["ready"] is True


async def test_metrics_carry_faststream_counters_and_the_outbox_of_each_service(system, bus) -> None:
    await bus.send("scheduling.ScheduleEdition", open_edition())
    await bus.wait_for("EditionScheduled")
    async with httpx.AsyncClient() as client:
        texts = {name: (await client.get(f"{system[name].url}/metrics")).text for name in SERVICES}

    scheduling = texts["scheduling"]
    assert sample(scheduling, "faststream_received_messages_total", app_name="werkplaatsen-scheduling") >= 1
    assert (
        sample(scheduling, "werkplaatsen_outbox_published_total", service="scheduling", message_type="EditionScheduled")
        >= 1
    )
    for name, text in texts.items():
        assert sample(text, "werkplaatsen_outbox_pending", service=name) is not None
        assert sample(text, "werkplaatsen_outbox_oldest_age_seconds", service=name) is not None


def sample(text: str, name: str, **labels: str) -> float | None:
    total = None
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total = (total or 0) + s.value
    return total


def _message(body: bytes, routing_key: str):  # noqa: ANN202
    import aio_pika

    return aio_pika.Message(
        body,
        message_id=f"broken-{free_port()}",
        type="PlaceReleased",
        headers={"x-original-routing-key": routing_key},
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
