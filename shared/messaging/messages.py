"""Messages as the plumbing sees them, independent of the transport that carries them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.contract import COMMANDS, COMMANDS_EXCHANGE, EVENTS_EXCHANGE, ErrorItem, EventData


@dataclass(frozen=True)
class Incoming:
    body: bytes
    routing_key: str
    message_id: str | None = None
    message_type: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    content_type: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 1
    # The broker user that published it, as RabbitMQ validated it (the AMQP user_id property); None when unknown.
    user_id: str | None = None
    # Made by the service itself from an HTTP request that it authenticated as an organiser's (the organiser token):
    # its `actor` is believed like the console's. No transport sets it.
    local: bool = False
    # Whether a retry queue stands behind this delivery (RabbitMQ, the embedded broker): then a command that names
    # something another service has not announced yet may wait for it (NotYetKnown). A caller that carries out a
    # command itself (an HTTP route) has none and gets the refusal at once.
    retryable: bool = False
    # When this service first received the message, for one back from its retry queues (set by the transport when
    # it parks the message, never taken from a publisher); None on a first delivery.
    first_received_at: datetime | None = None


@dataclass(frozen=True)
class Outgoing:
    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    message_type: str
    correlation_id: str
    headers: Mapping[str, Any] = field(default_factory=dict)
    # Set by a publisher that must prove who it is (the console): RabbitMQ refuses the message unless it is the
    # user of the connection that publishes it.
    user_id: str | None = None


# The transport's record of a message's first receipt, carried through the retry queues (see Incoming).
FIRST_RECEIVED_HEADER = "x-first-received-at"


def parked_first_received(msg: Incoming) -> str:
    """FIRST_RECEIVED_HEADER for a message a transport parks for retry: when this service first received it."""
    return (msg.first_received_at or datetime.now(UTC)).isoformat()


def first_received(value: Any) -> datetime | None:
    """The FIRST_RECEIVED_HEADER's moment, or None when absent or unreadable."""
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


# Processes one message. Returning means done (ack); raising means try again later. What it returns (a command's
# Reply, whether an event was applied) is for callers that carry out a message themselves, like HTTP routes.
Consumer = Callable[[Incoming], Awaitable[object]]


def queue_name(service: str) -> str:
    """The service's queue, the same in RabbitMQ and in the embedded broker."""
    return f"werkplaatsen.{service}"


def bindings(consumers: Mapping[str, Consumer]) -> list[tuple[str, str]]:
    """(exchange, routing key) for each routing key a service consumes: commands and events by the catalogue."""
    return [(COMMANDS_EXCHANGE if key in COMMANDS else EVENTS_EXCHANGE, key) for key in consumers]


class PermanentFailure(Exception):
    """Retrying cannot help (e.g. an event that does not match the contract): dead-letter at once."""


class CommandRefused(Exception):
    """A handler refuses a command; nothing it did is kept and CommandRejected is published instead.

    `events` are published with the CommandRejected, in its transaction (so once, like the refusal): what others
    must hear about the refusal besides its codes, e.g. the members a refused registration named."""

    def __init__(self, errors: list[ErrorItem], events: Sequence[EventData] = ()) -> None:
        super().__init__("; ".join(f"{e.field}: {e.code}" for e in errors))
        self.errors = errors
        self.events = tuple(events)


def refuse(field: str, code: str, message: str) -> CommandRefused:
    return CommandRefused([ErrorItem(field=field, code=code, message=message)])


class NotYetKnown(Exception):
    """Not yet, retry later: the command names something another service announces (an edition, a registration,
    a completed session) and this service's copy of it has not arrived yet. The event may still be on its way, so
    the command waits for it in the retry queues (nothing it did is kept meanwhile, and no reply is sent); only when
    it has waited ANNOUNCEMENT_WAIT_SECONDS is it refused, with `errors` (see shared.messaging.processing)."""

    def __init__(self, errors: list[ErrorItem]) -> None:
        super().__init__("not yet known: " + "; ".join(f"{e.field}: {e.code}" for e in errors))
        self.errors = errors


def not_yet_known(field: str, code: str, message: str) -> NotYetKnown:
    return NotYetKnown([ErrorItem(field=field, code=code, message=message)])


# Retries happen after these delays; the message is dead-lettered when they are used up.
RETRY_DELAYS_SECONDS: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
# While the database (or another service the handler needs) cannot be reached, a message waits in this retry
# step (5 s) as often as it takes, without using up its attempts: an outage longer than the retry schedule must
# not send everything that arrived during it to the dead-letter queue.
OUTAGE_RETRY_STEP = 2


# How long a command waits for what it names to be announced (NotYetKnown) before it is refused: the retry steps
# (1 s, 5 s, 30 s) cover it, so the refusal comes at the fourth attempt, about 36 s after the first.
ANNOUNCEMENT_WAIT_SECONDS = 30.0


def may_wait_for_announcement(attempt: int) -> bool:
    """Whether a command at `attempt` that names something not yet known is retried (True) or refused now."""
    waited = sum(RETRY_DELAYS_SECONDS[: attempt - 1])
    return retry_delay(attempt) is not None and waited < ANNOUNCEMENT_WAIT_SECONDS


def outage_delay() -> float:
    return RETRY_DELAYS_SECONDS[min(OUTAGE_RETRY_STEP, len(RETRY_DELAYS_SECONDS)) - 1]


def retry_delay(attempt: int) -> float | None:
    """Delay before attempt `attempt + 1`, or None when the message should be dead-lettered."""
    if attempt > len(RETRY_DELAYS_SECONDS):
        return None
    return RETRY_DELAYS_SECONDS[attempt - 1]
