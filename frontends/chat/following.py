"""The events the bot follows, applied to its own copies: the editions (open, closed, rescheduled), the trios
registered from its rooms and their status, and the texts notifications asks it to deliver to a room."""

from __future__ import annotations

from typing import Any

from shared.contract import Event
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

from .store import ChatStore, RegistrationRow, apply_status


async def on_event(store: ChatStore, event: Event[Any]) -> None:
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
