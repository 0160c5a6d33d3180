"""Test helpers that talk to the real things: PostgreSQL, RabbitMQ, an SMTP server, service processes."""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
import asyncpg
import httpx
from aiosmtpd.controller import Controller

from shared.messaging.messages import Consumer, Outgoing
from shared.settings import SERVICES
from tests.factories import by_organiser

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


async def wait_until(
    condition: Callable[[], Any], timeout: float = 60.0, interval: float = 0.05, what: str = "condition"
) -> Any:
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


def database_url(name: str, port: int = 5432) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{name}"


def create_vhost() -> str:
    name = f"wp_test_{uuid.uuid4().hex[:10]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], check=True, capture_output=True
    )
    return name


def delete_vhost(name: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], check=False, capture_output=True)


def amqp_url(vhost: str, host: str = AMQP_HOST, port: int = 5672) -> str:
    return f"amqp://guest:guest@{host}:{port}/{vhost}"


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


class ChildProcess:
    """A program the tests run as a process of its own, with its output in `log`: started, killed with SIGKILL (a
    crash), or stopped with SIGTERM (a graceful stop, SIGKILL after 20 s)."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command(), env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@dataclass
class ServiceProcess(ChildProcess):
    """One service as `werkplaatsen run`, the command the deployment runs."""

    name: str
    env: dict[str, str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    ready_path: str = "/ready"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "services", "run", self.name, "--port", str(self.port), "--host", "127.0.0.1"]

    async def wait_ready(self, timeout: float = 60) -> None:
        async def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited with {self.process.returncode}; log: {self.log.read_text()[-3000:]}"
                )
            try:
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"{self.url}{self.ready_path}", timeout=2)).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_until(ready, timeout=timeout, interval=0.2, what=f"{self.name} /ready")


def strong_secret(label: str) -> str:
    """A secret `werkplaatsen run` accepts (shared/settings.py secret_problem), the same for the same label so that a
    test can sign a link with it too; LABEL keeps it recognisable in a log."""
    return f"{label}-{hashlib.sha256(label.encode()).hexdigest()[:40]}"


@dataclass
class ServiceEnv:
    """What the service processes of one test system share, made fresh for it and removed after: a RabbitMQ vhost,
    a PostgreSQL database per service, an SMTP server (an SmtpSink, unless the caller runs its own and passes
    `smtp_url`), and the environment that points a process at them. The tiers that run the services as processes
    (e2e, faults, chat, browser, bench) all start from this, so they differ only in what they say they differ in."""

    prefix: str  # in the database names: wp_<prefix>_<service>_<random>
    data_dir: Path
    secret_key: str
    organizer_token: str
    services: tuple[str, ...] = SERVICES
    extra: dict[str, str] = field(default_factory=dict)  # added last, so it overrides any of the defaults
    smtp_url: str = ""
    # Where the processes reach RabbitMQ and PostgreSQL: the shared servers, or proxies in front of them (faults).
    broker_host: str = AMQP_HOST
    broker_port: int = 5672
    database_port: int = 5432
    smtp: SmtpSink | None = None
    vhost: str = ""
    databases: dict[str, str] = field(default_factory=dict)

    async def start(self) -> ServiceEnv:
        if not self.smtp_url:
            self.smtp = SmtpSink().start()
            self.smtp_url = self.smtp.url
        self.vhost = create_vhost()
        for name in self.services:
            self.databases[name] = await create_database(f"{self.prefix}_{name}")
        return self

    async def __aenter__(self) -> ServiceEnv:
        try:
            return await self.start()
        except BaseException:
            await self.stop()  # what was made before the failure
            raise

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self.smtp is not None:
            self.smtp.stop()
        if self.vhost:
            delete_vhost(self.vhost)
        for name in self.databases.values():
            await drop_database(name)

    @property
    def broker_url(self) -> str:
        """The broker as the service processes see it (the test's own Bus uses `amqp_url(vhost)`)."""
        return amqp_url(self.vhost, self.broker_host, self.broker_port)

    @property
    def base(self) -> dict[str, str]:
        """The environment every process of the system gets: a service adds its database and public URL."""
        return {
            **os.environ,
            "WERKPLAATSEN_BROKER_URL": self.broker_url,
            "WERKPLAATSEN_SMTP_URL": self.smtp_url,
            "WERKPLAATSEN_SECRET_KEY": self.secret_key,
            "WERKPLAATSEN_ORGANIZER_TOKEN": self.organizer_token,
            "WERKPLAATSEN_DATA_DIR": str(self.data_dir),
            "WERKPLAATSEN_LOG_FORMAT": "json",
            # The tests' Bus publishes as guest, standing in for the console: its actors are believed (`werkplaatsen
            # run` refuses to start without this setting). A test of the console's own user overrides it.
            "WERKPLAATSEN_CONSOLE_BROKER_USERS": "guest",
            **self.extra,
        }

    def env(self, name: str, port: int) -> dict[str, str]:
        """The environment of a process of service `name` listening on `port` (its pages' URLs point there)."""
        return {
            **self.base,
            f"{name.upper()}_DATABASE_URL": database_url(self.databases[name], self.database_port),
            "WERKPLAATSEN_PUBLIC_URL": f"http://127.0.0.1:{port}",
            **self.extra,
        }

    def process(self, name: str, log: Path, port: int | None = None) -> ServiceProcess:
        """A process of service `name` (not started), on `port` or a free one; a second one is a replica."""
        port = port or free_port()
        return ServiceProcess(name, self.env(name, port), port, log)


@asynccontextmanager
async def running(*processes: ServiceProcess) -> AsyncIterator[None]:
    """The processes started, each of them ready, and stopped afterwards (also when one does not get ready)."""
    try:
        for process in processes:
            process.start()
        for process in processes:
            await process.wait_ready()
        yield
    finally:
        for process in processes:
            process.stop()


class Bus:
    """A front end's view of RabbitMQ: publish commands, watch every event. It stands in for the console: its
    messages carry its broker user as the AMQP user_id (RabbitMQ checks it), and an organiser's command in a
    dict body gets the organiser as its actor (factories.by_organiser); a bytes body is sent as it is."""

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

    async def send(
        self,
        routing_key: str,
        body: dict[str, Any] | bytes,
        *,
        message_id: str | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
    ) -> str:
        message_id = message_id or str(uuid.uuid4())
        payload = body if isinstance(body, bytes) else json.dumps(by_organiser(routing_key, body)).encode()
        await self.commands.publish(
            aio_pika.Message(
                payload,
                user_id=unquote(urlsplit(self.url).username or "guest"),
                message_id=message_id,
                correlation_id=correlation_id,
                reply_to=reply_to,
                type=routing_key.split(".", 1)[1],
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
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
        return await wait_until(
            lambda: len(self.of(name, **match)) >= count and self.of(name, **match),
            timeout=timeout,
            what=f"{count} x {name} {match}",
        )


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


def hidden(page: str, name: str) -> str:
    """The value of the hidden form field NAME on an HTML page (a CSRF token, a TOTP secret)."""
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return html.unescape(match.group(1))
