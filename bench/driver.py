"""A front end and an organiser on the broker: publishes RegisterTrio, approves each trio as soon as it is
registered, and timestamps every event it sees on the events exchange."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika

from tests.factories import by_organiser

WINDOW = 200  # publishes awaiting their confirm at once, like a busy front end
# Approving on the approver's behalf names the organiser who does it (the console's account; see docs/contract.md).
ORGANISER = {"account_id": "bench-organiser", "role": "organiser", "via": "console"}


@dataclass
class Trio:
    tag: str
    command_id: str
    sent_at: float
    registration_id: str | None = None
    registered_at: float | None = None
    outcome: str | None = None  # TrioPlaced or TrioWaitlisted
    rejected: list[Any] | None = None


@dataclass
class Driver:
    url: str
    approve: bool = True
    trios: dict[str, Trio] = field(default_factory=dict)  # by command id
    by_registration: dict[str, Trio] = field(default_factory=dict)
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)  # other commands' outcomes, by command id
    raw: dict[str, list[aio_pika.abc.AbstractIncomingMessage]] = field(default_factory=dict)
    placed: int = 0
    waitlisted: int = 0
    _pending: set[asyncio.Future[Any]] = field(default_factory=set)
    _errors: list[BaseException] = field(default_factory=list)

    @property
    def user(self) -> str:
        """The broker user it publishes as (the AMQP user_id, which RabbitMQ checks): the one the services trust to
        speak for organisers in the benchmark (WERKPLAATSEN_CONSOLE_BROKER_USERS)."""
        return unquote(urlsplit(self.url).username or "guest")

    async def __aenter__(self) -> Driver:
        self.connection = await aio_pika.connect_robust(self.url)
        self.channel = await self.connection.channel(publisher_confirms=True)
        await self.channel.set_qos(prefetch_count=1000)
        self.commands = await self.channel.declare_exchange("werkplaatsen.commands", "topic", durable=True)
        events = await self.channel.declare_exchange("werkplaatsen.events", "topic", durable=True)
        queue = await self.channel.declare_queue(exclusive=True)
        await queue.bind(events, "#")
        await queue.consume(self._on_event, no_ack=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.drain()
        await self.connection.close()

    def keep(self, *event_types: str) -> None:
        """Keep the raw messages of these event types (to replay them elsewhere)."""
        for name in event_types:
            self.raw.setdefault(name, [])

    async def send(self, routing_key: str, body: dict[str, Any], *, wait: bool = True) -> str:
        command_id = str(uuid.uuid4())
        publish = self.commands.publish(
            aio_pika.Message(
                json.dumps(by_organiser(routing_key, body)).encode(),
                message_id=command_id,
                user_id=self.user,
                type=routing_key.split(".", 1)[1],
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=routing_key,
        )
        if wait:
            await publish
        else:
            await self._limit()
            self._pending.add(asyncio.ensure_future(publish))
        return command_id

    async def register(self, body: dict[str, Any], tag: str, *, wait: bool = True) -> Trio:
        command_id = str(uuid.uuid4())
        trio = Trio(tag=tag, command_id=command_id, sent_at=time.time())
        self.trios[command_id] = trio
        publish = self.commands.publish(
            aio_pika.Message(
                json.dumps(body).encode(),
                user_id=self.user,
                message_id=command_id,
                type="RegisterTrio",
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key="registration.RegisterTrio",
        )
        if wait:
            await publish
        else:
            await self._limit()
            self._pending.add(asyncio.ensure_future(publish))
        return trio

    async def drain(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending)
            self._pending.clear()
        if self._errors:
            raise self._errors[0]

    async def _limit(self) -> None:
        while len(self._pending) >= WINDOW:
            done, self._pending = await asyncio.wait(self._pending, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                future.result()

    async def _on_event(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        arrived = time.time()
        event = json.loads(message.body)
        kind, data, correlation = event.get("type"), event.get("data", {}), event.get("correlation_id")
        if kind in self.raw:
            self.raw[kind].append(message)
        if kind == "TrioRegistered" and correlation in self.trios:
            trio = self.trios[correlation]
            trio.registration_id, trio.registered_at = data["registration_id"], arrived
            self.by_registration[trio.registration_id] = trio
            if self.approve:
                self._pending.add(
                    asyncio.ensure_future(
                        self.send(
                            "registration.ApproveRegistration",
                            {"registration_id": trio.registration_id, "by_organizer": True, "actor": ORGANISER},
                        )
                    )
                )
        elif kind == "CommandRejected" and correlation in self.trios:
            self.trios[correlation].rejected = data.get("errors")
        elif kind in ("TrioPlaced", "TrioWaitlisted") and data.get("registration_id") in self.by_registration:
            trio = self.by_registration[data["registration_id"]]
            if trio.outcome != "TrioPlaced":  # a waitlisted trio may be placed later; placed stays placed
                self.placed += kind == "TrioPlaced"
                self.waitlisted += (kind == "TrioWaitlisted") - (trio.outcome == "TrioWaitlisted")
                trio.outcome = kind
        if correlation and kind != "TrioRegistered":
            self.replies.setdefault(correlation, event)
