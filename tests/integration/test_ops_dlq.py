"""Dead letters on RabbitMQ: listed, shown, replayed after the fix with one effect, purged, scrubbed for privacy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aio_pika
import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.contract.common import CommandRejected
from shared.contract.scheduling import PlaceReleased
from shared.db import Database, InboxMixin, OutboxMixin, utcnow
from shared.messaging import messages
from shared.messaging.dead_letters import scrub_dead_letters
from shared.messaging.messages import Incoming, Outgoing
from shared.messaging.processing import MessageStore, run_event
from shared.messaging.rabbit import DELIVERY_LIMIT, RabbitTransport, dead_letter_queue_name, queue_name
from tests.support import amqp_url, database_url, wait_until

pytestmark = pytest.mark.integration

SERVICE = "registration"


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class Released(Base):
    """The consumer's effect: one row per PlaceReleased applied."""

    __tablename__ = "released"
    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)


@dataclass
class Consumer:
    """A consumer with a bug that an operator can 'fix'; effects go through the real inbox."""

    store: MessageStore
    broken: bool = True
    attempts: list[str] = field(default_factory=list)

    async def __call__(self, msg: Incoming) -> None:
        self.attempts.append(msg.message_id or "")

        async def work(data: PlaceReleased, _envelope: object, uow) -> None:
            if self.broken:
                raise RuntimeError("template for PlaceReleased is missing")
            uow.session.add(Released(registration_id=data.registration_id))

        await run_event(self.store, msg, PlaceReleased, work)

    async def effects(self) -> list[str]:
        async with self.store.db.sessions() as session:
            return list((await session.execute(select(Released.registration_id))).scalars())


@pytest.fixture
async def consumer(vhost, pg_database, monkeypatch) -> AsyncIterator[Consumer]:
    monkeypatch.setattr(messages, "RETRY_DELAYS_SECONDS", (0.05, 0.1))
    monkeypatch.setattr("shared.messaging.rabbit.RETRY_DELAYS_SECONDS", (0.05, 0.1))
    db = Database(database_url(await pg_database("dlq")))
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    transport = RabbitTransport(amqp_url(vhost), SERVICE)
    store = MessageStore(db, SERVICE, Outbox, Inbox, CommandRejected)
    consumer = Consumer(store)
    await transport.start({PlaceReleased.routing_key: consumer})
    consumer.transport = transport  # type: ignore[attr-defined]
    yield consumer
    await transport.stop()
    await db.dispose()


def event(registration_id: str, **extra: str) -> Outgoing:
    event_id = str(uuid.uuid4())
    envelope = {
        "event_id": event_id,
        "type": "PlaceReleased",
        "version": 1,
        "occurred_at": utcnow().isoformat(),
        "producer": "scheduling",
        "correlation_id": f"c-{registration_id}",
        "causation_id": "c",
        "data": {"registration_id": registration_id, "edition": "2027-najaar", **extra},
    }
    return Outgoing(
        exchange="werkplaatsen.events",
        routing_key=PlaceReleased.routing_key,
        body=json.dumps(envelope).encode(),
        message_id=event_id,
        message_type="PlaceReleased",
        correlation_id=f"c-{registration_id}",
    )


def werkplaatsen(vhost: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WERKPLAATSEN_BROKER_URL": amqp_url(vhost)}
    return subprocess.run(
        [sys.executable, "-m", "services", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def depth(vhost: str, queue: str) -> int:
    async with await aio_pika.connect(amqp_url(vhost)) as connection:
        declared = await (await connection.channel()).declare_queue(queue, passive=True)
        return declared.declaration_result.message_count


async def dead_lettered(vhost: str, count: int) -> None:
    async def enough() -> bool:
        return await depth(vhost, dead_letter_queue_name(SERVICE)) >= count

    await wait_until(enough, what=f"{count} dead letter(s)")


async def test_a_dead_letter_replayed_after_the_fix_takes_effect_once(consumer: Consumer, vhost: str) -> None:
    failing = event("r-1")
    await consumer.transport.publish(failing)
    await dead_lettered(vhost, 1)
    assert await consumer.effects() == []

    listing = werkplaatsen(vhost, "dlq", "list", SERVICE)
    assert listing.returncode == 0, listing.stderr
    assert failing.message_id in listing.stdout and "template for PlaceReleased is missing" in listing.stdout
    shown = werkplaatsen(vhost, "dlq", "show", SERVICE, failing.message_id)
    assert shown.returncode == 0, shown.stderr
    assert "scheduling.PlaceReleased" in shown.stdout and '"registration_id": "r-1"' in shown.stdout

    consumer.broken = False  # the fix is deployed
    replayed = werkplaatsen(vhost, "dlq", "replay", SERVICE, failing.message_id)
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1" in replayed.stdout
    await wait_until(consumer.effects, what="the replayed event's effect")

    # Replaying again finds nothing; the same event arriving again (e.g. republished upstream) changes nothing.
    again = werkplaatsen(vhost, "dlq", "replay", SERVICE, failing.message_id)
    assert again.returncode == 1 and "not found" in again.stderr
    await consumer.transport.publish(failing)
    await wait_until(lambda: consumer.attempts.count(failing.message_id) >= 5, what="the duplicate delivery")
    assert await consumer.effects() == ["r-1"]
    assert await depth(vhost, dead_letter_queue_name(SERVICE)) == 0


async def test_replay_all_and_purge_leave_the_letters_they_do_not_select(consumer: Consumer, vhost: str) -> None:
    letters = [event(f"r-{n}") for n in range(3)]
    for letter in letters:
        await consumer.transport.publish(letter)
    await dead_lettered(vhost, 3)

    purged = werkplaatsen(vhost, "dlq", "purge", SERVICE, letters[0].message_id)
    assert purged.returncode == 0 and "deleted 1" in purged.stdout
    refused = werkplaatsen(vhost, "dlq", "purge", SERVICE, "--all")  # no --yes and no terminal: nothing happens
    assert refused.returncode != 0
    assert await depth(vhost, dead_letter_queue_name(SERVICE)) == 2

    consumer.broken = False
    replayed = werkplaatsen(vhost, "dlq", "replay", SERVICE, "--all")
    assert replayed.returncode == 0 and "replayed 2" in replayed.stdout
    await wait_until(lambda: _count(consumer, 2), what="both effects")
    assert sorted(await consumer.effects()) == ["r-1", "r-2"]
    assert "No dead letters." in werkplaatsen(vhost, "dlq", "list", SERVICE).stdout


async def test_scrubbing_removes_only_the_dead_letters_that_mention_the_person(consumer: Consumer, vhost: str) -> None:
    await consumer.transport.publish(event("r-anna", reason="Anna de Vries <anna@veenendaal.example> zegt af"))
    await consumer.transport.publish(event("r-bram"))
    await dead_lettered(vhost, 2)

    removed = await scrub_dead_letters(amqp_url(vhost), SERVICE, lambda body: b"anna@veenendaal.example" in body)

    assert removed == 1
    remaining = werkplaatsen(vhost, "dlq", "list", SERVICE).stdout
    assert "anna" not in remaining.lower() and "1 dead letter(s)" in remaining
    assert await scrub_dead_letters(amqp_url(vhost), "reporting", lambda body: True) == 0  # no such queue yet


async def test_a_message_dead_lettered_by_the_delivery_limit_is_replayed_to_its_routing_key(
    consumer: Consumer, vhost: str
) -> None:
    # What RabbitMQ itself dead-letters (a message that crashed the consumer DELIVERY_LIMIT times) has no headers
    # of ours: its routing key and reason come from RabbitMQ's x-death record.
    await consumer.transport.stop()
    letter = event("r-crash")
    async with await aio_pika.connect(amqp_url(vhost)) as connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange("werkplaatsen.events")
        await exchange.publish(
            aio_pika.Message(
                letter.body,
                message_id=letter.message_id,
                type="PlaceReleased",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=letter.routing_key,
        )
        queue = await channel.get_queue(queue_name(SERVICE))
        for _ in range(DELIVERY_LIMIT + 1):
            message = await _get(queue)
            await message.nack(requeue=True)
    await dead_lettered(vhost, 1)
    listing = werkplaatsen(vhost, "dlq", "list", SERVICE).stdout
    assert "scheduling.PlaceReleased" in listing and "delivery_limit" in listing

    consumer.broken = False
    consumer.transport = RabbitTransport(amqp_url(vhost), SERVICE)  # type: ignore[attr-defined]
    await consumer.transport.start({PlaceReleased.routing_key: consumer})
    assert werkplaatsen(vhost, "dlq", "replay", SERVICE, "--all").returncode == 0
    await wait_until(consumer.effects, what="the replayed event's effect")
    assert await consumer.effects() == ["r-crash"]


async def _get(queue: aio_pika.abc.AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage:
    return await wait_until(lambda: queue.get(fail=False), what="the message back in the queue")


async def _count(consumer: Consumer, n: int) -> bool:
    return len(await consumer.effects()) >= n
