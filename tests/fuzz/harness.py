"""The four services in this process, without a broker: messages go through the same delivery decision
(`shared.messaging.delivery.deliver`) the transports use, so a test sees exactly what RabbitMQ would be told
(ack, retry or dead-letter with a reason), with each service on its own database."""

from __future__ import annotations

import importlib
import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from shared.contract import COMMANDS, Reply, message_name
from shared.db import migrate
from shared.messaging.delivery import Verdict, deliver
from shared.messaging.messages import Incoming, may_wait_for_announcement
from shared.runtime import Service
from shared.settings import SERVICES, Settings
from tests.fuzz.bodies import Targets
from tests.support import RecordingTransport

# The first delivery attempt at which a command no longer waits for an announcement (NotYetKnown).
WAIT_OVER = next(attempt for attempt in range(1, 100) if not may_wait_for_announcement(attempt))

# The same examples on every CI run, so a red build means a change broke something; WERKPLAATSEN_FUZZ_RANDOM=1
# explores new ones (each body found that way becomes a regression test).
DERANDOMIZE = not os.environ.get("WERKPLAATSEN_FUZZ_RANDOM")

SECRET = "fuzz-secret-key"
ORGANIZER_TOKEN = "fuzz-organizer-token"


@dataclass
class Outcome:
    """What became of one delivered command."""

    verdict: Verdict
    reply: Reply | None  # the outcome kept with the inbox row (None: no message_id, or not processed)
    rejections_published: int  # CommandRejected rows the delivery added to the service's outbox


@dataclass
class InProcessSystem:
    services: dict[str, Service]
    settings: Settings
    delivered: int = 0
    by_key: dict[str, Service] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for service in self.services.values():
            for key in service.consumers:
                if key in COMMANDS:
                    self.by_key[key] = service

    def service_for(self, routing_key: str) -> Service:
        """The service that consumes a command (commands are named after the service that owns them)."""
        return self.by_key.get(routing_key) or self.services[routing_key.split(".", 1)[0]]

    async def deliver(self, msg: Incoming, service: Service | None = None) -> Verdict:
        """As the broker delivers it, at the attempt where a command's wait for what it names is over: what the
        message ends as (a command naming an edition or trio nobody announced is then refused, not retried)."""
        service = service or self.service_for(msg.routing_key)
        self.delivered += 1
        if msg.routing_key in COMMANDS:
            msg = replace(msg, retryable=True, attempt=max(msg.attempt, WAIT_OVER))
        return await deliver(service.name, service.consumers, msg)

    async def command(self, msg: Incoming) -> Outcome:
        service = self.service_for(msg.routing_key)
        before = await self.rejections(service)
        verdict = await self.deliver(msg, service)
        reply = None
        if msg.message_id:
            kept = await service.store.outcome(msg.message_id, message_name(msg.routing_key))
            reply = Reply.model_validate(kept) if kept else None
        return Outcome(verdict, reply, await self.rejections(service) - before)

    async def rejections(self, service: Service) -> int:
        model = service.store.outbox_model
        async with service.store.db.sessions() as session:
            return int(
                (
                    await session.execute(
                        select(func.count()).select_from(model).where(model.message_type == "CommandRejected")
                    )
                ).scalar_one()
            )

    async def outbox(self, name: str, message_type: str | None = None) -> list[dict[str, Any]]:
        """The events a service has committed (oldest first), as published bodies."""
        service = self.services[name]
        model = service.store.outbox_model
        query = select(model).order_by(model.position)
        if message_type:
            query = query.where(model.message_type == message_type)
        async with service.store.db.sessions() as session:
            return [json.loads(row.body) for row in (await session.execute(query)).scalars()]

    async def close(self) -> None:
        for service in self.services.values():
            await service.store.db.dispose()


async def open_system(
    data_dir: Path, database_urls: Mapping[str, str] | None = None, names: tuple[str, ...] = SERVICES
) -> InProcessSystem:
    """Build the services with their real bootstrap and migrate their databases (SQLite in `data_dir` unless
    `database_urls` gives one per service). Background jobs (relay, timers, mail sender) are not started."""
    urls = {f"{name}_database_url": url for name, url in (database_urls or {}).items()}
    settings = Settings(
        werkplaatsen_data_dir=data_dir,
        werkplaatsen_secret_key=SECRET,
        werkplaatsen_organizer_token=ORGANIZER_TOKEN,
        werkplaatsen_public_url="http://wp.example.nl",
        **urls,
    )
    services = {}
    for name in names:
        service = importlib.import_module(f"services.{name}.bootstrap").build(settings, RecordingTransport())
        await migrate(service.store.db, service.migrations, name)
        for hook in service.on_start:  # what the runtime does once the store is migrated (reporting's name key)
            await hook()
        services[name] = service
    return InProcessSystem(services, settings)


async def forward(system: InProcessSystem, producer: str, message_type: str, to: tuple[str, ...]) -> int:
    """Deliver the events `producer` committed of one type to the services that consume them (as the broker
    would); returns how many deliveries were acked."""
    acked = 0
    for event in await system.outbox(producer, message_type):
        for name in to:
            service = system.services[name]
            key = f"{producer}.{message_type}"
            if key not in service.consumers:
                continue
            verdict = await system.deliver(
                Incoming(
                    body=json.dumps(event).encode(),
                    routing_key=key,
                    message_id=event["event_id"],
                    message_type=message_type,
                ),
                service,
            )
            acked += verdict.action == "ack"
    return acked


async def prepare_targets(system: InProcessSystem, trios: int = 4) -> Targets:
    """An edition open for registration with a few trios in it, and one whose first session was held, so
    variants of valid commands reach the handlers' writes and not only their lookups."""
    from tests import factories

    open_edition, held_edition = factories.open_edition(), factories.held_edition()
    for body in (open_edition, held_edition):
        outcome = await system.command(
            Incoming(
                body=json.dumps(factories.by_organiser("scheduling.ScheduleEdition", body)).encode(),
                routing_key="scheduling.ScheduleEdition",
                message_id=str(uuid.uuid4()),
                message_type="ScheduleEdition",
            )
        )
        assert outcome.reply is not None and outcome.reply.status == "accepted", outcome.reply
    await forward(system, "scheduling", "EditionScheduled", ("registration", "notifications", "reporting"))
    ids = []
    for _ in range(trios):
        outcome = await system.command(
            Incoming(
                body=json.dumps(factories.trio(open_edition["edition"])).encode(),
                routing_key="registration.RegisterTrio",
                message_id=str(uuid.uuid4()),
                message_type="RegisterTrio",
            )
        )
        assert outcome.reply is not None and outcome.reply.status == "accepted", outcome.reply
        ids.append(outcome.reply.ids["registration_id"])
    return Targets(
        open_edition=open_edition["edition"], held_edition=held_edition["edition"], registration_ids=tuple(ids)
    )
