"""The bot's RabbitMQ side (FastStream, as the services use it): its own durable quorum queue (default
`werkplaatsen.chat`) bound to the events it follows on `werkplaatsen.events`; the services send the outcome of its
commands (`Reply`) to the same queue, so an outcome that arrives while the bot is down waits there.

A message is acked after the bot's handler (its transaction) returned; one that does not match the contract is
dead-lettered to `<queue>.dlq`; any other failure is redelivered after a pause. Commands go to
`werkplaatsen.commands` with publisher confirms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import structlog
from faststream import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from faststream.rabbit.schemas import Channel
from pydantic import ValidationError

from shared.contract import COMMANDS_EXCHANGE, EVENTS, EVENTS_EXCHANGE, Event, Reply
from shared.contract.notifications import ChatMessageRequested
from shared.contract.registration import (
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.scheduling import (
    EditionScheduled,
    PlaceReleased,
    RegistrationClosed,
    SessionRescheduled,
    TrioPlaced,
    TrioWaitlisted,
)
from shared.messaging.rabbit import exchange

from .store import OutboxRow

log = structlog.get_logger()

FOLLOWED = (TrioRegistered, RegistrationApproved, RegistrationDeclined, RegistrationCancelled, TrioPlaced,
            TrioWaitlisted, PlaceReleased, EditionScheduled, RegistrationClosed, SessionRescheduled,
            ChatMessageRequested)
RETRY_SECONDS = 2.0

OnReply = Callable[[Reply], Awaitable[None]]
OnEvent = Callable[[Event[Any]], Awaitable[None]]


class Bus:
    def __init__(self, broker_url: str, queue: str, on_reply: OnReply, on_event: OnEvent,
                 handled: asyncio.Event) -> None:
        self.queue = queue
        self.broker = RabbitBroker(broker_url, reconnect_interval=1.0, logger=None)
        self.on_reply = on_reply
        self.on_event = on_event
        self.handled = handled  # set after each message, so what it led to is sent at once

    async def start(self) -> None:
        await self.broker.connect()
        for name in (COMMANDS_EXCHANGE, EVENTS_EXCHANGE):
            await self.broker.declare_exchange(exchange(name))
        dlq = f"{self.queue}.dlq"
        await self.broker.declare_queue(RabbitQueue(dlq, durable=True, arguments={"x-queue-type": "quorum"}))
        queue = await self.broker.declare_queue(RabbitQueue(self.queue, durable=True, arguments={
            "x-queue-type": "quorum", "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq}))
        for event in FOLLOWED:
            await queue.bind(EVENTS_EXCHANGE, routing_key=event.routing_key)
        subscriber = self.broker.subscriber(
            RabbitQueue(self.queue, declare=False), channel=Channel(prefetch_count=16),
            ack_policy=AckPolicy.MANUAL, no_reply=True, decoder=_raw_body,
        )
        subscriber(self.on_message)
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()

    async def on_message(self, message: RabbitMessage) -> None:
        raw = message.raw_message
        try:
            await self.handle(raw)
        except (ValidationError, LookupError) as exc:
            # Not a message of the contract: handling it again would fail again. Dead-lettered, with the reason here.
            log.error("chat_message_unusable", message_id=raw.message_id, routing_key=raw.routing_key,
                      error=repr(exc)[:500])
            await message.reject(requeue=False)
            return
        except Exception as exc:
            log.warning("chat_message_failed", message_id=raw.message_id, error=repr(exc)[:500])
            await asyncio.sleep(RETRY_SECONDS)
            await message.nack(requeue=True)
            return
        await message.ack()
        self.handled.set()

    async def handle(self, raw: aio_pika.abc.AbstractIncomingMessage) -> None:
        if raw.type == "Reply":
            await self.on_reply(Reply.model_validate_json(raw.body))
            return
        model = EVENTS.get(raw.routing_key or "")
        if model is None:
            raise LookupError(f"no event with routing key {raw.routing_key!r}")
        await self.on_event(Event[model].model_validate_json(raw.body))  # type: ignore[valid-type]

    async def publish(self, row: OutboxRow) -> None:
        await self.broker.publish(
            row.body.encode(), exchange=exchange(COMMANDS_EXCHANGE), routing_key=row.target, persist=True,
            mandatory=False, message_id=row.send_id, message_type=row.message_type, correlation_id=row.send_id,
            content_type="application/json", reply_to=self.queue, timeout=10,
        )
        log.info("chat_command_sent", message_type=row.message_type, message_id=row.send_id)


async def _raw_body(message: Any) -> bytes:
    return message.body
