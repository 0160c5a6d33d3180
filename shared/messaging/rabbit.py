"""RabbitMQ transport, on FastStream: topology, a manual-ack subscriber per service queue, confirmed publishing.

Topology (declared by each service at start, idempotently):
- `werkplaatsen.commands` and `werkplaatsen.events`: durable topic exchanges.
- `werkplaatsen.<service>`: the service's quorum queue, bound to the routing keys it consumes. Its
  delivery limit is a safety net for messages that crash the process before they can be acked: past
  it RabbitMQ dead-letters them itself.
- `werkplaatsen.<service>.retry.<n>`: one delay queue per retry step (TTL, then dead-lettered back).
- `werkplaatsen.<service>.dlq`: where a message ends up, with `x-dead-letter-reason`, when it cannot be processed.

This module is the one place the topology is defined; docs/operations.md describes it for operators. Dead letters
are handled with `RabbitDeadLetters` (the `werkplaatsen dlq` commands).

Stopping (SIGTERM) happens in two steps: `stop_consuming` cancels the subscription and waits up to
`graceful_timeout` for the messages being handled; messages received but not started are never acked and go back
to the queue when the connection closes. `stop` then closes the connection, after the service flushed its outbox.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aio_pika
import aiormq
import structlog
from faststream import AckPolicy
from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from faststream.rabbit.schemas import Channel
from prometheus_client import REGISTRY

from shared.contract import COMMANDS_EXCHANGE, EVENTS_EXCHANGE
from shared.messaging.delivery import DeadLetter, Verdict, deliver, letter_id
from shared.messaging.messages import (
    FIRST_RECEIVED_HEADER,
    OUTAGE_RETRY_STEP,
    RETRY_DELAYS_SECONDS,
    Consumer,
    Incoming,
    Outgoing,
    bindings,
    first_received,
    queue_name,
)

if TYPE_CHECKING:
    from faststream.rabbit.schemas.queue import QuorumQueueArgs
    from opentelemetry.sdk.trace import TracerProvider

log = structlog.get_logger()

DELIVERY_LIMIT = 20
# How long an operation on a dead-letter queue waits for another to finish with it (RabbitDeadLetters).
SWEEP_LOCK_SECONDS = 60
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


def sweep_lock_name(service: str) -> str:
    return f"werkplaatsen.{service}.dlq.lock"


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
            headers[FIRST_RECEIVED_HEADER] = (msg.first_received_at or datetime.now(UTC)).isoformat()
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


# Headers a dead letter carries that must not travel with its replayed copy.
_DEATH_HEADERS = ("x-death", "x-first-death-", "x-last-death-", "x-delivery-count", REASON_HEADER, DEAD_AT_HEADER)


def _text_or_none(value: Any) -> str | None:
    return None if value is None else _text(value)


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _broker_death(headers: Mapping[str, Any], service: str) -> Mapping[str, Any] | None:
    """RabbitMQ's own record of dead-lettering from the service queue (the delivery limit), if that is how it came."""
    for death in headers.get("x-death") or []:
        if isinstance(death, Mapping) and _text(death.get("queue", "")) == queue_name(service):
            return death
    return None


def dead_letter_of(message: aio_pika.abc.AbstractIncomingMessage, service: str) -> DeadLetter:
    headers = dict(message.headers or {})
    death = _broker_death(headers, service)
    routing_key = headers.get(ROUTING_KEY_HEADER)
    exchange_name = headers.get(EXCHANGE_HEADER)
    reason = headers.get(REASON_HEADER)
    dead_at = headers.get(DEAD_AT_HEADER)
    if death is not None:
        keys = death.get("routing-keys") or [message.routing_key or ""]
        routing_key = routing_key or _text(keys[0])
        exchange_name = exchange_name if exchange_name is not None else _text(death.get("exchange", ""))
        if reason is None:
            cause = _text(death.get("reason", ""))
            reason = f"RabbitMQ: {cause}" + (
                f" (not settled after {DELIVERY_LIMIT} deliveries: the consumer crashed or stalled on it)"
                if cause == "delivery_limit"
                else ""
            )
        if dead_at is None and isinstance(death.get("time"), datetime):
            dead_at = death["time"].isoformat()
    return DeadLetter(
        id=letter_id(message.message_id, message.body),
        routing_key=_text(routing_key or message.routing_key or ""),
        reason=_text(reason or "unknown"),
        body=message.body,
        message_id=message.message_id,
        message_type=message.type,
        correlation_id=message.correlation_id,
        exchange=_text(exchange_name or ""),
        dead_at=_text(dead_at) if dead_at else None,
        headers=headers,
    )


def replay_headers(letter: DeadLetter) -> dict[str, Any]:
    headers = {k: v for k, v in letter.headers.items() if not k.startswith(_DEATH_HEADERS)}
    headers[ROUTING_KEY_HEADER] = letter.routing_key
    headers[EXCHANGE_HEADER] = letter.exchange
    headers[ATTEMPT_HEADER] = 1
    headers[REPLAYS_HEADER] = int(letter.headers.get(REPLAYS_HEADER, 0)) + 1
    return headers


Select = Callable[[DeadLetter], bool]


class RabbitDeadLetters:
    """One service's dead-letter queue for operators: look at it, replay letters into the service queue, purge them.

    Letters are taken with basic.get and held unacked while an operation decides: the ones it does not act on go
    back to the queue (nack with requeue, or the channel closing if the tool dies). Held letters are invisible to
    anyone else, so one operation at a time: each first takes the queue's sweep lock, an exclusive queue
    `werkplaatsen.<service>.dlq.lock` that RabbitMQ lets one connection declare and removes when that connection
    ends (also when its process dies). Without it, two replicas scrubbing for two erasures at once would each miss
    the letters the other holds, and an operator listing the queue would hide letters from a scrub.

    A replayed copy goes straight to the service's own queue (not through the exchange, which would deliver it to
    every other subscriber again), with the original routing key in `x-original-routing-key`, and is confirmed by
    the broker before its dead letter is acked: a crash in between leaves both, and the consumer's inbox makes the
    second one a no-op.
    """

    def __init__(self, url: str, service: str, lock_timeout: float = SWEEP_LOCK_SECONDS) -> None:
        self.url = url
        self.service = service
        self.lock_timeout = lock_timeout

    async def __aenter__(self) -> RabbitDeadLetters:
        self._connection = await aio_pika.connect(self.url)
        try:
            self._channel = await self._connection.channel(publisher_confirms=True)
            self._queue = await self._channel.declare_queue(dead_letter_queue_name(self.service), passive=True)
            await self._take_sweep_lock()
        except aio_pika.exceptions.ChannelNotFoundEntity:
            await self._connection.close()
            raise LookupError(
                f"no queue {dead_letter_queue_name(self.service)} on this broker "
                f"(it is declared when {self.service} first starts)"
            ) from None
        except BaseException:
            await self._connection.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._connection.close()

    async def _take_sweep_lock(self) -> None:
        """Hold the queue's sweep lock for as long as this connection lives; wait (bounded) while another has it."""
        deadline = asyncio.get_running_loop().time() + self.lock_timeout
        while True:
            channel = await self._connection.channel()  # a refused declaration closes its channel
            try:
                await channel.declare_queue(sweep_lock_name(self.service), exclusive=True, auto_delete=True)
                return
            except aiormq.exceptions.ChannelLockedResource:
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(
                        f"{dead_letter_queue_name(self.service)}: another sweep or operator holds it "
                        f"for more than {self.lock_timeout:.0f} s"
                    ) from None
                await asyncio.sleep(0.2)

    async def list(self, limit: int | None = None) -> builtins.list[DeadLetter]:
        seen, _ = await self._each(_never, _nothing, limit=limit)
        return seen

    async def replay(self, select: Select) -> builtins.list[DeadLetter]:
        _, replayed = await self._each(select, self._republish)
        return replayed

    async def purge(self, select: Select) -> builtins.list[DeadLetter]:
        _, purged = await self._each(select, _nothing)
        return purged

    async def _republish(self, message: aio_pika.abc.AbstractIncomingMessage, letter: DeadLetter) -> None:
        await self._channel.default_exchange.publish(
            aio_pika.Message(
                letter.body,
                headers=replay_headers(letter),
                message_id=message.message_id,
                type=message.type,
                correlation_id=message.correlation_id,
                reply_to=message.reply_to,
                content_type=message.content_type or "application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=queue_name(self.service),
        )

    async def _each(
        self, select: Select, act: Callable[..., Any], limit: int | None = None
    ) -> tuple[builtins.list[DeadLetter], builtins.list[DeadLetter]]:
        """Apply `act` to the selected letters and ack them; every other letter goes back. Returns (seen, acted on)."""
        held: builtins.list[aio_pika.abc.AbstractIncomingMessage] = []
        seen: builtins.list[DeadLetter] = []
        acted: builtins.list[DeadLetter] = []
        try:
            while limit is None or len(seen) < limit:
                message = await self._queue.get(no_ack=False, fail=False, timeout=10)
                if message is None:
                    break
                letter = dead_letter_of(message, self.service)
                seen.append(letter)
                if select(letter):
                    await act(message, letter)
                    await message.ack()
                    acted.append(letter)
                else:
                    held.append(message)
        finally:
            for message in held:
                await message.nack(requeue=True)
        return seen, acted


async def _nothing(_message: object, _letter: DeadLetter) -> None:
    return None


def _never(_letter: DeadLetter) -> bool:
    return False
