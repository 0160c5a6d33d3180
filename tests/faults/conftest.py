"""The four services as processes whose broker and database connections run through proxies the test can cut.

Built on tests/e2e/conftest.py (System) and tests/support.py (ServiceEnv). Only the services go through the proxies:
the test's own Bus and the SMTP server talk to RabbitMQ and to the services directly, so they see what happens
during a cut. The shared RabbitMQ and PostgreSQL servers are never stopped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shared.settings import SERVICES
from tests.e2e.conftest import ORGANIZER_TOKEN, System
from tests.support import AMQP_HOST, Bus, ServiceEnv, ServiceProcess, SmtpSink, TcpProxy, strong_secret

__all__ = ["ORGANIZER_TOKEN", "FaultySystem"]


@dataclass
class FaultySystem(System):
    env: ServiceEnv | None = None
    broker: TcpProxy = field(default_factory=lambda: TcpProxy(5672, AMQP_HOST))
    database: TcpProxy = field(default_factory=lambda: TcpProxy(5432))
    logs: Path = Path()
    # Every process of each service, the first one (also in `processes`) included.
    replicas: dict[str, list[ServiceProcess]] = field(default_factory=dict)

    @property
    def smtp(self) -> SmtpSink:
        assert self.env is not None and self.env.smtp is not None
        return self.env.smtp

    def add(self, name: str) -> ServiceProcess:
        """Start one more process of a service (not waiting for it): a second one is a replica."""
        assert self.env is not None
        number = len(self.replicas.setdefault(name, [])) + 1
        process = self.env.process(name, self.logs / f"{name}-{number}.log")
        process.start()
        self.replicas[name].append(process)
        self.processes.setdefault(name, process)
        return process

    def all_processes(self) -> list[ServiceProcess]:
        return [p for processes in self.replicas.values() for p in processes]

    async def stop(self) -> None:
        # In threads: a stopping service still talks through the proxies, which run on this event loop.
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in self.all_processes()))


@pytest.fixture(scope="module")
async def faulty_system(real_services, tmp_path_factory):  # noqa: ANN202
    broker, database = TcpProxy(5672, AMQP_HOST), TcpProxy(5432)
    async with ServiceEnv(
        "faults",
        tmp_path_factory.mktemp("fault-data"),
        strong_secret("faults-secret"),
        ORGANIZER_TOKEN,
        broker_host="127.0.0.1",
        broker_port=broker.port,
        database_port=database.port,
    ) as env:
        system = FaultySystem(
            vhost=env.vhost,
            smtp_url=env.smtp_url,
            env=env,
            broker=broker,
            database=database,
            logs=tmp_path_factory.mktemp("fault-logs"),
        )
        try:
            await system.broker.start()
            await system.database.start()
            for name in SERVICES:
                system.add(name)
            for process in system.all_processes():
                await process.wait_ready()
            yield system
        finally:
            await system.stop()
            await system.broker.cut()
            await system.database.cut()


@pytest.fixture
async def bus(faulty_system):  # noqa: ANN202
    async with Bus(faulty_system.amqp_url) as bus:
        yield bus
