"""The broker users of docs/broker-permissions.md applied to the local RabbitMQ (management API): RabbitMQ itself
refuses a front end's organiser command and a service's publication of another service's event."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import httpx
import pytest
from aio_pika.exceptions import ChannelClosed

from services.ops.broker_users import Account, apply
from shared.contract import COMMANDS_EXCHANGE, EVENTS_EXCHANGE
from tests.support import AMQP_HOST

pytestmark = pytest.mark.integration

MANAGEMENT = f"http://guest:guest@{AMQP_HOST}:15672"


@pytest.fixture(scope="module")
async def accounts(real_services) -> AsyncIterator[dict[str, Account]]:
    tag = uuid.uuid4().hex[:8]
    vhost = f"wp_perm_{tag}"
    made = {c: Account(f"wp_{tag}_{c}", uuid.uuid4().hex, vhost) for c in ("chat", "scheduling")}
    try:
        await apply(MANAGEMENT, made)
        yield made
    finally:
        async with httpx.AsyncClient(auth=("guest", "guest"), timeout=10) as http:
            for account in made.values():
                await http.delete(f"http://{AMQP_HOST}:15672/api/users/{account.user}")
            await http.delete(f"http://{AMQP_HOST}:15672/api/vhosts/{vhost}")


async def publish(account: Account, exchange: str, routing_key: str) -> None:
    """Publish one message as ACCOUNT with publisher confirms; a refusal closes the channel (ChannelClosed)."""
    connection = await aio_pika.connect(f"amqp://{account.user}:{account.password}@{AMQP_HOST}:5672/{account.vhost}")
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        await target.publish(aio_pika.Message(b"{}", message_id=str(uuid.uuid4())), routing_key=routing_key)


async def test_the_chat_bot_may_register_and_cancel_but_the_broker_refuses_its_organiser_command(
    accounts: dict[str, Account],
) -> None:
    await publish(accounts["chat"], COMMANDS_EXCHANGE, "registration.CancelRegistration")
    with pytest.raises(ChannelClosed, match="ACCESS_REFUSED"):
        await publish(accounts["chat"], COMMANDS_EXCHANGE, "registration.EraseParticipantData")
    with pytest.raises(ChannelClosed, match="ACCESS_REFUSED"):
        await publish(accounts["chat"], EVENTS_EXCHANGE, "registration.TrioRegistered")


async def test_a_service_announces_its_own_events_and_the_broker_refuses_another_services(
    accounts: dict[str, Account],
) -> None:
    await publish(accounts["scheduling"], EVENTS_EXCHANGE, "scheduling.EditionScheduled")
    with pytest.raises(ChannelClosed, match="ACCESS_REFUSED"):
        await publish(accounts["scheduling"], EVENTS_EXCHANGE, "registration.ParticipantDataErased")
    with pytest.raises(ChannelClosed, match="ACCESS_REFUSED"):
        await publish(accounts["scheduling"], COMMANDS_EXCHANGE, "scheduling.CloseRegistration")
