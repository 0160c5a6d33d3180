"""The four services as processes whose broker and database connections run through proxies the test can cut.

Built on tests/e2e/conftest.py (ServiceProcess, System). Only the services go through the proxies: the test's own
Bus and the SMTP server talk to RabbitMQ and to the services directly, so they see what happens during a cut.
The shared RabbitMQ and PostgreSQL servers are never stopped.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shared.settings import SERVICES
from tests.e2e.conftest import ORGANIZER_TOKEN, ServiceProcess, System
from tests.support import (
    AMQP_HOST,
    Bus,
    SmtpSink,
    TcpProxy,
    create_database,
    create_vhost,
    delete_vhost,
    drop_database,
    free_port,
)

__all__ = ["ORGANIZER_TOKEN", "FaultySystem"]


@dataclass
class FaultySystem(System):
    smtp: SmtpSink = field(default_factory=SmtpSink)
    broker: TcpProxy = field(default_factory=lambda: TcpProxy(5672, AMQP_HOST))
    database: TcpProxy = field(default_factory=lambda: TcpProxy(5432))
    base_env: dict[str, str] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)
    logs: Path = Path()
    # Every process of each service, the first one (also in `processes`) included.
    replicas: dict[str, list[ServiceProcess]] = field(default_factory=dict)

    def env(self, name: str, port: int) -> dict[str, str]:
        return {**self.base_env, "WERKPLAATSEN_PUBLIC_URL": f"http://127.0.0.1:{port}",
                f"{name.upper()}_DATABASE_URL":
                    f"postgresql+asyncpg://postgres@127.0.0.1:{self.database.port}/{self.databases[name]}"}

    def add(self, name: str) -> ServiceProcess:
        """Start one more process of a service (not waiting for it): a second one is a replica."""
        port = free_port()
        number = len(self.replicas.setdefault(name, [])) + 1
        process = ServiceProcess(name, self.env(name, port), port, self.logs / f"{name}-{number}.log")
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
async def faulty_system(real_services, tmp_path_factory):  # noqa: ANN001, ANN201
    system = FaultySystem(vhost=create_vhost(), smtp_url="")
    system.smtp.start()
    system.smtp_url = system.smtp.url
    try:
        await system.broker.start()
        await system.database.start()
        for name in SERVICES:
            system.databases[name] = await create_database(f"faults_{name}")
        system.logs = tmp_path_factory.mktemp("fault-logs")
        system.base_env = {
            **os.environ,
            "WERKPLAATSEN_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{system.broker.port}/{system.vhost}",
            "WERKPLAATSEN_SMTP_URL": system.smtp.url,
            "WERKPLAATSEN_SECRET_KEY": "faults-secret",
            "WERKPLAATSEN_ORGANIZER_TOKEN": ORGANIZER_TOKEN,
            "WERKPLAATSEN_DATA_DIR": str(tmp_path_factory.mktemp("fault-data")),
            "WERKPLAATSEN_LOG_FORMAT": "json",
        }
        for name in SERVICES:
            system.add(name)
        for process in system.all_processes():
            await process.wait_ready()
        yield system
    finally:
        await system.stop()
        await system.broker.cut()
        await system.database.cut()
        system.smtp.stop()
        delete_vhost(system.vhost)
        for name in system.databases.values():
            await drop_database(name)


@pytest.fixture
async def bus(faulty_system):  # noqa: ANN001, ANN201
    async with Bus(faulty_system.amqp_url) as bus:
        yield bus
