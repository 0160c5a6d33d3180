"""The chat bot's events: its table through the shared wiring, on its own SQLite store, and what its bus does with
a message's outcome (ack, dead-letter, redeliver). The end-to-end tests (tests/chat) drive the same path through
RabbitMQ and Matrix."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from frontends.chat import bus as chat_bus
from frontends.chat.bus import Bus
from frontends.chat.conversation import Dialogue
from frontends.chat.follows import FOLLOWS, consumers
from frontends.chat.store import ChatStore, create_schema, message_store
from shared.contract import Event, EventData
from shared.contract.notifications import ChatMessageRequested
from shared.contract.registration import RegistrationCancelled
from shared.contract.scheduling import RegistrationClosed, RegistrationReopened, RegistrationStopped, TrioPlaced
from shared.db import Database
from shared.messaging.messages import Consumer, Incoming
from shared.messaging.wiring import Consumers
from tests.unit.test_notifications_handlers import envelope, trio_registered

ROOM = "room-42"  # the room of trio_registered(channel="chat")
PLACED_AT = datetime(2027, 9, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'chat.sqlite3'}")
    await create_schema(database)
    yield database
    await database.dispose()


@pytest.fixture
def events(db: Database) -> Consumers:
    return consumers(message_store(db))


def incoming(event: Event[Any]) -> Incoming:
    return Incoming(
        body=event.model_dump_json().encode(), routing_key=event.data.routing_key, message_id=event.event_id
    )


def event_of(data: EventData, occurred_at: datetime = PLACED_AT) -> Event[Any]:
    return envelope(data, occurred_at=occurred_at)


async def in_store(db: Database, what: Any) -> Any:
    async with db.transaction() as session:
        return await what(ChatStore(session))


async def open_room(db: Database) -> None:
    await in_store(db, lambda chat: chat.save_dialogue(ROOM, Dialogue()))


def test_the_queue_follows_exactly_the_events_of_the_table() -> None:
    assert {line.routing_key for line in FOLLOWS} == {
        "registration.RegistrationApproved",
        "registration.RegistrationDeclined",
        "registration.RegistrationCancelled",
        "registration.ParticipantDataErased",
        "scheduling.TrioPlaced",
        "scheduling.TrioWaitlisted",
        "scheduling.PlaceReleased",
        "scheduling.EditionScheduled",
        "scheduling.RegistrationStopped",
        "scheduling.RegistrationReopened",
        "scheduling.SessionRescheduled",
        "notifications.ChatMessageRequested",
    }


async def test_a_trio_of_a_room_is_remembered_and_follows_its_status_each_event_once(
    db: Database, events: Consumers
) -> None:
    await open_room(db)
    await in_store(db, lambda chat: chat.add_registration("reg-1", ROOM, "2027-najaar", "Barneveld", PLACED_AT))
    await in_store(db, lambda chat: chat.bind(ROOM, "reg-1"))
    placed = event_of(TrioPlaced(registration_id="reg-1", edition="2027-najaar", via="allocation"))
    assert await events[TrioPlaced.routing_key](incoming(placed)) is True
    row = await in_store(db, lambda chat: chat.room_registration(ROOM))
    assert (row.registration_id, row.status) == ("reg-1", "placed")
    # Redelivered: the inbox has it, nothing changes.
    assert await events[TrioPlaced.routing_key](incoming(placed)) is False
    cancelled = event_of(RegistrationCancelled(registration_id="reg-1", edition="2027-najaar"))
    await events[RegistrationCancelled.routing_key](incoming(cancelled))
    assert (await in_store(db, lambda chat: chat.room_registration(ROOM))).status == "cancelled"


async def test_a_trio_registered_naming_a_known_room_is_not_that_rooms_nor_are_texts_about_it(
    db: Database, events: Consumers
) -> None:
    await open_room(db)
    # TrioRegistered's chat_id is whatever the registering client gave: the bot does not even follow it.
    assert trio_registered(channel="chat").data.routing_key not in events
    text = event_of(ChatMessageRequested(chat_id=ROOM, registration_id="reg-1", text="Hallo"))
    await events[ChatMessageRequested.routing_key](incoming(text))
    assert await in_store(db, lambda chat: chat.room_registration(ROOM)) is None
    assert await in_store(db, lambda chat: chat.outbox()) == []


async def test_a_text_for_a_room_bound_to_its_registration_is_queued_to_be_said(
    db: Database, events: Consumers
) -> None:
    await open_room(db)
    await in_store(db, lambda chat: chat.add_registration("reg-1", ROOM, "2027-najaar", "Barneveld", PLACED_AT))
    await in_store(db, lambda chat: chat.bind(ROOM, "reg-1"))
    text = event_of(ChatMessageRequested(chat_id=ROOM, registration_id="reg-1", text="Hallo"))
    await events[ChatMessageRequested.routing_key](incoming(text))
    (row,) = await in_store(db, lambda chat: chat.outbox())
    assert (row.kind, row.target, row.body) == ("matrix", ROOM, "Hallo")


@dataclass
class Raw:
    body: bytes
    routing_key: str
    type: str | None = "TrioPlaced"
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    correlation_id: str | None = None
    reply_to: str | None = None
    content_type: str = "application/json"
    headers: dict[str, Any] = field(default_factory=dict)


@dataclass
class Delivered:
    raw_message: Raw
    settled: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.settled.append("ack")

    async def reject(self, requeue: bool) -> None:
        self.settled.append(f"reject requeue={requeue}")

    async def nack(self, requeue: bool) -> None:
        self.settled.append(f"nack requeue={requeue}")


def bus_with(events: dict[str, Consumer], replies: list[Any] | None = None) -> Bus:
    async def on_reply(reply: Any) -> None:
        if replies is None:
            raise RuntimeError("store away")
        replies.append(reply)

    return Bus("amqp://guest:guest@127.0.0.1:5672/", "werkplaatsen.chat", on_reply, events, asyncio.Event())


async def settle(bus: Bus, raw: Raw) -> list[str]:
    message = Delivered(raw)
    await bus.on_message(message)  # type: ignore[arg-type]
    return message.settled


async def test_the_bus_acks_dead_letters_and_redelivers_as_the_outcome_says(
    events: Consumers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat_bus, "RETRY_SECONDS", 0.0)
    placed = event_of(TrioPlaced(registration_id="reg-9", edition="2027-najaar", via="allocation"))
    bus = bus_with(dict(events))
    assert await settle(bus, Raw(placed.model_dump_json().encode(), TrioPlaced.routing_key)) == ["ack"]
    assert bus.handled.is_set()
    # Not of the contract, or not followed: handling it again would fail again.
    assert await settle(bus, Raw(b'{"event_id": 1}', TrioPlaced.routing_key)) == ["reject requeue=False"]
    assert await settle(bus, Raw(b"{}", "scheduling.SeatingPlanned")) == ["reject requeue=False"]

    async def failing(msg: Incoming) -> None:
        raise RuntimeError("store away")

    failing_bus = bus_with({TrioPlaced.routing_key: failing})
    assert await settle(failing_bus, Raw(placed.model_dump_json().encode(), TrioPlaced.routing_key)) == [
        "nack requeue=True"
    ]
    assert not failing_bus.handled.is_set()


async def test_replies_keep_their_own_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_bus, "RETRY_SECONDS", 0.0)
    replies: list[Any] = []
    reply = {"status": "accepted", "command_id": "c-1", "command_type": "RegisterTrio", "ids": {}}
    bus = bus_with({}, replies)
    assert await settle(bus, Raw(json.dumps(reply).encode(), "werkplaatsen.chat", type="Reply")) == ["ack"]
    assert [r.command_id for r in replies] == ["c-1"]
    assert await settle(bus, Raw(b"[]", "werkplaatsen.chat", type="Reply")) == ["reject requeue=False"]
    assert await settle(bus_with({}), Raw(json.dumps(reply).encode(), "werkplaatsen.chat", type="Reply")) == [
        "nack requeue=True"
    ]


async def test_an_edition_stopped_and_reopened_takes_registrations_in_the_chat_again(
    db: Database, events: Consumers
) -> None:
    await in_store(db, lambda chat: chat.save_edition("2027-najaar", {"edition": "2027-najaar"}, datetime.now(UTC)))
    assert RegistrationClosed.routing_key not in events  # the allocation: late trios may still register
    now = datetime.now(UTC)
    stopped = event_of(RegistrationStopped(edition="2027-najaar", stopped_at=now, reopen_until=now, reason=None))
    await events[RegistrationStopped.routing_key](incoming(stopped))
    assert (await in_store(db, lambda chat: chat.edition("2027-najaar"))).closed is True
    reopened = event_of(RegistrationReopened(edition="2027-najaar", registration_closes_at=datetime.now(UTC)))
    await events[RegistrationReopened.routing_key](incoming(reopened))
    assert (await in_store(db, lambda chat: chat.edition("2027-najaar"))).closed is False
