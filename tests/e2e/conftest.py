"""All four services as separate processes on real RabbitMQ and PostgreSQL, and a real SMTP server."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from shared.settings import SERVICES
from tests.support import Bus, ServiceEnv, ServiceProcess, amqp_url, running, strong_secret

ORGANIZER_TOKEN = strong_secret("e2e-organizer-token")


@dataclass
class System:
    vhost: str
    smtp_url: str
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.processes[name]

    @property
    def amqp_url(self) -> str:
        return amqp_url(self.vhost)


@pytest.fixture(scope="module")
async def system(real_services, tmp_path_factory):  # noqa: ANN201
    logs = tmp_path_factory.mktemp("logs")
    async with ServiceEnv("e2e", tmp_path_factory.mktemp("data"), strong_secret("e2e-secret"), ORGANIZER_TOKEN) as env:
        system = System(vhost=env.vhost, smtp_url=env.smtp_url)
        system.smtp = env.smtp  # type: ignore[attr-defined]
        for name in SERVICES:
            system.processes[name] = env.process(name, logs / f"{name}.log")
        async with running(*system.processes.values()):
            yield system


@pytest.fixture
async def bus(system):  # noqa: ANN201
    async with Bus(system.amqp_url) as bus:
        yield bus
