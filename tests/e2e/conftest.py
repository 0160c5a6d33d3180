"""All four services as separate processes on real RabbitMQ and PostgreSQL, and a real SMTP server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from shared.settings import SERVICES
from tests.support import (
    Bus,
    amqp_url,
    create_database,
    database_url,
    drop_database,
    free_port,
    wait_until,
)

ORGANIZER_TOKEN = "e2e-organizer-token"


class ChildProcess:
    """A program the tests run as a process of its own, with its output in `log`: started, killed with SIGKILL (a
    crash), or stopped with SIGTERM (a graceful stop, SIGKILL after 20 s)."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.process = subprocess.Popen(self.command(), env=self.env, stdout=self.log.open("ab"),
                                        stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@dataclass
class ServiceProcess(ChildProcess):
    name: str
    env: dict[str, str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "services", "run", self.name, "--port", str(self.port), "--host", "127.0.0.1"]

    async def wait_ready(self, timeout: float = 60) -> None:
        async def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}; log: {self.log.read_text()[-3000:]}")
            try:
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"{self.url}/ready", timeout=2)).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_until(ready, timeout=timeout, interval=0.2, what=f"{self.name} /ready")


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
async def system(real_services, tmp_path_factory):  # noqa: ANN001, ANN201
    from tests.support import SmtpSink, create_vhost, delete_vhost

    smtp = SmtpSink().start()
    vhost = create_vhost()
    databases = {name: await create_database(f"e2e_{name}") for name in SERVICES}
    logs = tmp_path_factory.mktemp("logs")
    base_env = {
        **os.environ,
        "WERKPLAATSEN_BROKER_URL": amqp_url(vhost),
        "WERKPLAATSEN_SMTP_URL": smtp.url,
        "WERKPLAATSEN_SECRET_KEY": "e2e-secret",
        "WERKPLAATSEN_ORGANIZER_TOKEN": ORGANIZER_TOKEN,
        "WERKPLAATSEN_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "WERKPLAATSEN_LOG_FORMAT": "json",
    }
    system = System(vhost=vhost, smtp_url=smtp.url)
    system.smtp = smtp  # type: ignore[attr-defined]
    for name in SERVICES:
        port = free_port()
        env = {**base_env, f"{name.upper()}_DATABASE_URL": database_url(databases[name]),
               "WERKPLAATSEN_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        system.processes[name] = ServiceProcess(name, env, port, logs / f"{name}.log")
    # Reporting builds public URLs: point them at its own port.
    for process in system.processes.values():
        process.start()
    try:
        for process in system.processes.values():
            await process.wait_ready()
        yield system
    finally:
        for process in system.processes.values():
            process.stop()
        smtp.stop()
        delete_vhost(vhost)
        for name in databases.values():
            await drop_database(name)


@pytest.fixture
async def bus(system):  # noqa: ANN001, ANN201
    async with Bus(system.amqp_url) as bus:
        yield bus
