"""A chat room follows a registration only once a member pasted the code from the acknowledgement mail into it; and
an erased registration leaves nothing of itself in the bot's store. The bot runs here as it does in production
(its lines, replies and events through ChatBot and the shared event path, on its own SQLite store), without Matrix
or RabbitMQ: what it would say is read from its outbox."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from frontends.chat.bot import ChatBot
from frontends.chat.conversation import Dialogue
from frontends.chat.follows import consumers
from frontends.chat.settings import ChatSettings
from frontends.chat.store import ChatStore, create_schema, message_store
from services.notifications import handlers
from shared.chat_binding import binding_code, read_binding_code
from shared.contract import ErrorItem, Reply
from shared.contract.notifications import ChatMessageRequested
from shared.contract.registration import ParticipantDataErased
from shared.links import LinkInvalid
from shared.messaging.wiring import Consumers
from tests.unit.test_chat_follows import event_of, incoming
from tests.unit.test_notifications_handlers import ADDRESSES, NOW, World, deliver, edition, trio_registered

SECRET = "chat-binding-test-secret"
ROOM = "!trio:localhost"  # where the trio registered
OTHER = "!someone-else:localhost"  # a room of someone who did not get the mail


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[ChatBot]:
    settings = ChatSettings(
        werkplaatsen_chat_homeserver="http://127.0.0.1:9",
        werkplaatsen_chat_user="@werkplaatsen:localhost",
        werkplaatsen_chat_password="unused",  # type: ignore[arg-type]
        werkplaatsen_broker_url="amqp://guest:guest@127.0.0.1:5672/",
        werkplaatsen_chat_store=tmp_path / "chat.sqlite3",
        werkplaatsen_secret_key=SECRET,  # type: ignore[arg-type]
        werkplaatsen_public_url="https://werkplaatsen.example",
    )
    chat = ChatBot(settings)
    await create_schema(chat.db)
    yield chat
    await chat.matrix.close()
    await chat.db.dispose()


@pytest.fixture
def events(bot: ChatBot) -> Consumers:
    return consumers(message_store(bot.db))


async def said(bot: ChatBot, room: str) -> list[str]:
    """What the bot has queued to say in the room (and forgets it, as sending does)."""
    async with bot.db.transaction() as session:
        store = ChatStore(session)
        rows = [row for row in await store.outbox() if row.kind == "matrix" and row.target == room]
        for row in rows:
            await store.sent(row.position)
    return [row.body for row in rows]


async def line(bot: ChatBot, room: str, text: str) -> str:
    await bot.on_line(room, f"$event-{uuid.uuid4()}", text)
    return "\n".join(await said(bot, room))


async def registered_from(bot: ChatBot, room: str) -> str:
    """The room sent RegisterTrio and registration accepted it; returns the new registration's id."""
    await bot.greet(room)
    message_id, registration_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with bot.db.transaction() as session:
        store = ChatStore(session)
        await store.await_outcome(message_id, room, "RegisterTrio", {"edition": "2027-najaar", "municipality": "Ede"})
        await store.save_dialogue(room, Dialogue(waiting_for=message_id))
    await bot.handle_reply(
        Reply(
            status="accepted",
            command_id=message_id,
            command_type="RegisterTrio",
            ids={"registration_id": registration_id},
        )
    )
    answer = "\n".join(await said(bot, room))
    assert "aanmelding is ontvangen" in answer and "koppel" in answer
    return registration_id


async def test_a_room_without_the_mailed_code_can_neither_bind_to_nor_read_another_trios_registration(
    bot: ChatBot, events: Consumers
) -> None:
    registration_id = await registered_from(bot, ROOM)
    await bot.greet(OTHER)
    await said(bot, OTHER)

    # The code is for the trio's room: pasted elsewhere it binds nothing, and neither does a code not signed by us
    # (nor one signed for another purpose, such as the status link's token).
    stolen = binding_code(SECRET, registration_id, ROOM)
    assert "ander chatgesprek" in await line(bot, OTHER, f"koppel {stolen}")
    forged = binding_code("a-guessed-secret", registration_id, OTHER)
    assert "klopt niet" in await line(bot, OTHER, f"koppel {forged}")
    status_token = re.search(r"token=(\S+)", bot.status_link(registration_id)).group(1)  # type: ignore[union-attr]
    assert "klopt niet" in await line(bot, OTHER, f"koppel {status_token}")
    # Nor does naming the room in what notifications asks to say (its chat_id is whatever the registering client
    # gave): neither room, unbound, gets the trio's messages.
    for room in (OTHER, ROOM):
        text = ChatMessageRequested(chat_id=room, registration_id=registration_id, text=f"status {registration_id}")
        await events[ChatMessageRequested.routing_key](incoming(event_of(text)))
        assert await said(bot, room) == []

    for room in (OTHER, ROOM):
        status = await line(bot, room, "status")
        assert registration_id not in status and "token=" not in status
        assert "Ik annuleer" not in await line(bot, room, "annuleren")
    assert "nog geen trio aangemeld" in await line(bot, OTHER, "status")
    assert "volgt die aanmelding nog niet" in await line(bot, ROOM, "status")


async def test_the_mailed_code_pasted_in_the_room_it_was_made_for_binds_that_room(
    bot: ChatBot, events: Consumers
) -> None:
    registration_id = await registered_from(bot, ROOM)

    code = binding_code(SECRET, registration_id, ROOM)
    assert "volgt nu jullie aanmelding" in await line(bot, ROOM, f"Koppel {code}")

    status = await line(bot, ROOM, "status")
    assert "Ede" in status and registration_id in status and "token=" in status
    text = ChatMessageRequested(chat_id=ROOM, registration_id=registration_id, text="Jullie trio heeft een plaats.")
    await events[ChatMessageRequested.routing_key](incoming(event_of(text)))
    assert await said(bot, ROOM) == ["Jullie trio heeft een plaats."]
    # About another trio, the bound room still hears nothing.
    other = ChatMessageRequested(chat_id=ROOM, registration_id=str(uuid.uuid4()), text="Iets over een ander trio")
    await events[ChatMessageRequested.routing_key](incoming(event_of(other)))
    assert await said(bot, ROOM) == []
    assert "Weet je zeker" in await line(bot, ROOM, "annuleren")


def test_a_binding_code_reads_back_only_with_the_secret_and_purpose_it_was_made_with() -> None:
    code = binding_code(SECRET, "reg-1", ROOM)
    assert read_binding_code(SECRET, f"  {code}\n") == ("reg-1", ROOM)
    with pytest.raises(LinkInvalid):
        read_binding_code("another-secret", code)
    with pytest.raises(LinkInvalid):
        read_binding_code(SECRET, code[:-2])


async def test_only_the_members_acknowledgement_mail_of_a_chat_registration_carries_the_code_for_its_room() -> None:
    world = World(edition())
    addresses = dataclasses.replace(ADDRESSES, chat_code=lambda rid, room: binding_code(SECRET, rid, room))
    await deliver(
        handlers.acknowledge_registration, trio_registered(channel="chat"), **world.trio, addresses=addresses, now=NOW
    )

    mails = world.mails.rows.values()
    assert len(mails) == 3
    for mail in mails:
        code = re.search(r"^koppel (\S+)$", mail.text, re.MULTILINE).group(1)  # type: ignore[union-attr]
        assert read_binding_code(SECRET, code) == ("reg-1", "room-42")
        assert f"koppel {code}" in (mail.html or "")
    (message,) = world.emitted
    assert isinstance(message, ChatMessageRequested)
    assert message.registration_id == "reg-1" and "koppel" not in message.text

    web = World(edition())
    await deliver(handlers.acknowledge_registration, trio_registered(), **web.trio, addresses=addresses, now=NOW)
    assert all("koppel" not in mail.text for mail in web.mails.rows.values())


def rows_naming(store_file: Path, value: str) -> dict[str, int]:
    """Every table of the bot's SQLite file, with how many of its rows hold `value` anywhere."""
    with closing(sqlite3.connect(store_file)) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found = {}
        for table in tables:
            rows: list[tuple[Any, ...]] = db.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608 - our tables
            if hits := sum(1 for row in rows if any(value in str(cell) for cell in row)):
                found[table] = hits
    return found


async def test_an_erased_registration_leaves_no_copy_in_the_chat_store(
    bot: ChatBot, events: Consumers, tmp_path: Path
) -> None:
    registration_id = await registered_from(bot, ROOM)
    await line(bot, ROOM, f"koppel {binding_code(SECRET, registration_id, ROOM)}")
    await line(bot, ROOM, "annuleren")
    await bot.on_line(ROOM, "$ja", "ja")  # the cancel awaits its outcome
    async with bot.db.transaction() as session:  # and the status link is still to be said
        ChatStore(session).say(ROOM, f"De stand: {bot.status_link(registration_id)}")
    store_file = tmp_path / "chat.sqlite3"
    assert {"registrations", "room_bindings", "pending_commands", "outbox"} <= rows_naming(
        store_file, registration_id
    ).keys()

    erased = event_of(ParticipantDataErased(registration_id=registration_id))
    assert await events[ParticipantDataErased.routing_key](incoming(erased)) is True

    # Only the tombstone that keeps a late message from bringing it back (the inbox holds the event's id only),
    # and the cancel command the participant gave, still to be sent (registration answers it for an erased trio).
    left = rows_naming(store_file, registration_id)
    assert left == {"erased_registrations": 1, "outbox": 1}
    async with bot.db.sessions() as session:
        (command,) = [row for row in await ChatStore(session).outbox() if registration_id in row.body]
        assert command.kind == "command" and command.message_type == "CancelRegistration"
        assert (await ChatStore(session).dialogue(ROOM)).waiting_for is None
    assert "nog geen trio aangemeld" in await line(bot, ROOM, "status")
    async with bot.db.transaction() as session:
        store = ChatStore(session)
        await store.add_registration(registration_id, ROOM, "2027-najaar", "Ede", NOW)
        await store.bind(ROOM, registration_id)
    assert rows_naming(store_file, registration_id) == {"erased_registrations": 1, "outbox": 1}


async def test_a_refusal_only_because_a_member_is_registered_already_is_answered_in_the_room_as_an_acceptance(
    bot: ChatBot,
) -> None:
    await bot.greet(ROOM)
    await said(bot, ROOM)
    message_id = str(uuid.uuid4())
    async with bot.db.transaction() as session:
        store = ChatStore(session)
        await store.await_outcome(message_id, ROOM, "RegisterTrio", {"edition": "2027-najaar", "municipality": "Ede"})
        await store.save_dialogue(ROOM, Dialogue(waiting_for=message_id))
    already = ErrorItem(
        field="members[1].email",
        code="member_already_registered",
        message="Deze deelnemer is voor deze editie al aangemeld met een ander trio.",
    )
    await bot.handle_reply(
        Reply(status="rejected", command_id=message_id, command_type="RegisterTrio", errors=[already])
    )
    answer = "\n".join(await said(bot, ROOM))
    assert "aanmelding is ontvangen" in answer and "al aangemeld" not in answer
    reference = re.search(r"kenmerk ([0-9a-f-]{36})", answer)
    assert reference is not None and uuid.UUID(reference.group(1)).version == 4
    async with bot.db.transaction() as session:
        # Nothing waits for a code for the stand-in reference.
        assert await ChatStore(session).registration(reference.group(1)) is None


async def test_a_code_mailed_before_the_secret_key_was_rotated_still_binds_while_the_old_key_is_listed(
    bot: ChatBot,
) -> None:
    registration_id = await registered_from(bot, ROOM)
    mailed = binding_code(SECRET, registration_id, ROOM)  # mailed by notifications before the rotation
    new_settings = bot.settings.model_copy(
        update={
            "werkplaatsen_secret_key": SecretStr("chat-binding-test-secret-after-rotation"),
            "werkplaatsen_secret_key_previous": SecretStr(SECRET),
        }
    )
    assert bot.read_code(mailed) == (registration_id, ROOM) and new_settings.secret_keys[-1] != SECRET
    bot.settings = new_settings
    assert bot.read_code(mailed) == (registration_id, ROOM)
    bot.settings = new_settings.model_copy(update={"werkplaatsen_secret_key_previous": SecretStr("")})
    with pytest.raises(LinkInvalid):
        bot.read_code(mailed)  # once the old key is dropped, its codes no longer bind
