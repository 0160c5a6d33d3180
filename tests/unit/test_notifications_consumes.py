"""Notifications' table (consumes.py) on a real store: every line wired, and an erasure that also scrubs the
dead letters of notifications that mention the registration, and no other service's."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.notifications import consumes
from services.notifications.bootstrap import MIGRATIONS
from services.notifications.domain import parse_offsets
from services.notifications.handlers import Addresses
from services.notifications.store import Inbox, Outbox
from shared.contract.common import CommandRejected
from shared.contract.registration import ParticipantDataErased, TrioRegistered
from shared.db import Database, migrate, utcnow
from shared.messaging import messages
from shared.messaging.dead_letters import OwnDeadLetters
from shared.messaging.embedded import EmbeddedBroker
from shared.messaging.messages import Incoming, Outgoing
from shared.messaging.processing import MessageStore
from tests.support import wait_until

ADDRESSES = Addresses(
    sender_name="Werkplaatsen",
    sender_email="wp@platform31.nl",
    organizer_email="organisatie@platform31.nl",
    status_url=lambda rid: f"https://w.example/{rid}",
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[MessageStore]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'notifications.sqlite3'}")
    await migrate(db, MIGRATIONS, "notifications")
    yield MessageStore(db, "notifications", Outbox, Inbox, CommandRejected)
    await db.dispose()


def test_the_table_has_one_consumer_for_each_message_notifications_reacts_to(store: MessageStore) -> None:
    consumers = consumes.consumers(store, ADDRESSES, parse_offsets("7d,1d"))
    assert set(consumers) == {line.routing_key for line in consumes.CONSUMES}
    assert len(consumers) == 23


def undeliverable(registration_id: str) -> Outgoing:
    message_id = f"dead-{registration_id}"
    return Outgoing(
        exchange="werkplaatsen.events",
        routing_key=TrioRegistered.routing_key,
        body=json.dumps({"data": {"registration_id": registration_id}}).encode(),
        message_id=message_id,
        message_type="TrioRegistered",
        correlation_id=message_id,
    )


def erased(registration_id: str) -> Incoming:
    event_id = str(uuid.uuid4())
    body = {
        "event_id": event_id,
        "type": "ParticipantDataErased",
        "version": 1,
        "occurred_at": utcnow().isoformat(),
        "producer": "registration",
        "correlation_id": event_id,
        "causation_id": event_id,
        "data": {"registration_id": registration_id},
    }
    return Incoming(body=json.dumps(body).encode(), routing_key=ParticipantDataErased.routing_key, message_id=event_id)


async def test_an_erasure_scrubs_the_dead_letters_of_notifications_that_mention_the_registration(
    store: MessageStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(messages, "RETRY_DELAYS_SECONDS", (0.01,))
    broker = EmbeddedBroker(tmp_path / "broker.sqlite3")
    await broker.open()

    async def broken(_msg: Incoming) -> None:
        raise RuntimeError("bug in the handler")

    await broker.transport("notifications").start({TrioRegistered.routing_key: broken})
    try:
        await broker.publish(undeliverable("reg-1"))
        await broker.publish(undeliverable("reg-2"))
        await wait_until(lambda: _letters(broker, 2), what="two dead letters")

        consumers = consumes.consumers(
            store,
            ADDRESSES,
            parse_offsets("7d,1d"),
            dead_letters=OwnDeadLetters(tmp_path / "broker.sqlite3", "notifications"),
        )
        await consumers[ParticipantDataErased.routing_key](erased("reg-1"))

        assert [letter["message_id"] for letter in await broker.dead_letters()] == ["dead-reg-2"]
    finally:
        await broker.close()


async def _letters(broker: EmbeddedBroker, count: int) -> bool:
    return len(await broker.dead_letters()) >= count
