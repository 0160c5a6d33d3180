"""The bot's RabbitMQ side (FastStream, as the services use it): its own durable quorum queue (default
`werkplaatsen.chat`) bound to the events it follows on `werkplaatsen.events`; the services send the outcome of its
commands (`Reply`) to the same queue, so an outcome that arrives while the bot is down waits there.

Events go to the consumers made from the bot's table (follows.py), which is also what the queue is bound to; the
verdict is the services' own (shared/messaging/delivery.py). A message is acked after its handler (its
transaction) returned; one that does not match the contract is
dead-lettered to `<queue>.dlq`; any other failure is redelivered after a pause. Commands go to
`werkplaatsen.commands` with publisher confirms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aio_pika
import structlog
from faststream import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from faststream.rabbit.schemas import Channel
from pydantic import ValidationError

from shared.contract import COMMANDS_EXCHANGE, EVENTS_EXCHANGE, Reply
from shared.messaging.delivery import Verdict, deliver
from shared.messaging.messages import Consumer, Incoming
from shared.messaging.rabbit import exchange, quorum_queue

from .follows import NO_LONGER_FOLLOWED
from .store import OutboxRow

log = structlog.get_logger()

# The bot waits this long before a failed message is redelivered; it keeps trying (it counts no attempts).
RETRY_SECONDS = 2.0

OnReply = Callable[[Reply], Awaitable[None]]


class Bus:
    def __init__(
        self, broker_url: str, queue: str, on_reply: OnReply, events: Mapping[str, Consumer], handled: asyncio.Event
    ) -> None:
        self.queue = queue
        self.broker = RabbitBroker(broker_url, reconnect_interval=1.0, logger=None)
        self.on_reply = on_reply
        self.events = events  # the consumers of the events the bot follows, by routing key
        self.handled = handled  # set after each message, so what it led to is sent at once

    async def start(self) -> None:
        await self.broker.connect()
        for name in (COMMANDS_EXCHANGE, EVENTS_EXCHANGE):
            await self.broker.declare_exchange(exchange(name))
        dlq = f"{self.queue}.dlq"
        await self.broker.declare_queue(quorum_queue(dlq))
        queue = await self.broker.declare_queue(
            quorum_queue(self.queue, {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq})
        )
        for routing_key in self.events:
            await queue.bind(EVENTS_EXCHANGE, routing_key=routing_key)
        for routing_key in NO_LONGER_FOLLOWED:
            await queue.unbind(EVENTS_EXCHANGE, routing_key=routing_key)
        subscriber = self.broker.subscriber(
            RabbitQueue(self.queue, declare=False),
            channel=Channel(prefetch_count=16),
            ack_policy=AckPolicy.MANUAL,
            no_reply=True,
            decoder=_raw_body,
        )
        subscriber(self.on_message)
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()

    async def on_message(self, message: RabbitMessage) -> None:
        raw = message.raw_message
        if raw.type == "Reply":
            verdict = await self.reply(raw)
        else:
            # An event that does not match the contract, or one the bot does not follow, is dead-lettered; any
            # other failure is tried again (shared/messaging/delivery.py decides, as for the services).
            verdict = await deliver("chat", self.events, _incoming(raw))
        if verdict.action == "dead_letter":
            await message.reject(requeue=False)
        elif verdict.action != "ack":
            await asyncio.sleep(RETRY_SECONDS)
            await message.nack(requeue=True)
        else:
            await message.ack()
            self.handled.set()

    async def reply(self, raw: aio_pika.abc.AbstractIncomingMessage) -> Verdict:
        try:
            await self.on_reply(Reply.model_validate_json(raw.body))
        except (ValidationError, LookupError) as exc:
            # Not a reply of the contract: handling it again would fail again. Dead-lettered, with the reason here.
            log.error(
                "chat_message_unusable", message_id=raw.message_id, routing_key=raw.routing_key, error=repr(exc)[:500]
            )
            return Verdict("dead_letter", "reply does not match the contract")
        except Exception as exc:
            log.warning("chat_message_failed", message_id=raw.message_id, error=repr(exc)[:500])
            return Verdict("retry", type(exc).__name__)
        return Verdict("ack")

    async def publish(self, row: OutboxRow) -> None:
        await self.broker.publish(
            row.body.encode(),
            exchange=exchange(COMMANDS_EXCHANGE),
            routing_key=row.target,
            persist=True,
            mandatory=False,
            message_id=row.send_id,
            message_type=row.message_type,
            correlation_id=row.send_id,
            content_type="application/json",
            reply_to=self.queue,
            timeout=10,
        )
        log.info("chat_command_sent", message_type=row.message_type, message_id=row.send_id)


def _incoming(raw: aio_pika.abc.AbstractIncomingMessage) -> Incoming:
    # Always the first attempt: the bot redelivers with a requeue, so a failing event waits, never gives up.
    return Incoming(
        body=raw.body,
        routing_key=raw.routing_key or "",
        message_id=raw.message_id,
        message_type=raw.type,
        correlation_id=raw.correlation_id,
        reply_to=raw.reply_to,
        content_type=raw.content_type,
        headers=dict(raw.headers or {}),
    )


async def _raw_body(message: Any) -> bytes:
    return message.body
