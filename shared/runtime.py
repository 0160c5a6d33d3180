"""Running services: one per process on RabbitMQ (`werkplaatsen run`), or all four in one (`werkplaatsen dev`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from shared.db import migrate
from shared.messaging.messages import Consumer, Outgoing
from shared.messaging.outbox import OutboxRelay
from shared.messaging.processing import MessageStore
from shared.metrics import OUTBOX_PENDING

log = structlog.get_logger()


class Transport(Protocol):
    async def start(self, consumers: Mapping[str, Consumer]) -> None: ...
    async def stop(self) -> None: ...
    async def ping(self) -> bool: ...
    async def publish(self, out: Outgoing) -> None: ...


@dataclass
class Service:
    """What a service's bootstrap wires together; the runtime starts and stops it."""

    name: str
    store: MessageStore
    relay: OutboxRelay
    transport: Transport
    migrations: Path
    consumers: Mapping[str, Consumer]
    routes: list[BaseRoute] = field(default_factory=list)
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        await migrate(self.store.db, self.migrations, self.name)
        for hook in self.on_start:
            await hook()
        self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-outbox-relay"))
        for job in self.background:
            self._tasks.append(asyncio.create_task(job(), name=f"{self.name}-{job.__name__}"))
        await self.transport.start(self.consumers)
        log.info("service_started", service=self.name)

    async def stop(self) -> None:
        # Stop consuming first (in-flight messages finish), then let the relay flush what they emitted.
        await self.transport.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.relay.publish_pending(), timeout=5)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.store.db.dispose()
        log.info("service_stopped", service=self.name)

    async def ready(self) -> dict[str, bool]:
        return {"database": await self.store.db.ping(), "broker": await self.transport.ping()}


def build_app(services: list[Service], extra_routes: Sequence[BaseRoute] = (),
              on_start: Callable[[], Awaitable[None]] | None = None,
              after_start: Callable[[], Awaitable[None]] | None = None,
              on_stop: Callable[[], Awaitable[None]] | None = None) -> Starlette:
    """One HTTP app serving the services' routes plus /health, /ready and /metrics."""

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "services": [s.name for s in services]})

    async def ready(_: Request) -> Response:
        checks = {s.name: await s.ready() for s in services}
        ok = all(all(c.values()) for c in checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    async def metrics(_: Request) -> Response:
        for s in services:
            with contextlib.suppress(Exception):
                OUTBOX_PENDING.labels(s.name).set(await s.relay.pending())
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
        Route("/health", health), Route("/ready", ready), Route("/metrics", metrics), *extra_routes,
    ]
    for s in services:
        routes.extend(s.routes)
    return Starlette(routes=routes, lifespan=lifespan)
