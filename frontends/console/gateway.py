"""How the console acts: it publishes contract commands on the broker, each carrying the account that gave it, and
waits (bounded) for the owning service's reply on a reply queue of its own.

Guarantees and trade-offs:
- One effect per command: the message id is the service's idempotency key, so the API turns an `Idempotency-Key`
  into a stable message id (`message_id_for`, an HMAC nobody else can predict) and a repeated request repeats the
  first outcome (the service sends its stored outcome to the reply queue again, shared/messaging/processing.py).
- The console never refuses because of the system's own lag: when no reply arrives within the wait, the command
  is still on its way and will be carried out or refused by its service; the caller answers 202 (accepted for
  processing) and the outcome shows up in the service's state and the CommandRejected events.
- Each console process has its own reply queue (`reply_queue_name`), so the process that sent a command is the
  one that hears its outcome; on RabbitMQ it is a non-durable queue that goes away with the process.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from typing import Any, Final, Protocol

import structlog
from pydantic import ValidationError

from shared.contract import COMMANDS_EXCHANGE, Actor, Command, Reply, message_name
from shared.messaging.messages import Incoming, Outgoing

log = structlog.get_logger()

REPLY_WAIT_SECONDS: Final = 10.0


def reply_queue_name(process_id: str) -> str:
    return f"werkplaatsen.console.replies.{process_id}"


def id_key(secret_key: str) -> bytes:
    """The console's key for message ids, derived from WERKPLAATSEN_SECRET_KEY for this one purpose."""
    return hmac.new(secret_key.encode(), b"werkplaatsen:console:message-ids", hashlib.sha256).digest()


def message_id_for(key: bytes, actor: Actor, command_type: str, idempotency_key: str | None) -> str:
    """The command's message id: stable for the same account, command type and Idempotency-Key, else fresh.

    An HMAC under the console's own key, so nobody else can tell in advance which id an organiser's request will
    have (and use it up: shared/messaging/processing.py). Two accounts, or one account's two kinds of command,
    with the same key are two commands."""
    if not idempotency_key:
        return str(uuid.uuid4())
    scoped = "\x1f".join((actor.account_id, command_type, idempotency_key)).encode()
    return "console-" + hmac.new(key, scoped, hashlib.sha256).hexdigest()[:40]


class Publisher(Protocol):
    async def publish(self, out: Outgoing) -> None: ...


class CommandGateway:
    """Sends commands for the console and matches the replies that come back to them."""

    def __init__(
        self,
        publisher: Publisher,
        reply_queue: str,
        *,
        id_key: bytes,
        broker_user: str | None = None,
        wait_seconds: float = REPLY_WAIT_SECONDS,
    ) -> None:
        self.publisher = publisher
        self.reply_queue = reply_queue
        # Sent as the AMQP user_id, which RabbitMQ checks against the connection's user: the services believe an
        # actor only from the console's broker user (WERKPLAATSEN_CONSOLE_BROKER_USERS).
        self.broker_user = broker_user
        self.id_key = id_key
        self.wait_seconds = wait_seconds
        self._waiting: dict[str, asyncio.Future[Reply]] = {}

    def message_id_for(self, actor: Actor, command_type: str, idempotency_key: str | None) -> str:
        return message_id_for(self.id_key, actor, command_type, idempotency_key)

    async def send(self, command: Command, actor: Actor, *, message_id: str | None = None) -> Reply | None:
        """Publish COMMAND on ACTOR's behalf; its Reply, or None when none came within the wait (still on its way)."""
        message_id = message_id or str(uuid.uuid4())
        payload = command.model_copy(update={"actor": actor, "reply_to": self.reply_queue})
        body = json.dumps(payload.model_dump(mode="json", exclude_none=True)).encode()
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[message_id] = future
        try:
            await self.publisher.publish(
                Outgoing(
                    exchange=COMMANDS_EXCHANGE,
                    routing_key=command.routing_key,
                    body=body,
                    message_id=message_id,
                    message_type=message_name(command.routing_key),
                    correlation_id=message_id,
                    user_id=self.broker_user,
                )
            )
            return await asyncio.wait_for(asyncio.shield(future), self.wait_seconds)
        except TimeoutError:
            log.info("console_reply_late", command_type=message_name(command.routing_key))
            return None
        finally:
            self._waiting.pop(message_id, None)

    async def on_reply(self, msg: Incoming) -> None:
        """The consumer of the reply queue. A reply nobody waits for (it came after the wait) is dropped: the
        service has recorded the outcome and announced it as events; the request was answered 202."""
        try:
            reply = Reply.model_validate_json(msg.body)
        except ValidationError:
            log.warning("console_reply_unreadable")
            return
        future = self._waiting.get(reply.command_id)
        if future is not None and not future.done():
            future.set_result(reply)

    def consumers(self) -> Mapping[str, Any]:
        """What the reply queue consumes: replies arrive through the default exchange, routed by the queue's name."""
        return {self.reply_queue: self.on_reply}
