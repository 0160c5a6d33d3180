"""SIGTERM to notifications with a backlog of mails and every SMTP conversation waiting for the server's answer: the
process stops within a few seconds, and after a restart every mail has reached the server exactly once."""

from __future__ import annotations

import asyncio
import collections
import re
import signal
import time
from typing import Any

import aio_pika
import asyncpg
import pytest
from aiosmtpd.controller import Controller

from tests.integration.test_notifications_exactly_once import trio_registered
from tests.integration.test_shutdown import exited, log_events
from tests.support import ServiceEnv, amqp_url, database_url, free_port, strong_secret, wait_until

pytestmark = pytest.mark.integration

TRIOS = 400
MAILS = 3 * TRIOS
CONCURRENCY = 8
# What "a few seconds" means here: the sender's grace for the conversations in hand, then the outbox and the
# connections; far below the runtime's own worst case (shared/runtime.py STOP_BOUND_SECONDS).
STOP_WITHIN_SECONDS = 8.0
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class HoldingServer:
    """Takes every message in full (it counts as received then) but holds its answer while `holding` is set: the
    sender's conversations are all waiting for a reply when the signal comes."""

    def __init__(self) -> None:
        self.holding = True
        self.received: list[bytes] = []
        self.waiting = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        found = _MESSAGE_ID.search(envelope.content)
        self.received.append(found.group(1) if found else b"")
        self.waiting += 1
        try:
            while self.holding:
                await asyncio.sleep(0.02)
        finally:
            self.waiting -= 1
        return "250 OK"


async def statuses(database: str) -> dict[str, int]:
    connection = await asyncpg.connect(database_url(database).replace("+asyncpg", ""))
    try:
        rows = await connection.fetch("SELECT status, count(*) AS n FROM mails GROUP BY status")
    finally:
        await connection.close()
    return {row["status"]: row["n"] for row in rows}


async def publish_registrations(url: str) -> None:
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        events = await channel.declare_exchange("werkplaatsen.events", "topic", durable=True)
        for start in range(0, TRIOS, 100):
            await asyncio.gather(
                *(
                    events.publish(
                        aio_pika.Message(
                            msg.body,
                            message_id=msg.message_id,
                            type=msg.message_type,
                            correlation_id=msg.correlation_id,
                            content_type="application/json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=msg.routing_key,
                    )
                    for msg in (
                        trio_registered(f"reg-{i}", prefix=f"t{i}.") for i in range(start, min(start + 100, TRIOS))
                    )
                )
            )


async def test_sigterm_with_a_backlog_and_unanswered_conversations_stops_within_seconds_and_each_mail_arrives_once(
    tmp_path,
) -> None:
    server = HoldingServer()
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    env = ServiceEnv(
        "shutdown",
        tmp_path / "data",
        strong_secret("shutdown-secret"),
        strong_secret("shutdown-token"),
        services=("notifications",),
        extra={"NOTIFICATIONS_SMTP_CONCURRENCY": str(CONCURRENCY)},
        smtp_url=f"smtp://127.0.0.1:{controller.port}",
    )
    try:
        async with env:
            service = env.process("notifications", tmp_path / "notifications.log")
            service.start()
            try:
                await service.wait_ready()
                await publish_registrations(amqp_url(env.vhost))
                database = env.databases["notifications"]
                await wait_until(
                    lambda: _queued(database, MAILS), timeout=180, interval=0.5, what=f"{MAILS} mails queued"
                )
                await wait_until(
                    lambda: server.waiting == CONCURRENCY, timeout=60, what="every conversation awaiting its answer"
                )
                backlog = (await statuses(database)).get("pending", 0)
                assert backlog >= MAILS - CONCURRENCY

                started = time.monotonic()
                assert service.process is not None
                service.process.send_signal(signal.SIGTERM)
                await exited(service, timeout=60)
                stopped_after = time.monotonic() - started
                assert "service_stopped" in log_events(service)
                assert stopped_after < STOP_WITHIN_SECONDS

                # The conversations given up were handed over (the server has them): they are not sent again.
                server.holding = False
                service.start()
                await service.wait_ready()
                await wait_until(
                    lambda: _all_sent(database), timeout=300, interval=0.5, what="every mail recorded as sent"
                )
            finally:
                service.stop()
    finally:
        controller.stop()

    per_message = collections.Counter(server.received)
    assert len(per_message) == MAILS
    assert [m for m, n in per_message.items() if n > 1] == []


async def _queued(database: str, expected: int) -> bool:
    return sum((await statuses(database)).values()) >= expected


async def _all_sent(database: str) -> bool:
    return (await statuses(database)) == {"sent": MAILS}
