"""Message contract v1: every command and event, keyed by its explicit routing key."""

from typing import TypeVar

from . import notifications, registration, reporting, scheduling
from .common import (
    COMMANDS_EXCHANGE,
    EVENTS_EXCHANGE,
    Actor,
    Command,
    CommandRejected,
    ErrorItem,
    Event,
    EventData,
    Reply,
)

_MODULES = (registration, scheduling, notifications, reporting)

_Routed = TypeVar("_Routed", Command, EventData)


def _collect(base: type[_Routed]) -> dict[str, type[_Routed]]:
    found: dict[str, type[_Routed]] = {}
    for module in _MODULES:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, base) and "routing_key" in vars(value):
                found[value.routing_key] = value
    return found


COMMANDS: dict[str, type[Command]] = _collect(Command)
EVENTS: dict[str, type[EventData]] = _collect(EventData)


def message_name(routing_key: str) -> str:
    """`registration.TrioRegistered` -> `TrioRegistered` (the AMQP `type` and the envelope's `type`)."""
    return routing_key.split(".", 1)[1]


__all__ = [
    "COMMANDS",
    "COMMANDS_EXCHANGE",
    "EVENTS",
    "EVENTS_EXCHANGE",
    "Actor",
    "Command",
    "CommandRejected",
    "ErrorItem",
    "Event",
    "EventData",
    "Reply",
    "message_name",
    "notifications",
    "registration",
    "reporting",
    "scheduling",
]
