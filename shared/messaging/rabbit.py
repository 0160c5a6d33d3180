"""RabbitMQ transport, on FastStream: topology, a manual-ack subscriber per service queue, confirmed publishing.

Topology (declared by each service at start, idempotently):
- `werkplaatsen.commands` and `werkplaatsen.events`: durable topic exchanges.
- `werkplaatsen.<service>`: the service's quorum queue, bound to the routing keys it consumes. Its
  delivery limit is a safety net for messages that crash the process before they can be acked: past
  it RabbitMQ dead-letters them itself.
- `werkplaatsen.<service>.retry.<n>`: one delay queue per retry step (TTL, then dead-lettered back).
- `werkplaatsen.<service>.dlq`: where a message ends up, with `x-dead-letter-reason`, when it cannot be processed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from faststream import AckPolicy
from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from faststream.rabbit.schemas import Channel

from shared.contract import COMMANDS, COMMANDS_EXCHANGE, EVENTS_EXCHANGE
from shared.messaging.delivery import Verdict, deliver
from shared.messaging.messages import RETRY_DELAYS_SECONDS, Consumer, Incoming, Outgoing

log = structlog.get_logger()

DELIVERY_LIMIT = 20
ATTEMPT_HEADER = "x-attempt"
ROUTING_KEY_HEADER = "x-original-routing-key"
EXCHANGE_HEADER = "x-original-exchange"
REASON_HEADER = "x-dead-letter-reason"
REPLY_TO_HEADER = "x-reply-to"


def queue_name(service: str) -> str:
    return f"werkplaatsen.{service}"


def dead_letter_queue_name(service: str) -> str:
    return f"werkplaatsen.{service}.dlq"


def retry_queue_name(service: str, step: int) -> str:
    return f"werkplaatsen.{service}.retry.{step}"


def exchange(name: str) -> RabbitExchange:
    return RabbitExchange(name, type=ExchangeType.TOPIC, durable=True)


def bindings(consumers: Mapping[str, Consumer]) -> list[tuple[str, str]]:
    return [(COMMANDS_EXCHANGE if key in COMMANDS else EVENTS_EXCHANGE, key) for key in consumers]


async def _raw_body(message: Any) -> bytes:
    return message.body


class RabbitTransport:
    def __init__(self, url: str, service: str, *, prefetch: int = 32) -> None:
        self.service = service
        # FastStream's own per-message log lines are off: `deliver` logs through structlog with the message ids.
        self.broker = RabbitBroker(url, graceful_timeout=15.0, reconnect_interval=1.0, logger=None)
        self.prefetch = prefetch
        self._consumers: Mapping[str, Consumer] = {}

    async def start(self, consumers: Mapping[str, Consumer]) -> None:
        self._consumers = consumers
        await self.broker.connect()
        await self._declare()
        subscriber = self.broker.subscriber(
            RabbitQueue(queue_name(self.service), declare=False),
            channel=Channel(prefetch_count=self.prefetch),
            ack_policy=AckPolicy.MANUAL,
            no_reply=True,
            # Bodies are parsed by the consumers, which turn bad JSON into CommandRejected. FastStream's own
            # JSON decoding would fail first, outside our handler, and leave the message unacked.
            decoder=_raw_body,
        )
        subscriber(self._on_message)
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()

    async def ping(self) -> bool:
        return await self.broker.ping(timeout=2.0)

    async def publish(self, out: Outgoing) -> None:
        # persist + publisher confirms: returning means RabbitMQ has taken responsibility for the message.
        await self.broker.publish(
            out.body,
            exchange=exchange(out.exchange) if out.exchange else None,
            queue="" if out.exchange else out.routing_key,
            routing_key=out.routing_key if out.exchange else "",
            persist=True,
            mandatory=False,
            message_id=out.message_id,
            message_type=out.message_type,
            correlation_id=out.correlation_id,
            content_type="application/json",
            headers=dict(out.headers) or None,
            timeout=10,
        )

    async def _declare(self) -> None:
        for name in (COMMANDS_EXCHANGE, EVENTS_EXCHANGE):
            await self.broker.declare_exchange(exchange(name))
        main = queue_name(self.service)
        dlq = dead_letter_queue_name(self.service)
        await self.broker.declare_queue(RabbitQueue(dlq, durable=True, arguments={"x-queue-type": "quorum"}))
        queue = await self.broker.declare_queue(RabbitQueue(main, durable=True, arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dlq,
        }))
        for step, delay in enumerate(RETRY_DELAYS_SECONDS, start=1):
            await self.broker.declare_queue(RabbitQueue(retry_queue_name(self.service, step), durable=True, arguments={
                "x-queue-type": "quorum",
                "x-message-ttl": int(delay * 1000),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": main,
            }))
        for exchange_name, routing_key in bindings(self._consumers):
            await queue.bind(exchange_name, routing_key=routing_key)

    async def _on_message(self, message: RabbitMessage) -> None:
        raw = message.raw_message
        headers: dict[str, Any] = dict(raw.headers or {})
        incoming = Incoming(
            body=raw.body,
            routing_key=str(headers.get(ROUTING_KEY_HEADER) or raw.routing_key or ""),
            message_id=raw.message_id,
            message_type=raw.type,
            correlation_id=raw.correlation_id,
            reply_to=raw.reply_to or headers.get(REPLY_TO_HEADER),
            content_type=raw.content_type,
            headers=headers,
            attempt=int(headers.get(ATTEMPT_HEADER, 1)),
        )
        verdict = await deliver(self.service, self._consumers, incoming)
        try:
            await self._settle(incoming, raw.exchange, verdict)
        except Exception as exc:
            # Could not park the message for retry or dead-lettering: let RabbitMQ deliver it again.
            log.warning("settle_failed", error=repr(exc)[:300])
            await message.nack(requeue=True)
            return
        await message.ack()

    async def _settle(self, msg: Incoming, original_exchange: str | None, verdict: Verdict) -> None:
        if verdict.action == "ack":
            return
        headers = {k: v for k, v in msg.headers.items() if not k.startswith("x-death")}
        headers[ROUTING_KEY_HEADER] = msg.routing_key
        headers.setdefault(EXCHANGE_HEADER, original_exchange or "")
        if msg.reply_to:  # the AMQP property does not survive the detour through a retry queue
            headers[REPLY_TO_HEADER] = msg.reply_to
        if verdict.action == "retry":
            headers[ATTEMPT_HEADER] = msg.attempt + 1
            target = retry_queue_name(self.service, msg.attempt)
        else:
            headers[REASON_HEADER] = verdict.reason
            target = dead_letter_queue_name(self.service)
        await self.publish(Outgoing(
            exchange="", routing_key=target, body=msg.body, message_id=msg.message_id or "",
            message_type=msg.message_type or "", correlation_id=msg.correlation_id or "", headers=headers,
        ))
