"""RabbitMQ transport, on FastStream: topology, a manual-ack subscriber per service queue, confirmed publishing.

Topology (declared by each service at start, idempotently):
- `werkplaatsen.commands` and `werkplaatsen.events`: durable topic exchanges.
- `werkplaatsen.<service>`: the service's quorum queue, bound to the routing keys it consumes. Its
  delivery limit is a safety net for messages that crash the process before they can be acked: past
  it RabbitMQ dead-letters them itself.
- `werkplaatsen.<service>.retry.<n>`: one delay queue per retry step (TTL, then dead-lettered back).
- `werkplaatsen.<service>.dlq`: where a message ends up, with `x-dead-letter-reason`, when it cannot be processed.

This module is the one place the topology is defined; docs/operations.md describes it for operators. Dead letters
are handled with `RabbitDeadLetters` (rabbit_dead_letters.py, the `werkplaatsen dlq` commands).

Stopping (SIGTERM) happens in two steps: `stop_consuming` cancels the subscription and waits up to
`graceful_timeout` for the messages being handled; messages received but not started are never acked and go back
to the queue when the connection closes. `stop` then closes the connection, after the service flushed its outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from faststream import AckPolicy
from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from faststream.rabbit.schemas import Channel
from prometheus_client import REGISTRY

from shared.contract import COMMANDS_EXCHANGE, EVENTS_EXCHANGE
from shared.messaging.delivery import Verdict, deliver
from shared.messaging.messages import (
    FIRST_RECEIVED_HEADER,
    OUTAGE_RETRY_STEP,
    RETRY_DELAYS_SECONDS,
    Consumer,
    Incoming,
    Outgoing,
    bindings,
    first_received,
    parked_first_received,
    queue_name,
)

if TYPE_CHECKING:
    from faststream.rabbit.schemas.queue import QuorumQueueArgs
    from opentelemetry.sdk.trace import TracerProvider

log = structlog.get_logger()

DELIVERY_LIMIT = 20
ATTEMPT_HEADER = "x-attempt"
ROUTING_KEY_HEADER = "x-original-routing-key"
EXCHANGE_HEADER = "x-original-exchange"
REASON_HEADER = "x-dead-letter-reason"
REPLY_TO_HEADER = "x-reply-to"
# The validated publisher of a message that the service itself parks in a retry queue (its own connection
# republishes it, so the AMQP user_id would be the service's): trusted only on messages that come back through
# the default exchange, which front ends have no permission to publish to (docs/operations.md).
PUBLISHER_HEADER = "x-published-by"
DEAD_AT_HEADER = "x-dead-lettered-at"
REPLAYS_HEADER = "x-replays"
# How long stopping waits for the messages being handled before it gives up on them (they are then redelivered).
CONSUMER_GRACE_SECONDS = 10.0


def dead_letter_queue_name(service: str) -> str:
    return f"werkplaatsen.{service}.dlq"


def retry_queue_name(service: str, step: int) -> str:
    return f"werkplaatsen.{service}.retry.{step}"


def exchange(name: str) -> RabbitExchange:
    return RabbitExchange(name, type=ExchangeType.TOPIC, durable=True)


def quorum_queue(name: str, arguments: QuorumQueueArgs | None = None) -> RabbitQueue:
    """A durable quorum queue: replicated, and it counts deliveries so a poison message cannot loop for ever."""
    return RabbitQueue(name, queue_type=QueueType.QUORUM, durable=True, arguments=arguments)


async def _raw_body(message: Any) -> bytes:
    return bytes(message.body)


def middlewares(service: str, tracer_provider: TracerProvider | None) -> list[Any]:
    """FastStream's Prometheus metrics always; its OpenTelemetry spans when tracing is on (shared/tracing.py)."""
    found: list[Any] = []
    if tracer_provider is not None:
        from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware

        found.append(RabbitTelemetryMiddleware(tracer_provider=tracer_provider))
    found.append(RabbitPrometheusMiddleware(registry=REGISTRY, app_name=f"werkplaatsen-{service}"))
    return found


class RabbitTransport:
    def __init__(
        self,
        url: str,
        service: str,
        *,
        prefetch: int = 32,
        tracer_provider: TracerProvider | None = None,
        graceful_timeout: float = CONSUMER_GRACE_SECONDS,
    ) -> None:
        self.service = service
        # FastStream's own per-message log lines are off: `deliver` logs through structlog with the message ids.
        self.broker = RabbitBroker(
            url,
            graceful_timeout=graceful_timeout,
            reconnect_interval=1.0,
            logger=None,
            middlewares=middlewares(service, tracer_provider),
        )
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

    async def start_replies(self, queue: str, consumer: Consumer) -> None:
        """Consume this process's reply queue, and nothing else: not durable, deleted with its last consumer, so
        a stopped process leaves none behind. Replies are not retried (a late one has nobody waiting for it)."""
        await self.broker.connect()
        for name in (COMMANDS_EXCHANGE, EVENTS_EXCHANGE):
            await self.broker.declare_exchange(exchange(name))

        async def on_reply(message: RabbitMessage) -> None:
            raw = message.raw_message
            await consumer(Incoming(body=raw.body, routing_key=queue, message_id=raw.message_id, message_type=raw.type))

        subscriber = self.broker.subscriber(
            RabbitQueue(queue, durable=False, auto_delete=True), no_reply=True, decoder=_raw_body
        )
        subscriber(on_reply)
        await self.broker.start()

    async def stop_consuming(self) -> None:
        """Take no more messages; wait (bounded) for those being handled. The connection stays open for publishing."""
        for subscriber in list(self.broker.subscribers):
            await subscriber.stop()

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
            user_id=out.user_id,
            timeout=10,
        )

    async def _declare(self) -> None:
        for name in (COMMANDS_EXCHANGE, EVENTS_EXCHANGE):
            await self.broker.declare_exchange(exchange(name))
        main = queue_name(self.service)
        dlq = dead_letter_queue_name(self.service)
        await self.broker.declare_queue(quorum_queue(dlq))
        queue = await self.broker.declare_queue(
            quorum_queue(
                main,
                {"x-delivery-limit": DELIVERY_LIMIT, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq},
            )
        )
        for step, delay in enumerate(RETRY_DELAYS_SECONDS, start=1):
            await self.broker.declare_queue(
                quorum_queue(
                    retry_queue_name(self.service, step),
                    {
                        "x-message-ttl": int(delay * 1000),
                        "x-dead-letter-exchange": "",
                        "x-dead-letter-routing-key": main,
                    },
                )
            )
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
            retryable=True,
            user_id=raw.user_id if raw.exchange else _text_or_none(headers.get(PUBLISHER_HEADER)),
            # Only ours: a message from an exchange is a first delivery, whatever its publisher put in the header.
            first_received_at=None if raw.exchange else first_received(headers.get(FIRST_RECEIVED_HEADER)),
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
        headers.pop(PUBLISHER_HEADER, None)
        if msg.user_id:
            headers[PUBLISHER_HEADER] = msg.user_id
        if verdict.action in ("retry", "wait"):
            headers[FIRST_RECEIVED_HEADER] = parked_first_received(msg)
        else:
            headers.pop(FIRST_RECEIVED_HEADER, None)
        if verdict.action == "retry":
            headers[ATTEMPT_HEADER] = msg.attempt + 1
            target = retry_queue_name(self.service, msg.attempt)
        elif verdict.action == "wait":
            headers[ATTEMPT_HEADER] = msg.attempt
            target = retry_queue_name(self.service, OUTAGE_RETRY_STEP)
        else:
            headers[REASON_HEADER] = verdict.reason
            headers[DEAD_AT_HEADER] = datetime.now(UTC).isoformat(timespec="seconds")
            target = dead_letter_queue_name(self.service)
        await self.publish(
            Outgoing(
                exchange="",
                routing_key=target,
                body=msg.body,
                message_id=msg.message_id or "",
                # An empty correlation id would be replaced by FastStream with a random one, and the events the
                # retried command finally causes could no longer be matched to it (the contract: default message_id).
                message_type=msg.message_type or "",
                headers=headers,
                correlation_id=msg.correlation_id or msg.message_id or "",
            )
        )


def _text_or_none(value: Any) -> str | None:
    return None if value is None else header_text(value)


def header_text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
