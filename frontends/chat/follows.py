"""The events the bot follows, applied to its own copies: the editions (open, closed, rescheduled), the trios
registered from its rooms, their status and their erasure, and the texts notifications asks it to deliver to a room.

One line per event, as the services list what they consume (shared/messaging/wiring.py); its queue is bound to
exactly these routing keys. Each handler gets the event's data and, by name, `chat` (the bot's store in the
event's transaction) and `occurred_at`.
"""

from __future__ import annotations

from datetime import datetime

from shared.contract.notifications import ChatMessageRequested
from shared.contract.registration import (
    ParticipantDataErased,
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
)
from shared.contract.scheduling import (
    EditionScheduled,
    PlaceReleased,
    RegistrationReopened,
    RegistrationStopped,
    SessionRescheduled,
    TrioPlaced,
    TrioWaitlisted,
)
from shared.messaging.processing import MessageStore
from shared.messaging.wiring import Consumers, Dependencies, on, subscribe

from .store import ChatStore, apply_status

# The editions


async def save_edition(data: EditionScheduled, chat: ChatStore, occurred_at: datetime) -> None:
    await chat.save_edition(data.edition, data.model_dump(mode="json"), occurred_at)


async def close_edition(data: RegistrationStopped, chat: ChatStore) -> None:
    # Stopped, not RegistrationClosed: that one is the allocation, after which late trios may still register.
    if (edition := await chat.edition(data.edition)) is not None:
        edition.closed = True


async def reopen_edition(data: RegistrationReopened, chat: ChatStore) -> None:
    if (edition := await chat.edition(data.edition)) is not None:
        edition.closed = False


async def reschedule_session(data: SessionRescheduled, chat: ChatStore) -> None:
    if (edition := await chat.edition(data.edition)) is not None:
        sessions = [
            {**s, "starts_at": data.starts_at.isoformat(), "ends_at": data.ends_at.isoformat()}
            if s["number"] == data.session_number
            else s
            for s in edition.data["sessions"]
        ]
        edition.data = {**edition.data, "sessions": sessions}


# The trios registered from the bot's rooms. The bot learns of one from the outcome of its own RegisterTrio (bot.py),
# not from TrioRegistered: that event's `chat_id` is whatever the registering client gave, so a room named there is
# not thereby the trio's (a room is bound only by the code mailed to the members, binding.py); and the bot has no
# use for the members' names and addresses the event carries.


async def follow_status(
    chat: ChatStore, registration_id: str, status: str, occurred_at: datetime | None = None, position: int | None = None
) -> None:
    """Registration's or scheduling's word on a trio of the bot's rooms, applied to its copy; others are not ours."""
    if (row := await chat.registration(registration_id)) is not None:
        apply_status(row, status, occurred_at, position)


async def approved(data: RegistrationApproved, chat: ChatStore) -> None:
    await follow_status(chat, data.registration_id, "approved")


async def declined(data: RegistrationDeclined, chat: ChatStore) -> None:
    await follow_status(chat, data.registration_id, "declined")


async def cancelled(data: RegistrationCancelled, chat: ChatStore) -> None:
    await follow_status(chat, data.registration_id, "cancelled")


async def placed(data: TrioPlaced, chat: ChatStore, occurred_at: datetime) -> None:
    await follow_status(chat, data.registration_id, "placed", occurred_at)


async def waitlisted(data: TrioWaitlisted, chat: ChatStore, occurred_at: datetime) -> None:
    await follow_status(chat, data.registration_id, "waitlisted", occurred_at, data.position)


async def released(data: PlaceReleased, chat: ChatStore, occurred_at: datetime) -> None:
    await follow_status(chat, data.registration_id, "released", occurred_at)


async def erase(data: ParticipantDataErased, chat: ChatStore) -> None:
    """Registration erased the trio's data (a privacy request, or the retention time passed): so does the bot."""
    await chat.erase(data.registration_id)


# What notifications asks the bot to say


async def deliver_text(data: ChatMessageRequested, chat: ChatStore) -> None:
    """Only to a room bound to the registration the text is about (without one named: to a room bound to any)."""
    if data.registration_id is not None:
        if await chat.is_bound(data.chat_id, data.registration_id):
            chat.say(data.chat_id, data.text)
    elif await chat.room_registration(data.chat_id) is not None:
        chat.say(data.chat_id, data.text)


FOLLOWS = (
    on(RegistrationApproved, approved),
    on(RegistrationDeclined, declined),
    on(RegistrationCancelled, cancelled),
    on(ParticipantDataErased, erase),
    on(TrioPlaced, placed),
    on(TrioWaitlisted, waitlisted),
    on(PlaceReleased, released),
    on(EditionScheduled, save_edition),
    on(RegistrationStopped, close_edition),
    on(RegistrationReopened, reopen_edition),
    on(SessionRescheduled, reschedule_session),
    on(ChatMessageRequested, deliver_text),
)


# Events an earlier version of the bot followed: unbound from its queue at start, so an existing queue stops
# getting them (TrioRegistered carries every trio's names and addresses, which the bot must not hold).
NO_LONGER_FOLLOWED = ("registration.TrioRegistered",)


def consumers(store: MessageStore) -> Consumers:
    return subscribe(FOLLOWS, store, Dependencies(per_transaction={"chat": ChatStore}))
