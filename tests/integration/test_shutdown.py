"""SIGTERM mid-stream: a `werkplaatsen run` process stops within its bound and nothing is lost or duplicated."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import time

import aio_pika
import pytest

from shared.runtime import STOP_BOUND_SECONDS
from tests.factories import open_edition
from tests.support import Bus, ServiceProcess, amqp_url, database_url, free_port, strong_secret, wait_until

pytestmark = pytest.mark.integration

COMMANDS = 300


async def queue_depth(vhost: str, name: str) -> int:
    async with await aio_pika.connect(amqp_url(vhost)) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return queue.declaration_result.message_count


async def exited(process: ServiceProcess, timeout: float) -> int:
    assert process.process is not None
    return await wait_until(
        lambda: process.process.poll() is not None and [process.process.returncode],
        timeout=timeout,
        interval=0.05,
        what=f"{process.name} to exit",
    )


def log_events(process: ServiceProcess) -> list[str]:
    events = []
    for line in process.log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line).get("event", ""))
        except ValueError:
            continue
    return events


async def test_sigterm_mid_stream_finishes_or_hands_back_in_flight_work_and_nothing_is_lost_or_duplicated(
    vhost, pg_database, tmp_path
) -> None:
    database = await pg_database("shutdown")
    env = {
        **os.environ,
        "WERKPLAATSEN_BROKER_URL": amqp_url(vhost),
        "WERKPLAATSEN_CONSOLE_BROKER_USERS": "guest",
        "SCHEDULING_DATABASE_URL": database_url(database),
        "WERKPLAATSEN_SECRET_KEY": strong_secret("shutdown-secret"),
        "WERKPLAATSEN_ORGANIZER_TOKEN": strong_secret("shutdown-token"),
        "WERKPLAATSEN_DATA_DIR": str(tmp_path),
        "WERKPLAATSEN_LOG_FORMAT": "json",
    }
    service = ServiceProcess("scheduling", env, free_port(), tmp_path / "scheduling.log")
    service.start()
    try:
        await service.wait_ready()
        async with Bus(amqp_url(vhost)) as bus:
            sent = await asyncio.gather(
                *(bus.send("scheduling.ScheduleEdition", open_edition()) for _ in range(COMMANDS))
            )
            await bus.wait_for("EditionScheduled", count=10)
            done_before = len(bus.of("EditionScheduled"))
            assert done_before < COMMANDS, "the stream must still be flowing when the signal arrives"

            started = time.monotonic()
            service.process.send_signal(signal.SIGTERM)
            await exited(service, timeout=STOP_BOUND_SECONDS + 5)
            stopped_after = time.monotonic() - started
            events = log_events(service)
            assert "service_stopped" in events, events[-20:]
            assert stopped_after < STOP_BOUND_SECONDS

            # What was not finished is still in the queue (never acked), and a restart processes it.
            service.start()
            await service.wait_ready()
            await bus.wait_for("EditionScheduled", count=COMMANDS, timeout=120)
            await wait_until(lambda: _drained(vhost), timeout=30, what="the queue to drain")
            outcomes = bus.of("EditionScheduled")

        per_command = collections.Counter(e["correlation_id"] for e in outcomes)
        assert set(per_command) == set(sent)
        assert [c for c, n in per_command.items() if n > 1] == []
        assert await queue_depth(vhost, "werkplaatsen.scheduling.dlq") == 0
    finally:
        service.stop()


async def _drained(vhost: str) -> bool:
    return await queue_depth(vhost, "werkplaatsen.scheduling") == 0
