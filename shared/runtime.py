"""Running services: one per process on RabbitMQ (`werkplaatsen run`), or all four in one (`werkplaatsen dev`).

Stopping (SIGTERM, or the end of `werkplaatsen dev`) is graceful and bounded; `Service.stop` runs these steps:
1. Stop consuming: no new messages are taken; the ones being handled get CONSUMER_GRACE_SECONDS to finish (and
   are acked); those not finished by then are never acked, so the broker delivers them again (to another replica,
   or to this service after its restart), where the inbox makes sure they have one effect.
   At the same time the cooperative jobs are told to stop (their stop event is set): each finishes the step it is
   in (the mail sender: the mails it is handing over, for at most its own STOP_GRACE_SECONDS) and returns, within
   JOB_GRACE_SECONDS, else it is cancelled.
   Plain background jobs are cancelled; their work is transactional, so a cancelled step is rolled back.
2. Flush the outbox: the relay finishes the batch it is publishing, then every due row is published (at most
   FLUSH_SECONDS), so the events of the work just finished leave now rather than at the next start.
3. Close the broker connection and the database pool.
Worst case from SIGTERM to exit: uvicorn's HTTP grace (HTTP_GRACE_SECONDS), then about
max(CONSUMER_GRACE_SECONDS, JOB_GRACE_SECONDS) + RELAY_STOP_SECONDS + FLUSH_SECONDS + CLOSE_SECONDS
(see STOP_BOUND_SECONDS); orchestrators must allow more than that (deploy/ sets 45 s).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from shared.db import migrate
from shared.http import hardening
from shared.messaging.messages import Consumer, Outgoing
from shared.messaging.outbox import OutboxRelay
from shared.messaging.processing import MessageStore
from shared.metrics import OUTBOX_OLDEST_AGE, OUTBOX_PENDING, MetricsHook, run_hooks

log = structlog.get_logger()

HTTP_GRACE_SECONDS = 10.0
CONSUMER_GRACE_SECONDS = 10.0
JOB_GRACE_SECONDS = 15.0
RELAY_STOP_SECONDS = 5.0
FLUSH_SECONDS = 5.0
CLOSE_SECONDS = 5.0
STOP_BOUND_SECONDS = (
    HTTP_GRACE_SECONDS
    + max(CONSUMER_GRACE_SECONDS, JOB_GRACE_SECONDS)
    + RELAY_STOP_SECONDS
    + FLUSH_SECONDS
    + CLOSE_SECONDS
)

CooperativeJob = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""A background job that watches the stop event it is given: when it is set, the job ends its current step and
returns (e.g. `while not stop.is_set(): ...`)."""


class Transport(Protocol):
    async def start(self, consumers: Mapping[str, Consumer]) -> None: ...
    async def stop(self) -> None: ...
    async def ping(self) -> bool: ...
    async def publish(self, out: Outgoing) -> None: ...

    # Optional: `async def stop_consuming(self) -> None` (take no more messages, finish those in hand, keep the
    # connection for publishing). A transport without it is simply stopped after the outbox was flushed.


@dataclass
class Service:
    """What a service's bootstrap wires together; the runtime starts and stops it.

    - `background`: jobs cancelled when the service stops (their work must be transactional).
    - `cooperative`: jobs given the service's stop event and awaited (up to JOB_GRACE_SECONDS) once it is set;
      for work that must not be interrupted halfway, like handing a mail to an SMTP server.
    - `metrics`: hooks run on each scrape of /metrics to update gauges (see `shared.metrics.query_gauge`).
    """

    name: str
    store: MessageStore
    relay: OutboxRelay
    transport: Transport
    migrations: Path
    consumers: Mapping[str, Consumer]
    routes: Sequence[BaseRoute] = field(default_factory=list)
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    cooperative: list[CooperativeJob] = field(default_factory=list)
    metrics: list[MetricsHook] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _cooperative_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _relay_task: asyncio.Task[None] | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _relay_stop: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if not self.relay.service:
            self.relay.service = self.name

    @property
    def stopping(self) -> asyncio.Event:
        """Set once the service begins to stop."""
        return self._stopping

    async def start(self) -> None:
        await migrate(self.store.db, self.migrations, self.name)
        for hook in self.on_start:
            await hook()
        self._relay_task = asyncio.create_task(self.relay.run(self._relay_stop), name=f"{self.name}-outbox-relay")
        for job in self.background:
            self._tasks.append(asyncio.create_task(job(), name=f"{self.name}-{_name(job)}"))
        for cooperative in self.cooperative:
            self._cooperative_tasks.append(
                asyncio.create_task(cooperative(self._stopping), name=f"{self.name}-{_name(cooperative)}")
            )
        await self.transport.start(self.consumers)
        log.info("service_started", service=self.name)

    async def stop(self) -> None:
        log.info("service_stopping", service=self.name)
        self._stopping.set()
        await asyncio.gather(self._stop_consuming(), self._finish_cooperative_jobs(), _cancel(self._tasks))
        await self._finish_relay()
        flushed = await self.relay.flush(FLUSH_SECONDS)
        await _bounded(self.transport.stop(), CLOSE_SECONDS, f"{self.name}: closing the broker connection")
        await _bounded(self.store.db.dispose(), CLOSE_SECONDS, f"{self.name}: closing the database pool")
        log.info("service_stopped", service=self.name, outbox_flushed=flushed)

    async def _stop_consuming(self) -> None:
        stop_consuming = getattr(self.transport, "stop_consuming", None)
        if stop_consuming is not None:
            # The transport waits CONSUMER_GRACE_SECONDS for messages in hand; a little slack for its own bookkeeping.
            await _bounded(stop_consuming(), CONSUMER_GRACE_SECONDS + 2, f"{self.name}: stopping consumers")

    async def _finish_cooperative_jobs(self) -> None:
        if not self._cooperative_tasks:
            return
        _, late = await asyncio.wait(self._cooperative_tasks, timeout=JOB_GRACE_SECONDS)
        if late:
            log.warning("jobs_cancelled_after_grace", service=self.name, jobs=[t.get_name() for t in late])
        await _cancel(list(late))
        await asyncio.gather(*self._cooperative_tasks, return_exceptions=True)

    async def _finish_relay(self) -> None:
        # The relay completes the batch in hand (cancelling it mid-batch would publish those rows twice).
        self._relay_stop.set()
        if self._relay_task is None:
            return
        _, late = await asyncio.wait([self._relay_task], timeout=RELAY_STOP_SECONDS)
        await _cancel(list(late))

    async def ready(self) -> dict[str, bool]:
        return {"database": await self.store.db.ping(), "broker": await self.transport.ping()}

    async def collect_metrics(self) -> None:
        """Bring this service's gauges up to date (on each scrape of /metrics)."""
        hooks: list[MetricsHook] = [self._outbox_metrics, *self.metrics]
        await run_hooks(hooks)

    async def _outbox_metrics(self) -> None:
        count, age = await self.relay.backlog()
        OUTBOX_PENDING.labels(self.name).set(count)
        OUTBOX_OLDEST_AGE.labels(self.name).set(age)


def _name(job: Callable[..., Any]) -> str:
    return getattr(job, "__name__", type(job).__name__)


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _bounded(step: Coroutine[Any, Any, Any], seconds: float, what: str) -> None:
    """Run one step of stopping; past `seconds` (or on an error) log it and go on, so stopping always ends."""
    try:
        await asyncio.wait_for(step, timeout=seconds)
    except Exception as exc:
        log.warning("stop_step_incomplete", step=what, error=repr(exc)[:300])


def build_app(
    services: list[Service],
    extra_routes: Sequence[BaseRoute] = (),
    on_start: Callable[[], Awaitable[None]] | None = None,
    after_start: Callable[[], Awaitable[None]] | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> Starlette:
    """One HTTP app serving the services' routes plus /health, /ready and /metrics."""

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "services": [s.name for s in services]})

    async def ready(_: Request) -> Response:
        checks = {s.name: await s.ready() for s in services}
        ok = all(all(c.values()) for c in checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    async def metrics(_: Request) -> Response:
        for s in services:
            await s.collect_metrics()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if on_start:
            await on_start()
        for s in services:
            await s.start()
        if after_start:
            await after_start()
        try:
            yield
        finally:
            for s in reversed(services):
                await s.stop()
            if on_stop:
                await on_stop()

    routes: list[BaseRoute] = [
        Route("/health", health),
        Route("/ready", ready),
        Route("/metrics", metrics),
        *extra_routes,
    ]
    for s in services:
        routes.extend(s.routes)
    return Starlette(routes=routes, lifespan=lifespan, middleware=hardening())
