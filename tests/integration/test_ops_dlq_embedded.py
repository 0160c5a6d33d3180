"""Dead letters of the embedded broker (`werkplaatsen dev`): the same commands, on the broker's SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from shared.messaging import messages
from shared.messaging.dead_letters import scrub_dead_letters
from shared.messaging.embedded import EmbeddedBroker
from shared.messaging.messages import Incoming, Outgoing
from tests.support import wait_until


def werkplaatsen(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WERKPLAATSEN_")}
    env["WERKPLAATSEN_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "services", *args], env=env, capture_output=True, text=True, timeout=60
    )


def event(message_id: str, who: str) -> Outgoing:
    return Outgoing(
        exchange="werkplaatsen.events",
        routing_key="scheduling.PlaceReleased",
        body=json.dumps({"who": who}).encode(),
        message_id=message_id,
        message_type="PlaceReleased",
        correlation_id=message_id,
    )


async def test_dead_letters_in_development_are_listed_replayed_once_and_scrubbed(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(messages, "RETRY_DELAYS_SECONDS", (0.01,))
    broker = EmbeddedBroker(tmp_path / "broker.sqlite3")
    await broker.open()
    broken = True
    handled: list[str] = []

    async def consumer(msg: Incoming) -> None:
        if broken:
            raise RuntimeError("bug in the handler")
        handled.append(msg.message_id or "")

    await broker.transport("registration").start({"scheduling.PlaceReleased": consumer})
    try:
        await broker.publish(event("m-1", "bram"))
        await broker.publish(event("m-2", "anna@veenendaal.example"))
        await wait_until(lambda: _letters(broker, 2), what="two dead letters")

        listing = werkplaatsen(tmp_path, "dlq", "list", "registration")
        assert listing.returncode == 0, listing.stderr
        assert "m-1" in listing.stdout and "bug in the handler" in listing.stdout

        removed = await scrub_dead_letters(
            tmp_path / "broker.sqlite3", "registration", lambda body: b"anna@veenendaal.example" in body
        )
        assert removed == 1

        broken = False
        replayed = werkplaatsen(tmp_path, "dlq", "replay", "registration", "m-1")
        assert replayed.returncode == 0 and "replayed 1" in replayed.stdout
        await wait_until(lambda: handled == ["m-1"], what="the replayed message")
        assert "No dead letters." in werkplaatsen(tmp_path, "dlq", "list", "registration").stdout
        assert werkplaatsen(tmp_path, "dlq", "replay", "registration", "m-1").returncode == 1
    finally:
        await broker.close()
    assert handled == ["m-1"]


def test_without_a_development_broker_the_tools_say_so(tmp_path) -> None:
    result = werkplaatsen(tmp_path, "dlq", "list", "registration")
    assert result.returncode == 1
    assert "no embedded broker" in result.stderr


async def _letters(broker: EmbeddedBroker, count: int) -> bool:
    return len(await broker.dead_letters()) >= count
