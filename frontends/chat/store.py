"""The bot's own small store (SQLite by default, any SQLAlchemy async URL works): dialogues, the trios registered
from its rooms and the rooms bound to them (binding.py), the ids of erased registrations, its copy of the editions,
the commands awaiting an outcome, what it has handled, what it still has to send, and its Matrix login and sync
position.

Each incoming line or message is handled in one transaction that records its id, changes the state and queues what
to send (`outbox`): a Matrix event id or a reply in `handled`, an event in the shared `inbox` (the event path is the
services' own, shared/messaging/wiring.py, see follows.py). The outbox is emptied afterwards: Matrix messages with
the row's transaction id (the homeserver drops a repeated one), commands with their `message_id` (the services drop
a repeated one), so a crash anywhere between repeats a send at worst, never loses one. The schema is created at
start: it is the bot's alone and small enough to need no migrations yet (a new table is created at the next start;
a new column in an existing table would need one).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Boolean, Integer, String, Table, Text, delete, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.contract import CommandRejected
from shared.db import Database, InboxMixin, OutboxMixin, UtcDateTime, utcnow
from shared.messaging.processing import MessageStore
from shared.placement import FINAL_STATUSES, Ending, Placement, Standing, after_approval, after_ending, after_placement

from .conversation import Dialogue, RoomRegistration


class Base(DeclarativeBase):
    pass


class DialogueRow(Base):
    __tablename__ = "dialogues"
    room_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class RegistrationRow(Base):
    __tablename__ = "registrations"
    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(300), index=True)
    edition: Mapped[str] = mapped_column(String(64))
    municipality: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32), default="awaiting_approval")
    waitlist_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    placement_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class BindingRow(Base):
    """A room bound to a registration: only by the code mailed to the trio's members (shared/chat_binding.py). The
    room a registration was sent from (`RegistrationRow.room_id`) may see its status only once it is bound."""

    __tablename__ = "room_bindings"
    room_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    bound_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ErasedRow(Base):
    """A registration whose data registration erased: nothing of it is kept (nor taken in again by a late
    message), only its id, which is a random uuid and says nothing about anyone."""

    __tablename__ = "erased_registrations"
    registration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class EditionRow(Base):
    __tablename__ = "editions"
    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PendingCommandRow(Base):
    __tablename__ = "pending_commands"
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(300))
    command_type: Mapped[str] = mapped_column(String(100))
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class HandledRow(Base):
    __tablename__ = "handled"
    message_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    handled_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Inbox(InboxMixin, Base):
    """The events applied, as in each service: a redelivered event is claimed once (shared MessageStore.claim)."""


class EventOutbox(OutboxMixin, Base):
    """The shared unit of work writes the events a handler emits here; the bot emits none (it only follows events
    and speaks through commands and Matrix, both in `outbox`), so this table stays empty and has no relay."""

    __tablename__ = "event_outbox"  # "outbox" is the bot's own (Matrix texts and commands)


class OutboxRow(Base):
    __tablename__ = "outbox"
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    send_id: Mapped[str] = mapped_column(String(64), unique=True)  # Matrix txn id or the command's message_id
    kind: Mapped[str] = mapped_column(String(16))  # "matrix" or "command"
    target: Mapped[str] = mapped_column(String(300))  # room id, or the command's routing key
    body: Mapped[str] = mapped_column(Text)  # the text, or the command's JSON
    message_type: Mapped[str] = mapped_column(String(100), default="")


class SettingRow(Base):
    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


async def create_schema(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(_drop_old_inbox)
        await conn.run_sync(Base.metadata.create_all)


def _drop_old_inbox(conn: Any) -> None:
    """The shared inbox is keyed by message type and id since issue 18; create_all does not change a table, so the
    bot's inbox of before goes (it holds only the ids of events applied long ago, which are not redelivered)."""
    columns = {c["name"] for c in inspect(conn).get_columns("inbox")} if inspect(conn).has_table("inbox") else set()
    if columns and "digest" not in columns:
        cast(Table, Inbox.__table__).drop(conn)


def message_store(db: Database) -> MessageStore:
    """The bot's database as the shared event path sees it (the chat never refuses a command: it receives none)."""
    return MessageStore(db, "chat", EventOutbox, Inbox, CommandRejected)


class ChatStore:
    """The bot's queries, on one session (a transaction the caller opened)."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def first_time(self, message_id: str) -> bool:
        """Record a message id; False when it was handled before (a redelivery or a repeated sync)."""
        # The bot handles one message at a time (one process, one lock), so no concurrent insert can race this.
        if await self.s.get(HandledRow, message_id) is not None:
            return False
        self.s.add(HandledRow(message_id=message_id, handled_at=utcnow()))
        return True

    async def dialogue(self, room_id: str) -> Dialogue:
        row = await self.s.get(DialogueRow, room_id)
        return Dialogue.from_json(row.state if row else None)

    async def known_room(self, room_id: str) -> bool:
        return await self.s.get(DialogueRow, room_id) is not None

    async def save_dialogue(self, room_id: str, dialogue: Dialogue) -> None:
        row = await self.s.get(DialogueRow, room_id)
        if row is None:
            self.s.add(DialogueRow(room_id=room_id, state=dialogue.to_json(), updated_at=utcnow()))
        else:
            row.state, row.updated_at = dialogue.to_json(), utcnow()

    def say(self, room_id: str, text: str) -> None:
        self.s.add(OutboxRow(send_id=f"wp-{uuid.uuid4()}", kind="matrix", target=room_id, body=text))

    def send_command(self, routing_key: str, message_type: str, body: str, message_id: str) -> None:
        self.s.add(
            OutboxRow(send_id=message_id, kind="command", target=routing_key, body=body, message_type=message_type)
        )

    async def outbox(self, limit: int = 50) -> list[OutboxRow]:
        return list((await self.s.execute(select(OutboxRow).order_by(OutboxRow.position).limit(limit))).scalars())

    async def sent(self, position: int) -> None:
        await self.s.execute(delete(OutboxRow).where(OutboxRow.position == position))

    async def await_outcome(self, message_id: str, room_id: str, command_type: str, context: dict[str, Any]) -> None:
        self.s.add(
            PendingCommandRow(message_id=message_id, room_id=room_id, command_type=command_type, context=context)
        )

    async def take_pending(self, message_id: str) -> PendingCommandRow | None:
        row = await self.s.get(PendingCommandRow, message_id)
        if row is not None:
            await self.s.delete(row)
        return row

    # Trios registered from the bot's rooms

    async def room_registration(self, room_id: str) -> RoomRegistration | None:
        """The latest registration the room is bound to (by the mailed code); None when it is bound to none."""
        row = (
            await self.s.execute(
                select(RegistrationRow)
                .join(BindingRow, BindingRow.registration_id == RegistrationRow.registration_id)
                .where(BindingRow.room_id == room_id)
                .order_by(RegistrationRow.registered_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        return None if row is None else _room_registration(row)

    async def unbound_registrations(self, room_id: str) -> list[RoomRegistration]:
        """The registrations sent from the room that it is not bound to yet (their code is in the members' mail)."""
        bound = select(BindingRow.registration_id).where(BindingRow.room_id == room_id)
        rows = await self.s.execute(
            select(RegistrationRow)
            .where(RegistrationRow.room_id == room_id, RegistrationRow.registration_id.not_in(bound))
            .order_by(RegistrationRow.registered_at.desc())
        )
        return [_room_registration(row) for row in rows.scalars()]

    async def is_bound(self, room_id: str, registration_id: str) -> bool:
        return await self.s.get(BindingRow, (room_id, registration_id)) is not None

    async def bind(self, room_id: str, registration_id: str) -> None:
        if not await self.is_bound(room_id, registration_id) and not await self.s.get(ErasedRow, registration_id):
            self.s.add(BindingRow(room_id=room_id, registration_id=registration_id, bound_at=utcnow()))

    async def add_registration(
        self, registration_id: str, room_id: str, edition: str, municipality: str, registered_at: datetime
    ) -> None:
        if await self.s.get(RegistrationRow, registration_id) is None and not await self.s.get(
            ErasedRow, registration_id
        ):
            self.s.add(
                RegistrationRow(
                    registration_id=registration_id,
                    room_id=room_id,
                    edition=edition,
                    municipality=municipality,
                    registered_at=registered_at,
                )
            )

    async def registration(self, registration_id: str) -> RegistrationRow | None:
        return await self.s.get(RegistrationRow, registration_id)

    async def erase(self, registration_id: str) -> None:
        """Drop every copy of an erased registration: its row, the rooms bound to it, a command about it awaiting
        its outcome (and the dialogue waiting for that), and what is still to be said about it."""
        if await self.s.get(ErasedRow, registration_id) is None:
            self.s.add(ErasedRow(registration_id=registration_id, erased_at=utcnow()))
        await self.s.execute(delete(RegistrationRow).where(RegistrationRow.registration_id == registration_id))
        await self.s.execute(delete(BindingRow).where(BindingRow.registration_id == registration_id))
        about = PendingCommandRow.context["registration_id"].as_string() == registration_id
        for pending in (await self.s.execute(select(PendingCommandRow).where(about))).scalars():
            dialogue = await self.dialogue(pending.room_id)
            if dialogue.waiting_for == pending.message_id:
                await self.save_dialogue(pending.room_id, Dialogue())
            await self.s.delete(pending)
        # The bot's texts name a registration only by its id (in its status link); a queued command is left to
        # be sent, as it is the participant's (registration answers it for an erased registration).
        await self.s.execute(
            delete(OutboxRow).where(OutboxRow.kind == "matrix", OutboxRow.body.contains(registration_id))
        )

    # Editions (a copy kept from scheduling's events)

    async def editions(self) -> list[EditionRow]:
        return list((await self.s.execute(select(EditionRow))).scalars())

    async def edition(self, slug: str) -> EditionRow | None:
        return await self.s.get(EditionRow, slug)

    async def save_edition(self, slug: str, data: dict[str, Any], occurred_at: datetime) -> None:
        row = await self.s.get(EditionRow, slug)
        if row is None:
            self.s.add(EditionRow(slug=slug, data=data, closed=False, updated_at=occurred_at))
        elif occurred_at >= row.updated_at:
            row.data, row.updated_at = data, occurred_at

    # Matrix login and sync position

    async def setting(self, key: str) -> str | None:
        row = await self.s.get(SettingRow, key)
        return row.value if row else None

    async def set_setting(self, key: str, value: str) -> None:
        row = await self.s.get(SettingRow, key)
        if row is None:
            self.s.add(SettingRow(key=key, value=value))
        else:
            row.value = value


def _room_registration(row: RegistrationRow) -> RoomRegistration:
    return RoomRegistration(row.registration_id, row.edition, row.municipality, row.status, row.waitlist_position)


def apply_status(
    row: RegistrationRow, status: str, occurred_at: datetime | None = None, position: int | None = None
) -> None:
    """Follow registration's and scheduling's word on a trio, tolerating late and repeated events by the same rule
    as the registration service's own copy (shared/placement.py). `status`: approved, declined, cancelled, or the
    placement (placed, waitlisted, released)."""
    standing = Standing(row.status, row.waitlist_position, row.placement_at)
    if status in FINAL_STATUSES:
        after = after_ending(standing, cast(Ending, status))
    elif status == "approved":
        after = after_approval(standing)
    else:
        assert occurred_at is not None
        after = after_placement(standing, cast(Placement, status), occurred_at, position)
    if after is not None:
        row.status, row.waitlist_position, row.placement_at = after.status, after.waitlist_position, after.placement_at
