"""Dead letters for operators and for privacy erasure: the same operations on RabbitMQ and on the embedded broker.

A service's dead letters are the messages it could not process (after its retries, or at once when retrying
cannot help): `werkplaatsen.<service>.dlq` on RabbitMQ, the `dead_letters` table of `<data dir>/broker.sqlite3`
in development. Each letter is named by its message_id (or a digest of its body when it has none).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from shared.messaging.delivery import DeadLetter
from shared.messaging.embedded import EmbeddedDeadLetters
from shared.messaging.rabbit import RabbitDeadLetters
from shared.settings import Settings

Location = str | Path
"""An `amqp://` URL, or the path of the embedded broker's file."""

Select = Callable[[DeadLetter], bool]


class DeadLetterQueue(Protocol):
    async def list(self, limit: int | None = None) -> list[DeadLetter]: ...
    async def replay(self, select: Select) -> list[DeadLetter]: ...
    async def purge(self, select: Select) -> list[DeadLetter]: ...


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


async def scrub_dead_letters(broker_url: Location, service: str, matches: Callable[[bytes], bool]) -> int:
    """Remove the dead letters of `service` whose body `matches` (privacy erasure); returns how many.

    `broker_url` is WERKPLAATSEN_BROKER_URL, or the embedded broker's file in development (`broker_location`).
    A queue that does not exist (the service never ran) has nothing to scrub.
    """
    try:
        async with dead_letter_queue(broker_url, service) as queue:
            return len(await queue.purge(lambda letter: matches(letter.body)))
    except LookupError:
        return 0


def pretty_body(body: bytes) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return repr(body)


def summary(letters: list[DeadLetter]) -> str:
    if not letters:
        return "No dead letters."
    lines = [f"{'id':<40} {'routing key':<36} {'dead since':<25} reason"]
    for letter in letters:
        reason = " ".join(letter.reason.split())
        lines.append(f"{letter.id:<40} {letter.routing_key:<36} {letter.dead_at or '-':<25} "
                     f"{reason[:100]}{'…' if len(reason) > 100 else ''}")
    lines.append(f"{len(letters)} dead letter(s).")
    return "\n".join(lines)


def details(letter: DeadLetter) -> str:
    fields = [
        ("id", letter.id), ("message_id", letter.message_id), ("type", letter.message_type),
        ("routing key", letter.routing_key), ("exchange", letter.exchange or "(default)"),
        ("correlation_id", letter.correlation_id), ("dead since", letter.dead_at), ("reason", letter.reason),
    ]
    lines = [f"{name + ':':<16}{value if value is not None else '-'}" for name, value in fields]
    headers = {k: v for k, v in letter.headers.items() if k != "x-death"}
    lines.append(f"{'headers:':<16}{json.dumps(headers, default=str, ensure_ascii=False)}")
    lines.append("body:")
    lines.append(pretty_body(letter.body))
    return "\n".join(lines)
