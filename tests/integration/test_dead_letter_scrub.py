"""Scrubbing dead letters on RabbitMQ for an erasure while others work on the same queue: two replicas scrubbing
for two erasures at once, or an operator listing it, take turns (the queue's sweep lock), so neither misses the
letters the other holds; the letters kept stay, in their order."""

from __future__ import annotations

import asyncio

import pytest

from shared.messaging.dead_letters import dead_letter_queue, scrub_dead_letters
from tests.integration.test_ops_dlq import SERVICE, Consumer, consumer, dead_lettered, event
from tests.support import amqp_url

__all__ = ["consumer"]  # the fixture

pytestmark = pytest.mark.integration


async def ids_in_queue(vhost: str) -> list[str]:
    async with dead_letter_queue(amqp_url(vhost), SERVICE) as queue:
        return [letter.message_id or "" for letter in await queue.list()]


async def test_two_scrubs_at_once_each_remove_their_own_letters_and_keep_the_others_in_order(
    consumer: Consumer, vhost: str
) -> None:
    letters = [event(f"r-{n}") for n in range(8)]
    for letter in letters:
        await consumer.transport.publish(letter)
    await dead_lettered(vhost, len(letters))
    before = await ids_in_queue(vhost)
    erased = {letters[1].message_id, letters[6].message_id}

    def mentions(registration_id: str):  # noqa: ANN202
        return lambda body: f'"registration_id": "{registration_id}"'.encode() in body

    removed = await asyncio.gather(
        scrub_dead_letters(amqp_url(vhost), SERVICE, mentions("r-1")),
        scrub_dead_letters(amqp_url(vhost), SERVICE, mentions("r-6")),
        ids_in_queue(vhost),  # an operator looking at the queue meanwhile
    )

    assert removed[:2] == [1, 1]
    assert await ids_in_queue(vhost) == [i for i in before if i not in erased]
