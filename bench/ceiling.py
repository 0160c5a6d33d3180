"""The broker's ceiling on this machine: one process publishing persistent messages with publisher confirms and
consuming them with acks, as one hop of the pipeline does, with bodies the size of a TrioRegistered event."""

from __future__ import annotations

import asyncio
import time

import aio_pika

WINDOW = 200  # confirms outstanding at once; the services' relays also keep several in flight


async def measure(url: str, *, messages: int, size: int) -> dict[str, float]:
    body = b"x" * size
    connection = await aio_pika.connect_robust(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=WINDOW)
        queue = await channel.declare_queue("bench.ceiling", durable=True)
        await queue.purge()
        done = asyncio.Event()
        received = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            await message.ack()
            received += 1
            if received >= messages:
                done.set()

        started = time.perf_counter()
        consumer_tag = await queue.consume(on_message)
        pending: set[asyncio.Future[object]] = set()
        for _ in range(messages):
            if len(pending) >= WINDOW:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            pending.add(
                asyncio.ensure_future(
                    channel.default_exchange.publish(
                        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=queue.name
                    )
                )
            )
        if pending:
            await asyncio.gather(*pending)
        await asyncio.wait_for(done.wait(), timeout=120)
        elapsed = time.perf_counter() - started
        await queue.cancel(consumer_tag)
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()
    return {
        "messages": messages,
        "message_bytes": size,
        "seconds": round(elapsed, 3),
        "msg_per_s": round(messages / elapsed, 1),
    }
