"""`werkplaatsen editions load FILE`: schedule an edition from a programme file, as an organiser tool would.

The command goes over RabbitMQ like any front end's. Its message_id is derived from what is sent, so
loading the same file twice schedules the edition once. ScheduleEdition is an organiser's command: it carries the
operator's actor and the AMQP user_id of WERKPLAATSEN_BROKER_URL's user, which RabbitMQ checks and the service
believes when that user is in WERKPLAATSEN_CONSOLE_BROKER_USERS (docs/broker-permissions.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.exceptions import DeliveryError
from pydantic import ValidationError

from shared.contract import COMMANDS_EXCHANGE, Actor, ErrorItem, Reply
from shared.contract.scheduling import ScheduleEdition
from shared.messaging.errors import validation_errors
from shared.messaging.processing import OPERATOR_ACTOR

from .seed import load_programme, moved_into_future


class ProgrammeError(Exception):
    def __init__(self, errors: list[ErrorItem]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.code}" for e in errors))
        self.errors = errors


def edition_command(path: Path, *, future: bool, now: datetime) -> ScheduleEdition:
    """The ScheduleEdition in the file; with `future`, moved whole years ahead as `werkplaatsen dev` does."""
    try:
        programme = load_programme(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProgrammeError(
            [ErrorItem(field="", code="invalid_json", message=f"Het bestand is niet te lezen als JSON: {exc}")]
        ) from None
    try:
        return moved_into_future(programme, now) if future else ScheduleEdition.model_validate(programme)
    except (ValidationError, KeyError, TypeError, ValueError) as exc:
        errors = (
            validation_errors(exc)
            if isinstance(exc, ValidationError)
            else [ErrorItem(field="", code="schema", message=f"Het programma is onvolledig: {exc}")]
        )
        raise ProgrammeError(errors) from None


def command_body(command: ScheduleEdition) -> bytes:
    given = command.model_copy(update={"actor": Actor.model_validate(OPERATOR_ACTOR)})
    return json.dumps(given.model_dump(mode="json", exclude_none=True), sort_keys=True, ensure_ascii=False).encode()


def command_id(body: bytes) -> str:
    return f"edition-load-{hashlib.sha256(body).hexdigest()[:40]}"


async def send(url: str, body: bytes, message_id: str, *, timeout: float | None) -> Reply | None:
    """Publish (confirmed, mandatory) and, unless timeout is None, wait for the outcome on a reply queue."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        replies = await channel.declare_queue(exclusive=True, auto_delete=True)
        outcome: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()

        async def on_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                if message.correlation_id == message_id and not outcome.done():
                    outcome.set_result(Reply.model_validate_json(message.body))

        await replies.consume(on_reply)
        exchange = await channel.declare_exchange(COMMANDS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        await exchange.publish(
            aio_pika.Message(
                body,
                message_id=message_id,
                correlation_id=message_id,
                reply_to=replies.name,
                type="ScheduleEdition",
                user_id=unquote(urlsplit(url).username or "") or None,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=ScheduleEdition.routing_key,
            mandatory=True,
        )
        if timeout is None:
            return None
        try:
            return await asyncio.wait_for(outcome, timeout)
        except TimeoutError:
            return None


def describe(command: ScheduleEdition) -> str:
    first = min(s.starts_at for s in command.sessions)
    return (
        f"{command.edition}: {len(command.sessions)} bijeenkomsten, de eerste op {first.isoformat()}; "
        f"plaatsing op {command.registration_deadline.isoformat()}; "
        f"{command.capacity.min_trios} tot {command.capacity.max_trios} trio's"
    )


async def load(
    url: str, path: Path, *, future: bool, now: datetime, timeout: float | None, echo: Callable[[str], object]
) -> int:
    """Returns the exit code: 0 scheduled (or sent, without waiting), 1 refused or no answer."""
    try:
        command = edition_command(path, future=future, now=now)
    except ProgrammeError as problem:
        for e in problem.errors:
            echo(f"fout in {path}: {e.field or '(bestand)'}: {e.code}: {e.message}")
        return 1
    body = command_body(command)
    message_id = command_id(body)
    try:
        reply = await send(url, body, message_id, timeout=timeout)
    except DeliveryError:
        echo("Geen dienst neemt ScheduleEdition aan: is de planningsdienst gestart (werkplaatsen run scheduling)?")
        return 1
    if timeout is None:
        echo(f"Verstuurd: {describe(command)} (message_id {message_id}).")
        return 0
    if reply is None:
        echo(
            f"Geen antwoord binnen {timeout:g} s (message_id {message_id}). Is dit bestand al eerder geladen, "
            "dan is er niets veranderd: hetzelfde programma heeft hetzelfde message_id en telt maar één keer."
        )
        return 1
    if reply.repeated:
        echo(
            f"Dit programma is al eerder geladen (message_id {message_id}); er is niets veranderd. "
            f"De eerste keer: {'ingepland' if reply.status == 'accepted' else 'geweigerd'}."
        )
        return 0 if reply.status == "accepted" else 1
    if reply.status == "rejected":
        for e in reply.errors:
            echo(f"geweigerd: {e.field or '(bericht)'}: {e.code}: {e.message}")
        return 1
    echo(f"Editie ingepland: {describe(command)} (message_id {message_id}).")
    return 0
