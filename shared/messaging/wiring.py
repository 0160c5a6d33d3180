"""What a service consumes, as one table, and the one piece of code that turns such a table into consumers.

A service lists every message it reacts to in its `consumes.py`, one line each:

    CONSUMES = (
        on(ScheduleEdition, handlers.schedule_edition),
        on(TrioRegistered, handlers.remember_registration),
        on(ParticipantDataErased, handlers.erase_participants, after_commit=[scrub_dead_letters]),
    )

A command that only an organiser (or a facilitator) may give says so on its line, `given_by=ORGANISER` (or
`STAFF`): it is then carried out only with an `actor` of such a role from a publisher the service trusts to speak
for accounts (processing.actor_problems), else refused with `actor_required`, `actor_not_organiser` or
`untrusted_actor`. The rule lives here, once, not in each handler.

`subscribe` makes a consumer of each line, keyed by the model's routing key (which is also what the service's
queue is bound to). A consumer parses the message against its contract model, claims it in the inbox and calls
the line's handlers in order, all in one unit of work (`MessageStore.unit_of_work`): a command through
`run_command` (its outcome is the reply, a refusal becomes CommandRejected), an event through `run_event`.

Handlers are plain async functions. The first positional parameter receives the message (the command, or the
event's `data`); every other parameter is a dependency, given by its name:
- from the unit of work: `session`, `emit` (the outbox's), `outbox`, `now` (the service clock, read once per
  message), for commands `received_at` (when the service first received the command: `now`, or the first
  attempt's moment for a command back from the retry queues) and `headers` (the message's headers, e.g. what an HTTP
  route of the service passes along), and for events `envelope` (the whole `Event`, with its ids) and `occurred_at`;
- from the service (`Dependencies`): `per_transaction` factories called with the session (repositories), and
  `fixed` values (configuration, signers, reference data).
The names a handler asks for are checked once, when the service is wired: a handler that needs something the
service does not provide stops the service at start, naming both, instead of failing on its first message.

Why not FastStream's own `Depends`: it resolves (and pydantic-validates) every argument on every call and puts a
marker in each handler's signature. Here the parameter names are the whole contract between a handler and the
wiring, the handlers stay free of any framework, and the same table runs unchanged on RabbitMQ (FastStream's
subscriber on the service queue, `shared.messaging.rabbit`) and on the embedded broker of `werkplaatsen dev`.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contract import Command, ErrorItem, Event, EventData, Reply
from shared.db import utcnow
from shared.messaging.messages import Consumer, Incoming
from shared.messaging.processing import ANYONE, MessageStore, Roles, UnitOfWork, run_command, run_event

log = structlog.get_logger()

Handler = Callable[..., Awaitable[Any]]
Clock = Callable[[], datetime]
# Gives schema errors a service's own, more specific codes; called with the errors and the parsed body (None when
# the body is not JSON).
ErrorRefiner = Callable[[list[ErrorItem], Any], list[ErrorItem]]


@dataclass(frozen=True)
class Consumes:
    """One line of a service's table: a message and what the service does with it."""

    model: type[Command] | type[EventData]
    handlers: tuple[Handler, ...]
    refine_errors: ErrorRefiner | None = None
    # Run once the unit of work has committed, outside it: work on other systems that must not hold the
    # transaction open and whose failure must not undo what was committed (it is logged).
    after_commit: tuple[Handler, ...] = ()
    # A command only some may give (processing.ORGANISER, STAFF): it must carry a trusted actor of such a role.
    given_by: Roles = ANYONE

    @property
    def routing_key(self) -> str:
        return self.model.routing_key

    @property
    def is_command(self) -> bool:
        return issubclass(self.model, Command)


def on(
    model: type[Command] | type[EventData],
    *handlers: Handler,
    refine_errors: ErrorRefiner | None = None,
    after_commit: Sequence[Handler] = (),
    given_by: Roles = ANYONE,
) -> Consumes:
    if issubclass(model, Command) and (len(handlers) != 1 or after_commit):
        raise ValueError(
            f"{model.__name__}: a command has exactly one handler (its outcome is the reply) and "
            "nothing after it (what follows a command reacts to the events it caused)"
        )
    if given_by and not issubclass(model, Command):
        raise ValueError(f"{model.__name__}: only a command is given by someone (an event is a fact)")
    return Consumes(model, tuple(handlers), refine_errors, tuple(after_commit), given_by)


@dataclass(frozen=True)
class Dependencies:
    """What a service hands its handlers besides the unit of work's own (see the module's docstring)."""

    per_transaction: Mapping[str, Callable[[AsyncSession], Any]] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    clock: Clock = utcnow


# The unit of work's own dependencies; `envelope` and `occurred_at` only for events.
UNIT_OF_WORK_NAMES = frozenset(
    {"session", "emit", "outbox", "now", "received_at", "envelope", "occurred_at", "headers"}
)


@dataclass(frozen=True)
class Call:
    """A handler and the dependency names it takes (read from its signature once)."""

    handler: Handler
    needs: tuple[str, ...]

    @classmethod
    def of(cls, handler: Handler, available: frozenset[str], where: str) -> Call:
        parameters = list(inspect.signature(handler).parameters.values())[1:]  # the first is the message
        needs, missing = [], []
        for parameter in parameters:
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            if parameter.name in available:
                needs.append(parameter.name)
            elif parameter.default is parameter.empty:
                missing.append(parameter.name)
        if missing:
            raise TypeError(
                f"{where}: {_name(handler)} needs {', '.join(missing)}, which this service does not "
                f"provide (it provides {', '.join(sorted(available))})"
            )
        return cls(handler, tuple(needs))


class Scope:
    """One message's dependencies, each made at most once (two handlers of a line share a repository)."""

    def __init__(
        self,
        deps: Dependencies,
        uow: UnitOfWork | None,
        envelope: Event[Any] | None,
        headers: Mapping[str, Any] | None = None,
        first_received_at: datetime | None = None,
    ) -> None:
        self.deps = deps
        self.uow = uow
        self.envelope = envelope
        self.headers: Mapping[str, Any] = headers or {}
        self.first_received_at = first_received_at
        self.made: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        if name not in self.made:
            self.made[name] = self._make(name)
        return self.made[name]

    def _make(self, name: str) -> Any:
        if name in self.deps.fixed:
            return self.deps.fixed[name]
        if name == "now":
            return self.deps.clock()
        if name == "received_at":
            return self.first_received_at or self.get("now")
        if name == "envelope":
            return self.envelope
        if name == "headers":
            return self.headers
        if name == "occurred_at":
            return self.envelope.occurred_at if self.envelope is not None else None
        if self.uow is None:
            raise LookupError(f"{name} is only there inside the unit of work")
        if name == "session":
            return self.uow.session
        if name == "outbox":
            return self.uow.outbox
        if name == "emit":
            return self.uow.outbox.emit
        return self.deps.per_transaction[name](self.uow.session)

    async def call(self, call: Call, message: Any) -> Any:
        return await call.handler(message, **{name: self.get(name) for name in call.needs})


class Consumers(Mapping[str, Consumer]):
    """A service's consumers by routing key (what its transport delivers to), made from its table."""

    def __init__(self, table: Sequence[Consumes], store: MessageStore, deps: Dependencies) -> None:
        self.table = tuple(table)
        self.store = store
        self.deps = deps
        self._by_key: dict[str, Consumer] = {}
        for line in self.table:
            if line.routing_key in self._by_key:
                raise ValueError(f"{store.service}: {line.routing_key} is in the table twice")
            self._by_key[line.routing_key] = self._consumer(line)

    def __getitem__(self, routing_key: str) -> Consumer:
        return self._by_key[routing_key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)

    async def command(self, model: type[Command], msg: Incoming) -> Reply:
        """Carry out a command the way the broker's consumer does (for HTTP routes and pages): the same parsing,
        idempotency and outcome."""
        return cast(Reply, await self._by_key[model.routing_key](msg))  # a command's consumer answers a Reply

    def _consumer(self, line: Consumes) -> Consumer:
        available = UNIT_OF_WORK_NAMES | self.deps.per_transaction.keys() | self.deps.fixed.keys()
        where = f"{self.store.service} on {line.routing_key}"
        calls = [Call.of(handler, available, where) for handler in line.handlers]
        after = [
            Call.of(handler, frozenset({"now", "envelope", "occurred_at", *self.deps.fixed}), where)
            for handler in line.after_commit
        ]
        if line.is_command:
            return self._command_consumer(line, calls[0])
        return self._event_consumer(line, calls, after)

    def _command_consumer(self, line: Consumes, call: Call) -> Consumer:
        model: Any = line.model
        refine = line.refine_errors

        async def consume(msg: Incoming) -> Reply:
            async def work(command: Any, uow: UnitOfWork) -> Any:
                return await Scope(self.deps, uow, None, msg.headers, msg.first_received_at).call(call, command)

            refiner = None if refine is None else (lambda errors: refine(errors, _json_or_none(msg.body)))
            return await run_command(self.store, msg, model, work, refine_errors=refiner, given_by=line.given_by)

        return consume

    def _event_consumer(self, line: Consumes, calls: list[Call], after: list[Call]) -> Consumer:
        model: Any = line.model

        async def consume(msg: Incoming) -> bool:
            seen: list[Event[Any]] = []

            async def work(data: Any, envelope: Event[Any], uow: UnitOfWork) -> None:
                seen.append(envelope)
                scope = Scope(self.deps, uow, envelope)
                for call in calls:
                    await scope.call(call, data)

            applied = await run_event(self.store, msg, model, work)
            if applied and after:
                await self._after_commit(after, Scope(self.deps, None, seen[0]), seen[0].data)
            return applied

        return consume

    async def _after_commit(self, calls: list[Call], scope: Scope, message: Any) -> None:
        for call in calls:
            try:
                await scope.call(call, message)
            except Exception as exc:  # what was committed stands; the log says what is left to do by hand
                log.warning("after_commit_step_failed", step=_name(call.handler), error=type(exc).__name__)


def subscribe(table: Sequence[Consumes], store: MessageStore, deps: Dependencies | None = None) -> Consumers:
    """The consumers of a service's table, its handlers given their dependencies by name."""
    return Consumers(table, store, deps or Dependencies())


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def _name(handler: Callable[..., Any]) -> str:
    return f"{getattr(handler, '__module__', '')}.{getattr(handler, '__qualname__', repr(handler))}"
