"""The console as a process of its own in production (`werkplaatsen console`): its store in PostgreSQL, the
services' APIs over HTTP, and commands on RabbitMQ with a reply queue for this process."""

from __future__ import annotations

import uuid
from urllib.parse import unquote, urlsplit

from starlette.applications import Starlette

from shared.messaging.rabbit import RabbitTransport
from shared.settings import SERVICES, Settings

from .backends import Backends, ServiceApis
from .gateway import CommandGateway, id_key, reply_queue_name
from .web import app


def rabbit_backends(settings: Settings) -> Backends:
    if not settings.werkplaatsen_broker_url:
        raise ValueError("WERKPLAATSEN_BROKER_URL is required")
    transport = RabbitTransport(settings.werkplaatsen_broker_url, "console")
    user = urlsplit(settings.werkplaatsen_broker_url).username or "guest"  # amqp://host/ means guest
    gateway = CommandGateway(
        transport,
        reply_queue_name(uuid.uuid4().hex[:16]),
        id_key=id_key(settings.werkplaatsen_secret_key),
        broker_user=unquote(user),
    )

    async def start() -> None:
        await transport.start_replies(gateway.reply_queue, gateway.on_reply)

    apis = ServiceApis.over_http(
        {name: settings.console_service_url(name) for name in SERVICES}, settings.werkplaatsen_organizer_token
    )
    return Backends(apis=apis, gateway=gateway, start=start, stop=transport.stop)


def production_app(settings: Settings) -> Starlette:
    return app(settings, backends=rabbit_backends(settings))
