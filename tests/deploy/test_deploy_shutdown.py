"""Stopping a service: in-flight work finishes, careful jobs end their step, the outbox is flushed, in bounded time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.scheduling.adapters import Inbox, Outbox
from services.scheduling.bootstrap import MIGRATIONS
from shared import runtime
from shared.contract.scheduling import PlaceReleased, SchedulingCommandRejected
from shared.db import Database
from shared.messaging.embedded import EmbeddedBroker
from shared.messaging.messages import Consumer, Incoming, Outgoing
from shared.messaging.outbox import Cause, OutboxRelay
from shared.messaging.outbox import Outbox as OutboxWriter
from shared.messaging.processing import MessageStore
from shared.runtime import Service
from tests.support import wait_until


@dataclass
class RecordingTransport:
    """Records what happens, in order; `in_flight` is work a consumer is doing when stopping begins."""

    steps: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    in_flight: list[asyncio.Future[None]] = field(default_factory=list)

    async def start(self, consumers: Mapping[str, Consumer]) -> None:
        self.steps.append("start")

    async def stop_consuming(self) -> None:
        self.steps.append("stop_consuming")
        await asyncio.gather(*self.in_flight)
        self.steps.append("in_flight_done")

    async def stop(self) -> None:
        self.steps.append("stop")

    async def ping(self) -> bool:
        return True

    async def publish(self, out: Outgoing) -> None:
        self.published.append(out.message_type)
        self.steps.append(f"publish {out.message_type}")


def service(tmp_path, transport: RecordingTransport, **jobs: list) -> Service:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'scheduling.sqlite3'}")
    return Service(
        name="scheduling",
        store=MessageStore(db, "scheduling", Outbox, Inbox, SchedulingCommandRejected),
        relay=OutboxRelay(db, Outbox, transport.publish, poll_interval=60),
        transport=transport,
        migrations=MIGRATIONS,
        consumers={},
        **jobs,
    )


async def emit(svc: Service, registration_id: str) -> None:
    async with svc.store.db.transaction() as session:
        OutboxWriter(session, Outbox, "scheduling", Cause("m", "c")).emit(
            PlaceReleased(registration_id=registration_id, edition="2027-najaar")
        )


async def test_events_of_work_finishing_during_the_stop_are_published_before_the_connection_closes(tmp_path) -> None:
    transport = RecordingTransport()
    svc = service(tmp_path, transport)
    await svc.start()

    async def handler_still_running() -> None:
        await asyncio.sleep(0.2)
        await emit(svc, "r-late")  # committed by a message handled while the service stops

    transport.in_flight.append(asyncio.ensure_future(handler_still_running()))
    await svc.stop()

    assert transport.steps == ["start", "stop_consuming", "in_flight_done", "publish PlaceReleased", "stop"]
    assert await svc.relay.pending() == 0


async def test_a_cooperative_job_finishes_its_step_and_a_plain_job_is_cancelled(tmp_path) -> None:
    events: list[str] = []
    handing_over = asyncio.Event()

    async def mail_sender(stop: asyncio.Event) -> None:
        while not stop.is_set():
            events.append("handover begins")
            handing_over.set()
            await asyncio.sleep(0.3)  # e.g. an SMTP handoff that must not be cut off halfway
            events.append("handover done")
        events.append("sender returned")

    async def timer() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            events.append("timer cancelled")
            raise

    svc = service(tmp_path, RecordingTransport(), background=[timer], cooperative=[mail_sender])
    await svc.start()
    await asyncio.wait_for(handing_over.wait(), 5)
    await svc.stop()

    assert events[-2:] == ["handover done", "sender returned"]
    assert "timer cancelled" in events


async def test_a_job_that_ignores_the_stop_event_is_cancelled_after_the_grace_period(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(runtime, "JOB_GRACE_SECONDS", 0.2)

    async def stubborn(stop: asyncio.Event) -> None:
        await asyncio.sleep(3600)

    svc = service(tmp_path, RecordingTransport(), cooperative=[stubborn])
    await svc.start()
    started = time.monotonic()
    await svc.stop()
    assert time.monotonic() - started < 2


async def test_a_transport_that_cannot_stop_consuming_in_time_does_not_hold_up_the_stop(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(runtime, "CONSUMER_GRACE_SECONDS", 0.1)
    transport = RecordingTransport()
    transport.in_flight.append(asyncio.get_running_loop().create_future())  # never finishes
    svc = service(tmp_path, transport)
    await svc.start()
    started = time.monotonic()
    await svc.stop()
    assert time.monotonic() - started < 4
    assert transport.steps[-1] == "stop"


async def test_the_embedded_broker_lets_the_message_in_hand_finish_and_keeps_the_rest(tmp_path) -> None:
    path = tmp_path / "broker.sqlite3"
    broker = EmbeddedBroker(path, concurrency=1)
    await broker.open()
    started = asyncio.Event()
    finished: list[str] = []

    async def slow(msg: Incoming) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.append(msg.message_id or "")

    transport = broker.transport("a")
    await transport.start({"registration.TrioRegistered": slow})
    for n in (1, 2):
        await broker.publish(
            Outgoing(
                exchange="werkplaatsen.events",
                routing_key="registration.TrioRegistered",
                body=b"{}",
                message_id=f"m{n}",
                message_type="TrioRegistered",
                correlation_id="c",
            )
        )
    await asyncio.wait_for(started.wait(), 5)
    await transport.stop_consuming()
    await broker.close()
    assert finished == ["m1"]

    again = EmbeddedBroker(path)
    await again.open()
    redelivered: list[str] = []

    async def record(msg: Incoming) -> None:
        redelivered.append(msg.message_id or "")

    await again.transport("a").start({"registration.TrioRegistered": record})
    await wait_until(lambda: redelivered, timeout=5)
    await again.close()
    assert redelivered == ["m2"]  # m1 was acked when it finished; m2 was never started
