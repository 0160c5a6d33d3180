"""A service's dead letters, the same on RabbitMQ and on the embedded broker, and their scrub on erasure.

A service's dead letters are the messages it could not process (after its retries, or at once when retrying
cannot help): `werkplaatsen.<service>.dlq` on RabbitMQ, the `dead_letters` table of `<data dir>/broker.sqlite3`
in development. Each letter is named by its message_id (or a digest of its body when it has none). Operators look
at them with `werkplaatsen dlq` (services/ops); each service scrubs its own when a participant's data is erased.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog

from shared.contract.registration import ParticipantDataErased
from shared.messaging.delivery import DeadLetter
from shared.messaging.embedded import EmbeddedDeadLetters
from shared.messaging.rabbit_dead_letters import RabbitDeadLetters
from shared.settings import Settings

log = structlog.get_logger()

Location = str | Path
"""An `amqp://` URL, or the path of the embedded broker's file."""

Select = Callable[[DeadLetter], bool]


class DeadLetterQueue(Protocol):
    async def list(self, limit: int | None = None) -> builtins.list[DeadLetter]: ...
    async def replay(self, select: Select) -> builtins.list[DeadLetter]: ...
    async def purge(self, select: Select) -> builtins.list[DeadLetter]: ...


def broker_location(settings: Settings) -> Location:
    """Where the service's broker is: WERKPLAATSEN_BROKER_URL, else the embedded broker of `werkplaatsen dev`."""
    return settings.werkplaatsen_broker_url or settings.werkplaatsen_data_dir / "broker.sqlite3"


@asynccontextmanager
async def dead_letter_queue(location: Location, service: str) -> AsyncIterator[DeadLetterQueue]:
    """The service's dead letters; LookupError when there is no such queue (yet)."""
    queue: RabbitDeadLetters | EmbeddedDeadLetters
    if isinstance(location, str) and location.startswith(("amqp://", "amqps://")):
        queue = RabbitDeadLetters(location, service)
    else:
        queue = EmbeddedDeadLetters(Path(location), service)
    async with queue:
        yield queue


def every(_letter: DeadLetter) -> bool:
    return True


def with_ids(ids: Collection[str]) -> Select:
    wanted = set(ids)
    return lambda letter: letter.id in wanted


async def scrub_dead_letters(location: Location, service: str, matches: Callable[[bytes], bool]) -> int:
    """Remove the dead letters of `service` whose body `matches` (privacy erasure); returns how many.

    `location` is WERKPLAATSEN_BROKER_URL, or the embedded broker's file in development (`broker_location`).
    A queue that does not exist (the service never ran) has nothing to scrub.
    """
    try:
        async with dead_letter_queue(location, service) as queue:
            return len(await queue.purge(lambda letter: matches(letter.body)))
    except LookupError:
        return 0


@dataclass(frozen=True)
class OwnDeadLetters:
    """The dead-letter queue of the service that holds this: the only one it may touch."""

    location: Location | None  # None: no broker to scrub (a service driven by tests without one)
    service: str


async def scrub_erased(event: ParticipantDataErased, *, dead_letters: OwnDeadLetters) -> None:
    """After an erasure: dead letters that mention the registration would keep the personal data it removed.

    Every service runs this on ParticipantDataErased, after its own erasure committed (`after_commit` in its
    table). A failure is logged by the wiring and the erasure stands; what is left is scrubbed by hand
    (docs/operations.md).
    """
    if dead_letters.location is None:
        return
    needle = event.registration_id.encode()
    removed = await scrub_dead_letters(dead_letters.location, dead_letters.service, lambda body: needle in body)
    if removed:
        log.info("dead_letters_scrubbed", service=dead_letters.service, count=removed)
