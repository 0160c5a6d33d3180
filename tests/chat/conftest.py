"""The chat bot end to end: a real Synapse homeserver on localhost (from .venv-synapse, see scripts/chat-setup),
registration, scheduling and notifications as processes on RabbitMQ and PostgreSQL, the bot as its own process
(`python -m frontends.chat`), and a participant who talks to it with matrix-nio."""

from __future__ import annotations

import asyncio
import secrets
import signal
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from nio import AsyncClient, RegisterResponse, RoomCreateResponse, RoomMessageText, RoomSendResponse, SyncResponse

from tests.support import (
    Bus,
    ChildProcess,
    ServiceEnv,
    ServiceProcess,
    SmtpSink,
    amqp_url,
    free_port,
    strong_secret,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
SYNAPSE_PYTHON = ROOT / ".venv-synapse" / "bin" / "python"
SECRET_KEY = strong_secret("chat-e2e-secret")
SERVICES = ("registration", "scheduling", "notifications")
BOT_QUEUE = "werkplaatsen.chat"


def synapse_config(directory: Path, port: int) -> str:
    """SQLite, client API only on 127.0.0.1, no federation, no TLS; open registration for the test users and rate
    limits out of the way (the participant answers faster than any person)."""
    unlimited = "{per_second: 1000, burst_count: 1000}"
    return textwrap.dedent(f"""\
        server_name: "localhost"
        pid_file: {directory}/homeserver.pid
        listeners:
          - port: {port}
            bind_addresses: ['127.0.0.1']
            type: http
            tls: false
            x_forwarded: false
            resources:
              - names: [client]
                compress: false
        database:
          name: sqlite3
          args:
            database: {directory}/homeserver.db
        media_store_path: {directory}/media
        signing_key_path: {directory}/signing.key
        report_stats: false
        enable_registration: true
        enable_registration_without_verification: true
        macaroon_secret_key: "{secrets.token_hex(16)}"
        form_secret: "{secrets.token_hex(16)}"
        trusted_key_servers: []
        suppress_key_server_warning: true
        federation_domain_whitelist: []
        presence:
          enabled: false
        rc_message: {unlimited}
        rc_registration: {unlimited}
        rc_login:
          address: {unlimited}
          account: {unlimited}
          failed_attempts: {unlimited}
        rc_joins:
          local: {unlimited}
        rc_invites:
          per_room: {unlimited}
          per_user: {unlimited}
        """)


@dataclass
class Homeserver:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    async def wait_ready(self) -> None:
        async def up() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"synapse exited with {self.process.returncode}: {self.log.read_text()[-3000:]}")
            try:
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"{self.url}/_matrix/client/versions", timeout=2)).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_until(up, interval=0.1, what="synapse /_matrix/client/versions")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_synapse(directory: Path) -> Homeserver:
    if not SYNAPSE_PYTHON.exists():
        raise AssertionError(f"{SYNAPSE_PYTHON} is missing: run scripts/chat-setup")
    port = free_port()
    config = directory / "homeserver.yaml"
    config.write_text(synapse_config(directory, port))
    log = directory / "synapse.log"
    subprocess.run(
        [str(SYNAPSE_PYTHON), "-m", "synapse.app.homeserver", "-c", str(config), "--generate-keys"],
        check=True,
        capture_output=True,
        cwd=directory,
    )
    process = subprocess.Popen(
        [str(SYNAPSE_PYTHON), "-m", "synapse.app.homeserver", "-c", str(config)],
        cwd=directory,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    return Homeserver(f"http://127.0.0.1:{port}", process, log)


async def register_user(homeserver: str, name: str, password: str) -> AsyncClient:
    client = AsyncClient(homeserver, name)
    response = await client.register(name, password)
    assert isinstance(response, RegisterResponse), response
    return client


@dataclass
class BotProcess(ChildProcess):
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "frontends.chat"]

    async def wait_consuming(self, url: str) -> None:
        """Until the bot consumes its queue: from then on it sees every event (and it has logged in to Matrix)."""

        async def consuming() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"the bot exited with {self.process.returncode}: {self.log.read_text()[-3000:]}")
            try:
                connection = await aio_pika.connect(url)
            except aio_pika.exceptions.AMQPConnectionError:
                return False
            try:
                channel = await connection.channel()
                queue = await channel.declare_queue(BOT_QUEUE, passive=True)
                return bool(queue.declaration_result.consumer_count)
            except aio_pika.exceptions.ChannelClosed:
                return False
            finally:
                await connection.close()

        await wait_until(consuming, interval=0.2, what="the bot consuming its queue")


@dataclass
class Participant:
    """A person in a Matrix client (nio), talking to the bot in rooms they create."""

    client: AsyncClient
    bot_user: str
    lines: dict[str, list[str]] = field(default_factory=dict)  # room -> what the bot said, in order
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        first = await self.client.sync(timeout=0, sync_filter={"room": {"timeline": {"limit": 0}}})
        assert isinstance(first, SyncResponse), first
        self.task = asyncio.create_task(self._listen(first.next_batch))

    async def _listen(self, token: str) -> None:
        while True:
            response = await self.client.sync(timeout=3000, since=token)
            if not isinstance(response, SyncResponse):
                await asyncio.sleep(0.2)
                continue
            for room_id, room in response.rooms.join.items():
                for event in room.timeline.events:
                    if isinstance(event, RoomMessageText) and event.sender == self.bot_user:
                        self.lines.setdefault(room_id, []).append(event.body)
            token = response.next_batch

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await self.task
        await self.client.close()

    async def open_room(self) -> str:
        """A direct room with the bot; returns once the bot has joined and greeted."""
        response = await self.client.room_create(invite=[self.bot_user], is_direct=True)
        assert isinstance(response, RoomCreateResponse), response
        await self.expect(response.room_id, 0, "aanmelden")
        return response.room_id

    async def send(self, room_id: str, text: str) -> int:
        """Say a line; returns how many lines the bot had said in the room before it."""
        seen = len(self.lines.get(room_id, []))
        response = await self.client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": text})
        assert isinstance(response, RoomSendResponse), response
        return seen

    async def expect(self, room_id: str, after: int, *fragments: str) -> str:
        """The bot's lines after the first `after`, once one of them holds every fragment (case-insensitive)."""

        def answered() -> str | None:
            new = self.lines.get(room_id, [])[after:]
            if any(all(f.casefold() in line.casefold() for f in fragments) for line in new):
                return "\n".join(new)
            return None

        try:
            return await wait_until(answered, interval=0.05, what=f"the bot saying {fragments}")
        except AssertionError:
            raise AssertionError(
                f"the bot did not say {fragments}; it said: {self.lines.get(room_id, [])[after:]}"
            ) from None

    async def ask(self, room_id: str, text: str, *fragments: str) -> str:
        return await self.expect(room_id, await self.send(room_id, text), *fragments)


@dataclass
class ChatSystem:
    vhost: str
    homeserver: Homeserver
    services: dict[str, ServiceProcess]
    bot: BotProcess
    bot_user: str
    bot_store: Path
    smtp: SmtpSink

    @property
    def amqp_url(self) -> str:
        return amqp_url(self.vhost)


@pytest.fixture(scope="module")
async def chat_system(real_services, tmp_path_factory):  # noqa: ANN201
    logs = tmp_path_factory.mktemp("chat-logs")
    async with ServiceEnv(
        "chat", tmp_path_factory.mktemp("data"), SECRET_KEY, strong_secret("chat-e2e-organizer"), services=SERVICES
    ) as env:
        assert env.smtp is not None
        homeserver = start_synapse(tmp_path_factory.mktemp("synapse"))
        services = {name: env.process(name, logs / f"{name}.log") for name in SERVICES}
        for process in services.values():
            process.start()
        bot = None
        try:
            await homeserver.wait_ready()
            bot_password = secrets.token_hex(8)
            bot_client = await register_user(homeserver.url, "werkplaatsen", bot_password)
            bot_user = bot_client.user_id
            await bot_client.close()
            bot_store = tmp_path_factory.mktemp("bot") / "chat.sqlite3"
            bot = BotProcess(
                {
                    **env.base,
                    "WERKPLAATSEN_CHAT_HOMESERVER": homeserver.url,
                    "WERKPLAATSEN_CHAT_USER": bot_user,
                    "WERKPLAATSEN_CHAT_PASSWORD": bot_password,
                    "WERKPLAATSEN_CHAT_STORE": str(bot_store),
                    # Status links point at the registration service's pages.
                    "WERKPLAATSEN_PUBLIC_URL": services["registration"].url,
                },
                logs / "bot.log",
            )
            bot.start()
            for process in services.values():
                await process.wait_ready()
            await bot.wait_consuming(amqp_url(env.vhost))
            yield ChatSystem(env.vhost, homeserver, services, bot, bot_user, bot_store, env.smtp)
        finally:
            if bot is not None:
                bot.stop()
            for process in services.values():
                process.stop()
            homeserver.stop()


@pytest.fixture(scope="module")
async def bus(chat_system):  # noqa: ANN201
    async with Bus(chat_system.amqp_url) as bus:
        yield bus


@pytest.fixture(scope="module")
async def edition(chat_system, bus) -> dict[str, Any]:
    """The one edition open for registration (scheduled after the bot consumes, so it keeps its copy)."""
    from tests.factories import open_edition

    body = open_edition()
    command_id = await bus.send("scheduling.ScheduleEdition", body)
    await bus.wait_for("EditionScheduled", correlation_id=command_id)

    def bot_has_it() -> bool:
        with closing(sqlite3.connect(chat_system.bot_store)) as db:
            return db.execute("SELECT 1 FROM editions WHERE slug = ?", (body["edition"],)).fetchone() is not None

    await wait_until(bot_has_it, interval=0.1, what="the bot's copy of the edition")
    return body


@pytest.fixture
async def participant(chat_system):  # noqa: ANN201
    client = await register_user(chat_system.homeserver.url, f"deelnemer{secrets.token_hex(4)}", "wachtwoord")
    person = Participant(client, chat_system.bot_user)
    await person.start()
    yield person
    await person.stop()
