"""Dead-letter queues for operators and the erasure sweep: list, show, replay and purge one service's dead
letters, one operation per queue at a time (the `werkplaatsen dlq` commands, shared/messaging/dead_letters.py).
The topology they live in is rabbit.py's."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import aio_pika
import aiormq

from shared.messaging.delivery import DeadLetter, letter_id
from shared.messaging.messages import queue_name
from shared.messaging.rabbit import (
    ATTEMPT_HEADER,
    DEAD_AT_HEADER,
    DELIVERY_LIMIT,
    EXCHANGE_HEADER,
    REASON_HEADER,
    REPLAYS_HEADER,
    ROUTING_KEY_HEADER,
    dead_letter_queue_name,
    header_text,
)

# How long an operation on a dead-letter queue waits for another to finish with it.
SWEEP_LOCK_SECONDS = 60
# Headers a dead letter carries that must not travel with its replayed copy.
_DEATH_HEADERS = ("x-death", "x-first-death-", "x-last-death-", "x-delivery-count", REASON_HEADER, DEAD_AT_HEADER)


def sweep_lock_name(service: str) -> str:
    return f"werkplaatsen.{service}.dlq.lock"


def _broker_death(headers: Mapping[str, Any], service: str) -> Mapping[str, Any] | None:
    """RabbitMQ's own record of dead-lettering from the service queue (the delivery limit), if that is how it came."""
    for death in headers.get("x-death") or []:
        if isinstance(death, Mapping) and header_text(death.get("queue", "")) == queue_name(service):
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
        routing_key = routing_key or header_text(keys[0])
        exchange_name = exchange_name if exchange_name is not None else header_text(death.get("exchange", ""))
        if reason is None:
            cause = header_text(death.get("reason", ""))
            reason = f"RabbitMQ: {cause}" + (
                f" (not settled after {DELIVERY_LIMIT} deliveries: the consumer crashed or stalled on it)"
                if cause == "delivery_limit"
                else ""
            )
        if dead_at is None and isinstance(death.get("time"), datetime):
            dead_at = death["time"].isoformat()
    return DeadLetter(
        id=letter_id(message.message_id, message.body),
        routing_key=header_text(routing_key or message.routing_key or ""),
        reason=header_text(reason or "unknown"),
        body=message.body,
        message_id=message.message_id,
        message_type=message.type,
        correlation_id=message.correlation_id,
        exchange=header_text(exchange_name or ""),
        dead_at=header_text(dead_at) if dead_at else None,
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
