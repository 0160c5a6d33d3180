"""Process a message once: inbox claim, the handler's effect and its outgoing events in one transaction."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import structlog
from pydantic import ValidationError
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contract import Actor, Command, CommandRejected, ErrorItem, Event, EventData, Reply, message_name
from shared.db import Database, InboxMixin, OutboxMixin, upsert
from shared.messaging.errors import validation_errors
from shared.messaging.messages import CommandRefused, Incoming, NotYetKnown, PermanentFailure, may_wait_for_announcement
from shared.messaging.outbox import Cause, Outbox
from shared.metrics import inbox_duplicate

log = structlog.get_logger()

C = TypeVar("C", bound=Command)
Claim = Literal["new", "repeat", "reused"]
# The inbox keeps message ids and the outbox correlation ids in columns of this size.
MAX_ID_LENGTH = 200
# PostgreSQL's integer columns; a larger number in a command could only ever fail in the database.
MAX_INTEGER = 2**31 - 1
E = TypeVar("E", bound=EventData)


@dataclass(frozen=True)
class UnitOfWork:
    """The transaction in progress and the outbox that writes into it."""

    session: AsyncSession
    outbox: Outbox

    def outbox_for(self, cause: Cause) -> Outbox:
        """An outbox in the same transaction whose events carry another cause (work on behalf of several)."""
        return Outbox(self.session, self.outbox.model, self.outbox.producer, cause)


@dataclass
class MessageStore:
    """A service's database with its outbox and inbox tables, and the relay to wake after commits."""

    db: Database
    service: str
    outbox_model: type[OutboxMixin]
    inbox_model: type[InboxMixin]
    rejected_model: type[CommandRejected]
    wake: Callable[[], None] = lambda: None
    # Broker users whose commands may act on an account's behalf (carry an `actor`): the console's. Empty: any
    # publisher (development, tests); production sets WERKPLAATSEN_CONSOLE_BROKER_USERS.
    actor_publishers: frozenset[str] = frozenset()

    async def claim(
        self, session: AsyncSession, message_id: str, message_type: str, digest: str | None = None
    ) -> Claim:
        """Record the message as processed. "repeat" if it already was (by us or a competing replica) with the same
        digest, "reused" if its id and type were taken by a message with another digest."""
        table = cast(Table, self.inbox_model.__table__)
        # ON CONFLICT DO NOTHING waits for a concurrent claimant's transaction, then reports the conflict.
        statement = (
            upsert(session)(table)
            .values(message_id=message_id, message_type=message_type, digest=digest)
            .on_conflict_do_nothing(index_elements=["message_id", "message_type"])
            .returning(table.c.message_id)
        )
        if (await session.execute(statement)).first() is not None:
            return "new"
        if digest is None:
            return "repeat"
        inbox = self.inbox_model
        kept = await session.scalar(
            select(inbox.digest).where(inbox.message_id == message_id, inbox.message_type == message_type)
        )
        # A row from before digests were kept cannot tell: it counts as the same command, as it did then.
        return "repeat" if kept is None or hmac.compare_digest(kept, digest) else "reused"

    @contextlib.asynccontextmanager
    async def unit_of_work(self, cause: Cause | None = None) -> AsyncIterator[UnitOfWork]:
        """One transaction with its outbox; on commit the relay is woken, so the events leave at once.

        Every path that changes state goes through here (a message's handlers, an HTTP route, a background
        job): the state change and the events it causes commit together or not at all. Without a `cause`
        (work no message caused) the events get fresh ids.
        """
        if cause is None:
            new_id = str(uuid.uuid4())
            cause = Cause(message_id=new_id, correlation_id=new_id)
        async with self.db.transaction() as session:
            yield UnitOfWork(session, Outbox(session, self.outbox_model, self.service, cause))
        self.wake()

    async def outcome(self, message_id: str, message_type: str) -> dict[str, Any] | None:
        """The recorded outcome of the command of this type with this id, if any."""
        inbox = self.inbox_model
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(inbox.outcome).where(inbox.message_id == message_id, inbox.message_type == message_type)
                )
            ).first()
            return row[0] if row else None


CommandWork = Callable[[C, UnitOfWork], Awaitable[dict[str, Any] | None]]


ErrorRefiner = Callable[[list[ErrorItem]], list[ErrorItem]]

# Who may give a command (a service's consumes table declares it per command, see wiring.on): an actor of one of
# these roles, from a publisher the service trusts to speak for accounts. Empty: anyone (a participant's command).
Roles = frozenset[str]
ANYONE: Roles = frozenset()
ORGANISER: Roles = frozenset({"organiser"})
# Attendance and a session's notes: the facilitators of an edition too (the console keeps them to their editions).
STAFF: Roles = frozenset({"organiser", "facilitator"})


async def run_command(
    store: MessageStore,
    msg: Incoming,
    model: type[C],
    work: CommandWork[C],
    refine_errors: ErrorRefiner | None = None,
    given_by: Roles = ANYONE,
) -> Reply:
    """Carry out a command once. Returns the outcome (also sent to reply_to and, if refused, as CommandRejected).

    `refine_errors` lets a service give schema errors its own, more specific codes (e.g. `trio_size`); `given_by`
    the roles one of which the command's trusted `actor` must have.
    """
    command_id = msg.message_id or ""
    name = message_name(model.routing_key)
    check_ids(command_id, msg.correlation_id)
    reply_to = msg.reply_to
    cause = Cause(message_id=command_id or str(uuid.uuid4()), correlation_id=msg.correlation_id or command_id)
    errors: list[ErrorItem] = []
    with_refusal: tuple[EventData, ...] = ()
    command: C | None = None
    if not command_id:
        errors = [
            ErrorItem(
                field="message_id",
                code="missing_message_id",
                message="Het bericht heeft geen message_id; die is nodig om dubbele verwerking te voorkomen.",
            )
        ]
    else:
        command, errors = parse_command(msg.body, model)
        if errors and refine_errors is not None:
            errors = refine_errors(errors)
        if command is not None and command.reply_to:
            reply_to = command.reply_to
        if command is not None and (problems := actor_problems(store, msg, command.actor, given_by, name)):
            command, errors = None, problems
    digest = command_digest(msg, name)
    claim: Claim = "new"

    if command is not None:
        try:
            async with store.unit_of_work(cause) as uow:
                claim = await store.claim(uow.session, command_id, name, digest)
                if claim == "repeat":
                    return await _previous_outcome(uow, store, command_id, name, reply_to)
                if claim == "new":
                    ids = await work(command, uow) or {}
                    reply = Reply(status="accepted", command_id=command_id, command_type=name, ids=ids)
                    await _finish(uow, store, command_id, name, reply, reply_to)
            if claim == "new":
                return reply
        except CommandRefused as refused:
            errors, with_refusal = refused.errors, refused.events
        except NotYetKnown as not_yet:
            # The copy it names may still be on its way: rolled back (inbox claim included) and retried, with no
            # reply yet, until the wait is over; then refused like any other refusal.
            if msg.retryable and may_wait_for_announcement(msg.attempt):
                raise
            if not msg.retryable:
                # A caller with no retry queue (an HTTP route) is answered now but nothing is kept: the same
                # request repeated (its Idempotency-Key) once the announcement has arrived is carried out.
                log.info("command_not_yet_possible", codes=[e.code for e in not_yet.errors])
                return Reply(status="rejected", command_id=command_id, command_type=name, errors=not_yet.errors)
            errors = not_yet.errors

    async with store.unit_of_work(cause) as uow:
        if command_id and claim == "new":
            claim = await store.claim(uow.session, command_id, name, digest)
            if claim == "repeat":
                return await _previous_outcome(uow, store, command_id, name, reply_to)
        if claim == "reused":
            # Refused without touching the inbox: its row, and the outcome in it, are the first command's.
            errors = [ID_REUSED]
        reply = Reply(status="rejected", command_id=command_id, command_type=name, errors=errors)
        uow.outbox.emit(store.rejected_model(command_id=command_id, command_type=name, errors=errors))
        for event in with_refusal if claim == "new" else []:
            uow.outbox.emit(event)
        await _finish(uow, store, command_id if claim == "new" else "", name, reply, reply_to)
    log.info("command_rejected", codes=[e.code for e in errors])
    return reply


ID_REUSED = ErrorItem(
    field="message_id",
    code="message_id_reused",
    message="Dit message_id is al gebruikt voor een ander bericht van dit soort; geef elk nieuw verzoek een eigen "
    "message_id (Idempotency-Key). Er is niets uitgevoerd.",
)

UNTRUSTED_ACTOR = ErrorItem(
    field="actor",
    code="untrusted_actor",
    message="Namens een account handelen mag alleen de organisatorenconsole; dit bericht komt niet van de console.",
)

ROLE_TEXTS = {"organiser": "organisator", "facilitator": "begeleider", "viewer": "meelezer"}


def actor_problems(
    store: MessageStore, msg: Incoming, actor: Actor | None, given_by: Roles, name: str
) -> list[ErrorItem]:
    """Why the command's actor does not count: not believed from this publisher, or missing or of another role
    where the command may only be given by one of `given_by`."""
    if actor is not None and not _may_act_for(store, msg):
        return [UNTRUSTED_ACTOR]
    if not given_by:
        return []
    who = " of ".join(ROLE_TEXTS[role] for role in sorted(given_by, key=["organiser", "facilitator"].index))
    if actor is None:
        return [
            ErrorItem(
                field="actor",
                code="actor_required",
                message=f"Alleen een {who} kan {name} geven; dit bericht zegt niet wie het geeft.",
            )
        ]
    if actor.role not in given_by:
        code = "actor_not_organiser" if given_by == ORGANISER else "actor_not_staff"
        return [
            ErrorItem(
                field="actor",
                code=code,
                message=f"Alleen een {who} kan {name} geven, geen {ROLE_TEXTS.get(actor.role, actor.role)}.",
            )
        ]
    return []


# The organiser token of the services' own HTTP APIs names no account: the commands its routes give carry this actor.
ORGANISER_TOKEN_ACTOR: dict[str, str] = {"account_id": "organiser-token", "role": "organiser", "via": "api"}


# What an operator's command line (`werkplaatsen editions load`, the development seed) gives its commands as: it
# publishes as a broker user in WERKPLAATSEN_CONSOLE_BROKER_USERS (docs/broker-permissions.md).
OPERATOR_ACTOR: dict[str, str] = {"account_id": "operator", "role": "organiser", "via": "operator"}


def from_organiser_route(msg: Incoming) -> Incoming:
    """MSG as given by a service's HTTP route that checked the organiser token: its actor is believed."""
    return dataclasses.replace(msg, local=True)


def _may_act_for(store: MessageStore, msg: Incoming) -> bool:
    """An actor is believed only from the console's broker user (RabbitMQ validates the AMQP user_id), or from the
    service's own HTTP route that authenticated the organiser; with no such users configured (development), from
    anyone: production refuses to start so (`werkplaatsen run`)."""
    return not store.actor_publishers or msg.local or msg.user_id in store.actor_publishers


def command_digest(msg: Incoming, name: str) -> str:
    """What makes a command this command: its type, publisher and body, without its reply_to (a sender that
    repeats a command after a restart waits on a new reply queue) and in one canonical form (a repeat need not
    be byte for byte the same)."""
    content: Any
    try:
        content = json.loads(msg.body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        content = msg.body.hex()
    if isinstance(content, dict):
        content = {k: v for k, v in content.items() if k != "reply_to"}
    # ASCII: a lone surrogate (valid in JSON, not in UTF-8) stays an escape instead of failing the encoding.
    canonical = json.dumps([name, msg.user_id or "", content], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _finish(
    uow: UnitOfWork, store: MessageStore, command_id: str, name: str, reply: Reply, reply_to: str | None
) -> None:
    if reply_to:
        uow.outbox.reply(reply_to, reply)
    if command_id:
        # One UPDATE, not a load and a flush: the claim inserted the row with Core, so the session does not hold it.
        inbox = store.inbox_model
        await uow.session.execute(
            update(inbox)
            .where(inbox.message_id == command_id, inbox.message_type == name)
            .values(outcome=reply.model_dump(mode="json"))
        )


async def _previous_outcome(
    uow: UnitOfWork, store: MessageStore, command_id: str, name: str, reply_to: str | None
) -> Reply:
    log.info("duplicate_command_ignored")
    inbox_duplicate(store.service, name)
    previous = await store.outcome(command_id, name)
    reply = (
        Reply.model_validate(previous)
        if previous
        else Reply(status="accepted", command_id=command_id, command_type=name)
    )
    # A sender that repeats a command (its first reply lost, or its replica restarted) waits on a reply queue of
    # its own: it gets the first outcome again, and nothing is done twice.
    if reply_to:
        uow.outbox.reply(reply_to, reply.model_copy(update={"repeated": True}))
    return reply


def parse_command(body: bytes, model: type[C]) -> tuple[C | None, list[ErrorItem]]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return None, [
            ErrorItem(
                field="", code="invalid_json", message=f"Het bericht is geen geldige JSON (UTF-8): {str(exc)[:200]}"
            )
        ]
    if not isinstance(payload, dict):
        return None, [ErrorItem(field="", code="schema", message="Het bericht moet een JSON-object zijn.")]
    unstorable = unstorable_values(payload)
    if unstorable:
        return None, unstorable
    try:
        return model.model_validate(payload), []
    except ValidationError as exc:
        return None, validation_errors(exc)


def check_ids(*ids: str | None) -> None:
    """Ids too long for the inbox and outbox can never be recorded: dead-letter the message at once."""
    if any(value and len(value) > MAX_ID_LENGTH for value in ids):
        raise PermanentFailure(f"message_id or correlation_id longer than {MAX_ID_LENGTH} characters")


def unstorable_values(payload: Any) -> list[ErrorItem]:
    """Text with NUL characters and integers beyond the database's range: valid JSON that no column can hold.
    Iterative, so a deeply nested body cannot exhaust the stack."""
    found: list[ErrorItem] = []
    # None is the body itself; "" is a key that is the empty string, so that a field below it is ".name".
    todo: list[tuple[str | None, Any]] = [(None, payload)]
    while todo and len(found) < 50:
        where, value = todo.pop()
        path = where or ""
        if isinstance(value, str) and "\x00" in value:
            found.append(
                ErrorItem(
                    field=path,
                    code="invalid_character",
                    message="Deze tekst bevat een teken dat niet is toegestaan (NUL, \\u0000).",
                )
            )
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
            found.append(
                ErrorItem(
                    field=path, code="number_out_of_range", message=f"Dit getal is te groot (hoogstens {MAX_INTEGER})."
                )
            )
        elif isinstance(value, dict):
            todo.extend((f"{where}.{key}" if where is not None else str(key), item) for key, item in value.items())
        elif isinstance(value, list):
            todo.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return found


EventWork = Callable[[E, Event[Any], UnitOfWork], Awaitable[None]]


async def run_event(store: MessageStore, msg: Incoming, model: type[E], work: EventWork[E]) -> bool:
    """Apply an event once. An event that does not match the contract is dead-lettered, not retried."""
    try:
        envelope = Event[model].model_validate_json(msg.body)  # type: ignore[valid-type]
    except ValidationError as exc:
        # Without the input: it may be a participant's name or address, and this reason is logged.
        raise PermanentFailure(
            f"event does not match the contract: {exc.errors(include_input=False, include_url=False)[:3]}"
        ) from None
    check_ids(envelope.event_id, envelope.correlation_id)
    cause = Cause(message_id=envelope.event_id, correlation_id=envelope.correlation_id)
    async with store.unit_of_work(cause) as uow:
        if await store.claim(uow.session, envelope.event_id, envelope.type) != "new":
            log.info("duplicate_event_ignored")
            inbox_duplicate(store.service, envelope.type)
            return False
        await work(envelope.data, envelope, uow)
    return True
