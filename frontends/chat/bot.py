"""The running bot: a room's lines and the services' messages, each handled once in one transaction of its store,
and the outbox that sends what they led to both ways.

Matrix (matrix.py) and RabbitMQ (bus.py) only carry messages; this module decides, one line or message at a time
(a room's dialogue has one writer): each Matrix event id and reply is recorded, and each event claimed in the inbox
by the same consumers the services use (follows.py), so none is handled twice,
and what the bot says and the commands it publishes are written to the outbox in the same transaction as the
dialogue, then sent: Matrix texts with the row's transaction id, commands with a fresh `message_id` each.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import structlog

from shared.chat_binding import read_binding_code
from shared.contract import Reply, message_name
from shared.contract.scheduling import EditionScheduled
from shared.db import Database, utcnow
from shared.links import status_path
from shared.messaging.messages import Consumer, Incoming
from shared.municipalities import MunicipalityIndex, read_municipalities
from shared.refusals import only_already_registered, stand_in_id

from .bus import Bus
from .conversation import HELP, Context, Dialogue, Outcome
from .dialogue import on_reply, respond
from .follows import consumers
from .matrix import Matrix
from .settings import MUNICIPALITIES_FILE, ChatSettings
from .status_cancel import is_open
from .store import ChatStore, apply_status, create_schema, message_store

log = structlog.get_logger()

RETRY_SECONDS = 2.0


class ChatBot:
    def __init__(self, settings: ChatSettings) -> None:
        self.settings = settings
        self.db = Database(settings.store_url)
        self.wake = asyncio.Event()
        self.matrix = Matrix(settings, self.db)
        self.lock = asyncio.Lock()  # one line or message at a time: a room's dialogue has one writer
        events = {key: self.one_at_a_time(consumer) for key, consumer in consumers(message_store(self.db)).items()}
        self.bus = Bus(
            settings.werkplaatsen_broker_url, settings.werkplaatsen_chat_queue, self.handle_reply, events, self.wake
        )
        self.municipalities = MunicipalityIndex(
            read_municipalities(MUNICIPALITIES_FILE, settings.registration_m50_file, settings.band)
        )
        self.flush_lock = asyncio.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        await create_schema(self.db)
        await self.matrix.login()
        await self.bus.start()
        log.info("chat_bot_started", user=self.matrix.user_id, queue=self.bus.queue)
        tasks = [
            asyncio.create_task(self.matrix.sync_forever(stop, self.greet, self.on_line, self.wake)),
            asyncio.create_task(self.flush_forever(stop)),
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.bus.stop()
            await self.matrix.close()
            await self.db.dispose()

    # The services' messages

    async def handle_reply(self, reply: Reply) -> None:
        async with self.lock, self.db.transaction() as session:
            store = ChatStore(session)
            if await store.first_time(f"reply:{reply.command_id}"):
                await self.on_reply(store, reply)

    def one_at_a_time(self, consumer: Consumer) -> Consumer:
        """An event's consumer (its own transaction) under the bot's lock, as a line or a reply is."""

        async def consume(msg: Incoming) -> object:
            async with self.lock:
                return await consumer(msg)

        return consume

    async def on_reply(self, store: ChatStore, reply: Reply) -> None:
        pending = await store.take_pending(reply.command_id)
        if pending is None:  # not ours, or answered before
            return
        room_id = pending.room_id
        if reply.status == "accepted" and reply.command_type == "RegisterTrio":
            await store.add_registration(
                str(reply.ids["registration_id"]),
                room_id,
                pending.context["edition"],
                pending.context["municipality"],
                utcnow(),
            )
        if (
            reply.status == "accepted"
            and reply.command_type == "CancelRegistration"
            and (row := await store.registration(pending.context["registration_id"])) is not None
        ):
            apply_status(row, "cancelled")
        dialogue = await store.dialogue(room_id)
        if dialogue.waiting_for != reply.command_id:
            return
        if reply.command_type == "RegisterTrio" and only_already_registered(reply.errors):
            # Answered as the form answers it: accepted, with a stand-in reference (shared/refusals.py). The room
            # keeps no registration for it, so nothing waits for a code that never comes.
            stand_in = stand_in_id(self.settings.secret_keys, reply.command_id)
            reply = reply.model_copy(update={"status": "accepted", "errors": [], "ids": {"registration_id": stand_in}})
        await self.apply(store, room_id, on_reply(dialogue, reply, await self.context(store, room_id)))

    # The rooms

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
        if outcome.bind is not None:
            await store.bind(room_id, outcome.bind)
        command = outcome.command
        if command is not None:
            message_id = str(uuid.uuid4())
            outcome.dialogue.waiting_for = message_id
            store.send_command(
                command.routing_key,
                message_name(command.routing_key),
                command.model_dump_json(exclude_none=True),
                message_id,
            )
            await store.await_outcome(
                message_id, room_id, message_name(command.routing_key), self.command_context(command)
            )
        await store.save_dialogue(room_id, outcome.dialogue)

    def command_context(self, command: Any) -> dict[str, Any]:
        if hasattr(command, "municipality"):
            found = self.municipalities.get(command.municipality)
            return {"edition": command.edition, "municipality": found.name if found else command.municipality}
        return {"registration_id": getattr(command, "registration_id", "")}

    async def context(self, store: ChatStore, room_id: str) -> Context:
        now = utcnow()
        editions = [
            EditionScheduled.model_validate(row.data)
            for row in await store.editions()
            if is_open(EditionScheduled.model_validate(row.data), row.closed, now)
        ]
        editions.sort(key=lambda e: min(s.starts_at for s in e.sessions))
        return Context(
            editions=editions,
            municipalities=self.municipalities,
            registration=await store.room_registration(room_id),
            room_id=room_id,
            status_link=self.status_link,
            unbound=await store.unbound_registrations(room_id),
            read_code=self.read_code,
        )

    def status_link(self, registration_id: str) -> str:
        return self.settings.public_url + status_path(self.settings.secret_keys, registration_id)

    def read_code(self, code: str) -> tuple[str, str]:
        return read_binding_code(self.settings.secret_keys, code)

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
                    await (self.matrix.send_text(row) if row.kind == "matrix" else self.bus.publish(row))
                    async with self.db.transaction() as session:
                        await ChatStore(session).sent(row.position)
