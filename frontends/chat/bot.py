"""The running bot: the Matrix sync loop, its RabbitMQ queue, and the outbox that sends both ways.

- Matrix: one long-poll `/sync` loop. The position (`next_batch`) is stored after each batch, so lines sent while
  the bot was down are answered when it is back; each line's event id is recorded, so none is answered twice. The
  bot joins rooms it is invited to and greets once.
- RabbitMQ (FastStream, as the services use it): the bot's own durable quorum queue (default `werkplaatsen.chat`)
  bound to the events it follows on `werkplaatsen.events`; the services send the outcome of its commands (`Reply`)
  to the same queue, so an outcome that arrives while the bot is down waits there. A message is acked after its
  transaction committed; a message that does not match the contract is dead-lettered to `<queue>.dlq`.
- Commands go to `werkplaatsen.commands` with a fresh `message_id` each, with publisher confirms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import aio_pika
import structlog
from faststream import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from faststream.rabbit.schemas import Channel
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    LoginResponse,
    RoomMessageText,
    RoomSendError,
    SyncResponse,
    WhoamiResponse,
)
from pydantic import ValidationError

from services.registration.adapters import load_municipalities
from services.registration.config import RegistrationConfig
from services.registration.web import MunicipalityIndex
from shared.contract import COMMANDS_EXCHANGE, EVENTS, EVENTS_EXCHANGE, Event, Reply, message_name
from shared.contract.notifications import ChatMessageRequested
from shared.contract.registration import (
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.scheduling import (
    EditionScheduled,
    PlaceReleased,
    RegistrationClosed,
    SessionRescheduled,
    TrioPlaced,
    TrioWaitlisted,
)
from shared.db import Database, utcnow
from shared.links import status_path
from shared.messaging.rabbit import exchange

from .dialogue import HELP, Context, Dialogue, Outcome, is_open, on_reply, respond
from .settings import ChatSettings
from .store import ChatStore, OutboxRow, RegistrationRow, apply_status, create_schema

log = structlog.get_logger()

FOLLOWED = (TrioRegistered, RegistrationApproved, RegistrationDeclined, RegistrationCancelled, TrioPlaced,
            TrioWaitlisted, PlaceReleased, EditionScheduled, RegistrationClosed, SessionRescheduled,
            ChatMessageRequested)
SYNC_TIMEOUT_MS = 10_000
RETRY_SECONDS = 2.0
DEVICE_NAME = "Werkplaatsen chatbot"


class ChatBot:
    def __init__(self, settings: ChatSettings) -> None:
        self.settings = settings
        self.queue = settings.werkplaatsen_chat_queue
        self.db = Database(settings.store_url)
        self.client = AsyncClient(settings.werkplaatsen_chat_homeserver, settings.werkplaatsen_chat_user,
                                  config=AsyncClientConfig(max_timeouts=3, request_timeout=30))
        self.broker = RabbitBroker(settings.werkplaatsen_broker_url, reconnect_interval=1.0, logger=None)
        self.municipalities = MunicipalityIndex(list(load_municipalities(RegistrationConfig())))
        self.lock = asyncio.Lock()  # one line or message at a time: a room's dialogue has one writer
        self.flush_lock = asyncio.Lock()
        self.wake = asyncio.Event()

    # Running

    async def run(self, stop: asyncio.Event) -> None:
        await create_schema(self.db)
        await self.login()
        await self.start_consuming()
        log.info("chat_bot_started", user=self.client.user_id, queue=self.queue)
        tasks = [asyncio.create_task(self.sync_forever(stop)), asyncio.create_task(self.flush_forever(stop))]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.broker.stop()
            await self.client.close()
            await self.db.dispose()

    async def login(self) -> None:
        s = self.settings
        if s.werkplaatsen_chat_access_token is not None:
            self.client.restore_login(s.werkplaatsen_chat_user, s.werkplaatsen_chat_device_id or "",
                                      s.werkplaatsen_chat_access_token.get_secret_value())
            await self.check_login()
            return
        async with self.db.sessions() as session:
            saved = await ChatStore(session).setting("matrix_login")
        if saved:
            # The same device on every start: the homeserver recognises a repeated transaction id only per device.
            login = json.loads(saved)
            self.client.restore_login(login["user_id"], login["device_id"], login["access_token"])
            if await self.check_login(fail=False):
                return
        assert s.werkplaatsen_chat_password is not None
        response = await self.client.login(s.werkplaatsen_chat_password.get_secret_value(), device_name=DEVICE_NAME)
        if not isinstance(response, LoginResponse):
            raise SystemExit(f"WERKPLAATSEN_CHAT_PASSWORD: the homeserver refused the login ({response})")
        async with self.db.transaction() as session:
            await ChatStore(session).set_setting("matrix_login", json.dumps({
                "user_id": response.user_id, "device_id": response.device_id,
                "access_token": response.access_token}))

    async def check_login(self, fail: bool = True) -> bool:
        response = await self.client.whoami()
        if isinstance(response, WhoamiResponse):
            self.client.user_id = response.user_id
            self.client.device_id = response.device_id or self.client.device_id
            return True
        if fail:
            raise SystemExit(f"WERKPLAATSEN_CHAT_ACCESS_TOKEN: the homeserver refused it ({response})")
        return False

    # RabbitMQ

    async def start_consuming(self) -> None:
        await self.broker.connect()
        for name in (COMMANDS_EXCHANGE, EVENTS_EXCHANGE):
            await self.broker.declare_exchange(exchange(name))
        dlq = f"{self.queue}.dlq"
        await self.broker.declare_queue(RabbitQueue(dlq, durable=True, arguments={"x-queue-type": "quorum"}))
        queue = await self.broker.declare_queue(RabbitQueue(self.queue, durable=True, arguments={
            "x-queue-type": "quorum", "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq}))
        for event in FOLLOWED:
            await queue.bind(EVENTS_EXCHANGE, routing_key=event.routing_key)
        subscriber = self.broker.subscriber(
            RabbitQueue(self.queue, declare=False), channel=Channel(prefetch_count=16),
            ack_policy=AckPolicy.MANUAL, no_reply=True, decoder=_raw_body,
        )
        subscriber(self.on_bus_message)
        await self.broker.start()

    async def on_bus_message(self, message: RabbitMessage) -> None:
        raw = message.raw_message
        try:
            await self.handle_bus(raw)
        except (ValidationError, LookupError) as exc:
            # Not a message of the contract: handling it again would fail again. Dead-lettered, with the reason here.
            log.error("chat_message_unusable", message_id=raw.message_id, routing_key=raw.routing_key,
                      error=repr(exc)[:500])
            await message.reject(requeue=False)
            return
        except Exception as exc:
            log.warning("chat_message_failed", message_id=raw.message_id, error=repr(exc)[:500])
            await asyncio.sleep(RETRY_SECONDS)
            await message.nack(requeue=True)
            return
        await message.ack()
        self.wake.set()

    async def handle_bus(self, raw: aio_pika.abc.AbstractIncomingMessage) -> None:
        if raw.type == "Reply":
            reply = Reply.model_validate_json(raw.body)
            async with self.lock, self.db.transaction() as session:
                store = ChatStore(session)
                if await store.first_time(f"reply:{reply.command_id}"):
                    await self.on_reply(store, reply)
            return
        model = EVENTS.get(raw.routing_key or "")
        if model is None:
            raise LookupError(f"no event with routing key {raw.routing_key!r}")
        event = Event[model].model_validate_json(raw.body)  # type: ignore[valid-type]
        async with self.lock, self.db.transaction() as session:
            store = ChatStore(session)
            if await store.first_time(event.event_id):
                await self.on_event(store, event)

    async def on_event(self, store: ChatStore, event: Event[Any]) -> None:
        data, at = event.data, event.occurred_at
        if isinstance(data, ChatMessageRequested):
            if await store.known_room(data.chat_id):
                store.say(data.chat_id, data.text)
        elif isinstance(data, EditionScheduled):
            await store.save_edition(data.edition, data.model_dump(mode="json"), at)
        elif isinstance(data, RegistrationClosed):
            if (edition := await store.edition(data.edition)) is not None:
                edition.closed = True
        elif isinstance(data, SessionRescheduled):
            if (edition := await store.edition(data.edition)) is not None:
                sessions = [{**s, "starts_at": data.starts_at.isoformat(), "ends_at": data.ends_at.isoformat()}
                            if s["number"] == data.session_number else s for s in edition.data["sessions"]]
                edition.data = {**edition.data, "sessions": sessions}
        elif isinstance(data, TrioRegistered):
            if data.chat_id and await store.known_room(data.chat_id):
                await store.add_registration(data.registration_id, data.chat_id, data.edition,
                                             data.municipality.name, data.registered_at)
        elif (row := await store.registration(data.registration_id)) is not None:
            follow(row, data, at)

    async def on_reply(self, store: ChatStore, reply: Reply) -> None:
        pending = await store.take_pending(reply.command_id)
        if pending is None:  # not ours, or answered before
            return
        room_id = pending.room_id
        if reply.status == "accepted" and reply.command_type == "RegisterTrio":
            await store.add_registration(str(reply.ids["registration_id"]), room_id, pending.context["edition"],
                                         pending.context["municipality"], utcnow())
        if reply.status == "accepted" and reply.command_type == "CancelRegistration":
            if (row := await store.registration(pending.context["registration_id"])) is not None:
                apply_status(row, "cancelled")
        dialogue = await store.dialogue(room_id)
        if dialogue.waiting_for != reply.command_id:
            return
        await self.apply(store, room_id, on_reply(dialogue, reply, await self.context(store, room_id)))

    async def publish(self, row: OutboxRow) -> None:
        await self.broker.publish(
            row.body.encode(), exchange=exchange(COMMANDS_EXCHANGE), routing_key=row.target, persist=True,
            mandatory=False, message_id=row.send_id, message_type=row.message_type, correlation_id=row.send_id,
            content_type="application/json", reply_to=self.queue, timeout=10,
        )
        log.info("chat_command_sent", message_type=row.message_type, message_id=row.send_id)

    # Matrix

    async def sync_forever(self, stop: asyncio.Event) -> None:
        async with self.db.sessions() as session:
            token = await ChatStore(session).setting("sync_token")
        while not stop.is_set():
            try:
                token = await self.sync_once(token)
            except Exception as exc:
                # The homeserver is away or a line could not be handled: the same batch is fetched again.
                log.warning("matrix_sync_failed", error=repr(exc)[:300])
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self.wake.set()

    async def sync_once(self, token: str | None) -> str:
        if token is None:
            # First start: begin from now; what was said in rooms before the bot existed is not for it.
            response = await self.client.sync(timeout=0, full_state=True,
                                              sync_filter={"room": {"timeline": {"limit": 0}}})
        else:
            response = await self.client.sync(timeout=SYNC_TIMEOUT_MS, since=token)
        if not isinstance(response, SyncResponse):
            raise RuntimeError(f"sync refused: {response}")
        await self.on_sync(response)
        async with self.db.transaction() as session:
            await ChatStore(session).set_setting("sync_token", response.next_batch)
        return response.next_batch

    async def on_sync(self, response: SyncResponse) -> None:
        for room_id in response.rooms.invite:
            joined = await self.client.join(room_id)
            if isinstance(joined, JoinResponse):
                await self.greet(room_id)
            else:
                log.warning("matrix_join_failed", room_id=room_id, error=str(joined)[:300])
        for room_id, room in response.rooms.join.items():
            for event in room.timeline.events:
                if isinstance(event, RoomMessageText) and event.sender != self.client.user_id:
                    await self.on_line(room_id, event.event_id, event.body)

    async def greet(self, room_id: str) -> None:
        async with self.lock, self.db.transaction() as session:
            store = ChatStore(session)
            if await store.first_time(f"joined:{room_id}"):
                if not await store.known_room(room_id):
                    await store.save_dialogue(room_id, Dialogue())
                store.say(room_id, "Hallo! " + HELP)

    async def on_line(self, room_id: str, event_id: str, text: str) -> None:
        async with self.lock, self.db.transaction() as session:
            store = ChatStore(session)
            if not await store.first_time(event_id):
                return
            dialogue = await store.dialogue(room_id)
            await self.apply(store, room_id, respond(dialogue, text, await self.context(store, room_id)))

    async def apply(self, store: ChatStore, room_id: str, outcome: Outcome) -> None:
        """Record what a line or an outcome led to: the dialogue, the texts to send, the command to publish."""
        for text in outcome.messages:
            store.say(room_id, text)
        command = outcome.command
        if command is not None:
            message_id = str(uuid.uuid4())
            outcome.dialogue.waiting_for = message_id
            store.send_command(command.routing_key, message_name(command.routing_key),
                               command.model_dump_json(exclude_none=True), message_id)
            await store.await_outcome(message_id, room_id, message_name(command.routing_key),
                                      self.command_context(command))
        await store.save_dialogue(room_id, outcome.dialogue)

    def command_context(self, command: Any) -> dict[str, Any]:
        if hasattr(command, "municipality"):
            found = self.municipalities.get(command.municipality)
            return {"edition": command.edition, "municipality": found.name if found else command.municipality}
        return {"registration_id": getattr(command, "registration_id", "")}

    async def context(self, store: ChatStore, room_id: str) -> Context:
        now = utcnow()
        editions = [EditionScheduled.model_validate(row.data) for row in await store.editions()
                    if is_open(EditionScheduled.model_validate(row.data), row.closed, now)]
        editions.sort(key=lambda e: min(s.starts_at for s in e.sessions))
        return Context(editions=editions, municipalities=self.municipalities,
                       registration=await store.room_registration(room_id), room_id=room_id,
                       status_link=self.status_link)

    def status_link(self, registration_id: str) -> str:
        secret = self.settings.werkplaatsen_secret_key.get_secret_value()
        return self.settings.public_url + status_path(secret, registration_id)

    # Sending what the outbox holds

    async def flush_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=RETRY_SECONDS)
            self.wake.clear()
            try:
                await self.flush()
            except Exception as exc:
                log.warning("chat_send_failed", error=repr(exc)[:300])

    async def flush(self) -> None:
        async with self.flush_lock:
            while True:
                async with self.db.sessions() as session:
                    rows = await ChatStore(session).outbox()
                if not rows:
                    return
                for row in rows:
                    await (self.send_text(row) if row.kind == "matrix" else self.publish(row))
                    async with self.db.transaction() as session:
                        await ChatStore(session).sent(row.position)

    async def send_text(self, row: OutboxRow) -> None:
        response = await self.client.room_send(row.target, "m.room.message", {"msgtype": "m.text", "body": row.body},
                                               tx_id=row.send_id)
        if isinstance(response, RoomSendError):
            if response.status_code in ("M_FORBIDDEN", "M_NOT_FOUND"):
                # The bot left or was removed from the room: nobody there to tell.
                log.warning("matrix_room_gone", room_id=row.target, error=str(response)[:300])
                return
            raise RuntimeError(f"sending to {row.target} failed: {response}")


def follow(row: RegistrationRow, data: Any, occurred_at: Any) -> None:
    """A registration or scheduling event about a trio of the bot's rooms, applied to the bot's copy of its status."""
    if isinstance(data, RegistrationApproved):
        apply_status(row, "approved")
    elif isinstance(data, RegistrationDeclined):
        apply_status(row, "declined")
    elif isinstance(data, RegistrationCancelled):
        apply_status(row, "cancelled")
    elif isinstance(data, TrioPlaced):
        apply_status(row, "placed", occurred_at)
    elif isinstance(data, TrioWaitlisted):
        apply_status(row, "waitlisted", occurred_at, data.position)
    elif isinstance(data, PlaceReleased):
        apply_status(row, "released", occurred_at)


async def _raw_body(message: Any) -> bytes:
    return message.body
