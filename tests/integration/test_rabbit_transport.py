"""The RabbitMQ transport on a real broker: retries with backoff, dead letters with reasons, reconnection."""

from __future__ import annotations

import json

import aio_pika
import pytest

from shared.messaging import messages
from shared.messaging.messages import Incoming, Outgoing, PermanentFailure
from shared.messaging.rabbit import REASON_HEADER, RabbitTransport, dead_letter_queue_name
from tests.support import TcpProxy, amqp_url, wait_until

pytestmark = pytest.mark.integration


def command(routing_key: str, message_id: str) -> Outgoing:
    return Outgoing(
        exchange="werkplaatsen.commands",
        routing_key=routing_key,
        body=b"{}",
        message_id=message_id,
        message_type=routing_key.split(".")[1],
        correlation_id=message_id,
    )


async def dead_letter_count(vhost: str, service: str) -> int:
    async with await aio_pika.connect(amqp_url(vhost)) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(dead_letter_queue_name(service), passive=True)
        return queue.declaration_result.message_count


async def dead_letters(vhost: str, service: str, count: int = 1) -> list[aio_pika.abc.AbstractIncomingMessage]:
    await wait_until(lambda: _at_least(dead_letter_count(vhost, service), count), what="dead letters")
    async with await aio_pika.connect(amqp_url(vhost)) as connection:
        channel = await connection.channel()
        queue = await channel.get_queue(dead_letter_queue_name(service))
        found = []
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            found.append(message)
        return found


async def test_failing_handler_is_retried_with_backoff_then_dead_lettered_with_its_reason(vhost, monkeypatch) -> None:
    monkeypatch.setattr(messages, "RETRY_DELAYS_SECONDS", (0.05, 0.1))
    monkeypatch.setattr("shared.messaging.rabbit.RETRY_DELAYS_SECONDS", (0.05, 0.1))
    attempts: list[int] = []

    async def always_fails(msg: Incoming) -> None:
        attempts.append(msg.attempt)
        raise RuntimeError("the handler failed")

    transport = RabbitTransport(amqp_url(vhost), "registration")
    await transport.start({"registration.RegisterTrio": always_fails})
    try:
        await transport.publish(command("registration.RegisterTrio", "m-1"))
        letters = await dead_letters(vhost, "registration")
    finally:
        await transport.stop()
    assert attempts == [1, 2, 3]
    (letter,) = letters
    assert letter.message_id == "m-1"
    assert "the handler failed" in letter.headers[REASON_HEADER]
    assert letter.headers["x-original-routing-key"] == "registration.RegisterTrio"


async def test_a_command_waits_out_an_outage_longer_than_its_retries_and_keeps_its_correlation(
    vhost, monkeypatch
) -> None:
    monkeypatch.setattr(messages, "RETRY_DELAYS_SECONDS", (0.05, 0.1))
    monkeypatch.setattr("shared.messaging.rabbit.RETRY_DELAYS_SECONDS", (0.05, 0.1))
    seen: list[tuple[int, str | None]] = []

    async def database_down_for_a_while(msg: Incoming) -> None:
        seen.append((msg.attempt, msg.correlation_id))
        if len(seen) <= 6:  # three times the retry schedule
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    transport = RabbitTransport(amqp_url(vhost), "registration")
    await transport.start({"registration.RegisterTrio": database_down_for_a_while})
    try:
        # A front end's plain AMQP message without a correlation id: the contract's default is the message id.
        async with await aio_pika.connect(amqp_url(vhost)) as connection:
            channel = await connection.channel()
            commands = await channel.get_exchange("werkplaatsen.commands")
            await commands.publish(
                aio_pika.Message(b"{}", message_id="m-2", type="RegisterTrio"), routing_key="registration.RegisterTrio"
            )
        await wait_until(lambda: len(seen) == 7, what="the seventh delivery")
        assert await dead_letter_count(vhost, "registration") == 0
    finally:
        await transport.stop()
    assert [attempt for attempt, _ in seen] == [1] * 7
    assert seen[0][1] is None and {correlation for _, correlation in seen[1:]} == {"m-2"}


async def test_poison_message_goes_to_the_dead_letter_queue_at_once_and_the_queue_keeps_flowing(vhost) -> None:
    handled: list[str] = []

    async def handler(msg: Incoming) -> None:
        if msg.message_id == "poison":
            raise PermanentFailure("event does not match the contract")
        handled.append(msg.message_id)

    transport = RabbitTransport(amqp_url(vhost), "scheduling")
    await transport.start({"scheduling.CloseRegistration": handler})
    try:
        await transport.publish(command("scheduling.CloseRegistration", "poison"))
        await transport.publish(command("scheduling.CloseRegistration", "fine"))
        await wait_until(lambda: handled == ["fine"], what="the good message")
        letters = await dead_letters(vhost, "scheduling")
    finally:
        await transport.stop()
    assert [m.message_id for m in letters] == ["poison"]
    assert letters[0].headers[REASON_HEADER] == "event does not match the contract"


async def test_consumer_comes_back_by_itself_after_the_broker_connection_is_cut(vhost) -> None:
    proxy = await TcpProxy(5672).start()
    received: list[str] = []

    async def handler(msg: Incoming) -> None:
        received.append(json.loads(msg.body)["n"])

    url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/{vhost}"
    transport = RabbitTransport(url, "reporting")
    await transport.start({"scheduling.SessionCompleted": handler})
    try:
        publisher = RabbitTransport(amqp_url(vhost), "publisher")
        await publisher.broker.connect()

        async def publish(n: str) -> None:
            await publisher.publish(
                Outgoing(
                    exchange="werkplaatsen.events",
                    routing_key="scheduling.SessionCompleted",
                    body=json.dumps({"n": n}).encode(),
                    message_id=n,
                    message_type="SessionCompleted",
                    correlation_id=n,
                )
            )

        await publish("before")
        await wait_until(lambda: received == ["before"], what="first message")
        await proxy.cut()
        await wait_until(lambda: _not(transport.ping()), what="the service noticing the outage")
        await publish("during")  # waits in the service's durable queue
        await proxy.restore()
        await wait_until(lambda: received == ["before", "during"], timeout=60, what="delivery after reconnect")
        await publish("after")
        await wait_until(lambda: received == ["before", "during", "after"], what="delivery after reconnect")
        await publisher.stop()
    finally:
        await transport.stop()
        await proxy.cut()


async def _at_least(awaitable, count: int) -> bool:
    return await awaitable >= count


async def _not(awaitable) -> bool:
    return not await awaitable


async def test_body_that_is_not_json_reaches_the_consumer_instead_of_blocking_the_queue(vhost) -> None:
    bodies: list[bytes] = []

    async def handler(msg: Incoming) -> None:
        bodies.append(msg.body)

    transport = RabbitTransport(amqp_url(vhost), "registration")
    await transport.start({"registration.RegisterTrio": handler})
    try:
        await transport.publish(
            Outgoing(
                exchange="werkplaatsen.commands",
                routing_key="registration.RegisterTrio",
                body=b"{not json",
                message_id="bad",
                message_type="RegisterTrio",
                correlation_id="bad",
            )
        )
        await wait_until(lambda: bodies == [b"{not json"], what="the raw body")
    finally:
        await transport.stop()
