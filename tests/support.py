"""Test helpers that talk to the real things: PostgreSQL, RabbitMQ, an SMTP server, service processes."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import aio_pika
import asyncpg
from aiosmtpd.controller import Controller

from shared.messaging.messages import Consumer, Outgoing

PG_ADMIN_DSN = os.environ.get("WERKPLAATSEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_HOST = os.environ.get("WERKPLAATSEN_TEST_AMQP_HOST", "127.0.0.1")


def require_port(host: str, port: int, what: str) -> None:
    """Integration tiers fail, never skip, when a real dependency is missing."""
    try:
        with socket.create_connection((host, port), timeout=3):
            return
    except OSError as exc:
        raise AssertionError(f"{what} is not reachable at {host}:{port} ({exc}); start it, see README") from exc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_until(condition: Callable[[], Any], timeout: float = 60.0, interval: float = 0.05,
                     what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def create_database(prefix: str) -> str:
    name = f"wp_{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def database_url(name: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def create_vhost() -> str:
    name = f"wp_test_{uuid.uuid4().hex[:10]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], check=True,
                   capture_output=True)
    return name


def delete_vhost(name: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], check=False, capture_output=True)


def amqp_url(vhost: str) -> str:
    return f"amqp://guest:guest@{AMQP_HOST}:5672/{vhost}"


class _Collect:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        if self.sink.refuse:
            return "451 4.3.0 try again later"
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.sink.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@dataclass
class SmtpSink:
    """A real SMTP server (aiosmtpd) on a free port that keeps what it receives."""

    port: int = field(default_factory=free_port)
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: bool = False

    def __post_init__(self) -> None:
        self.controller = Controller(_Collect(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address.lower() in (r.lower() for r in rcpts)]


class Bus:
    """A front end's view of RabbitMQ: publish commands, watch every event."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[dict[str, Any]] = []
        self.properties: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def __aenter__(self) -> Bus:
        self.connection = await aio_pika.connect_robust(self.url)
        self.channel = await self.connection.channel()
        self.commands = await self.channel.declare_exchange("werkplaatsen.commands", "topic", durable=True)
        events = await self.channel.declare_exchange("werkplaatsen.events", "topic", durable=True)
        queue = await self.channel.declare_queue(exclusive=True)
        await queue.bind(events, "#")
        await queue.consume(self._on_event)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.connection.close()

    async def _on_event(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            self.events.append(json.loads(message.body))
            self.properties.append(message)

    async def send(self, routing_key: str, body: dict[str, Any] | bytes, *, message_id: str | None = None,
                   correlation_id: str | None = None, reply_to: str | None = None) -> str:
        message_id = message_id or str(uuid.uuid4())
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        await self.commands.publish(
            aio_pika.Message(payload, message_id=message_id, correlation_id=correlation_id, reply_to=reply_to,
                             type=routing_key.split(".", 1)[1], content_type="application/json",
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=routing_key,
        )
        return message_id

    def of(self, name: str, **match: Any) -> list[dict[str, Any]]:
        """Events of type `name` whose envelope or data fields equal `match`."""
        found = []
        for e in self.events:
            if e.get("type") != name:
                continue
            if all(e.get(k, e["data"].get(k)) == v for k, v in match.items()):
                found.append(e)
        return found

    async def wait_for(self, name: str, count: int = 1, timeout: float = 60.0, **match: Any) -> list[dict[str, Any]]:
        return await wait_until(lambda: len(self.of(name, **match)) >= count and self.of(name, **match),
                                timeout=timeout, what=f"{count} x {name} {match}")


class TcpProxy:
    """A TCP proxy the test can cut and restore, to take the broker away from a service and give it back."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.base_events.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._pipes):
            writer.close()
        self._pipes.clear()

    async def restore(self) -> None:
        await self.start()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._pipes.update({writer, up_writer})
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            self._pipes.discard(writer)


class RecordingTransport:
    """Stands in for the broker where a test runs a service in-process: keeps what the outbox relay publishes."""

    def __init__(self) -> None:
        self.published: list[Outgoing] = []

    async def start(self, consumers: Mapping[str, Consumer]) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ping(self) -> bool:
        return True

    async def publish(self, out: Outgoing) -> None:
        self.published.append(out)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(o.body) for o in self.published if o.message_type == name]
