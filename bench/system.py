"""The system under test: fresh databases and vhost, a SMTP server process and the services as processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from shared.settings import SERVICES
from tests.support import ServiceEnv, ServiceProcess, amqp_url, database_url, free_port, strong_secret, wait_until

ORGANIZER_TOKEN = strong_secret("bench-organizer-token")
_MESSAGES = re.compile(r"^werkplaatsen_messages_total\{[^}]*\}\s+([0-9.e+]+)$", re.MULTILINE)
_STATEMENTS = re.compile(r"^werkplaatsen_sql_statements_total\{[^}]*\}\s+([0-9.e+]+)$", re.MULTILINE)


@dataclass
class SmtpServer:
    """`bench.smtp_server` in a process of its own; mails are read back from its JSON-lines log."""

    log: Path
    latency_ms: float = 0.0
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _offset: int = 0
    mails: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def start(self) -> SmtpServer:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.smtp_server",
                "--port",
                str(self.port),
                "--log",
                str(self.log),
                "--latency-ms",
                str(self.latency_ms),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await wait_until(self._listening, timeout=20, what="SMTP server")
        return self

    def _listening(self) -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def poll(self) -> list[dict[str, Any]]:
        """Read mails that arrived since the last call (whole lines only)."""
        with self.log.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.splitlines():
            self.mails.append(json.loads(line))
        return self.mails

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class System:
    workdir: Path
    smtp: SmtpServer
    services: tuple[str, ...] = SERVICES
    extra_env: dict[str, str] = field(default_factory=dict)
    env: ServiceEnv | None = None
    processes: list[ServiceProcess] = field(default_factory=list)

    @property
    def vhost(self) -> str:
        return self.env.vhost if self.env else ""

    @property
    def databases(self) -> dict[str, str]:
        return self.env.databases if self.env else {}

    @property
    def amqp_url(self) -> str:
        return amqp_url(self.vhost)

    async def start(self) -> System:
        # The benchmark's own SMTP server (its own process), so the ServiceEnv starts none.
        self.env = ServiceEnv(
            "bench",
            self.workdir / "data",
            strong_secret("bench-secret"),
            ORGANIZER_TOKEN,
            services=self.services,
            extra=self.extra_env,
            smtp_url=self.smtp.url,
        )
        await self.env.start()
        # All at once (each migrates its own store), then each waited for; replicas are added later (`add`).
        started = [self._spawn(name) for name in self.services]
        for process in started:
            await process.wait_ready()
        return self

    async def add(self, name: str) -> ServiceProcess:
        """Start one (more) process of a service; a second one of the same name is a replica."""
        process = self._spawn(name)
        await process.wait_ready()
        return process

    def _spawn(self, name: str) -> ServiceProcess:
        assert self.env is not None
        replica = sum(p.name == name for p in self.processes) + 1
        process = self.env.process(name, self.workdir / f"{name}-{replica}.log")
        process.start()
        self.processes.append(process)
        return process

    async def deliveries(self) -> float:
        """Messages the services consumed so far: the sum of their `werkplaatsen_messages_total`."""
        return sum((await self.counters())[0].values())

    async def counters(self) -> tuple[dict[str, float], dict[str, float]]:
        """Per process: messages consumed so far (`werkplaatsen_messages_total`) and SQL statements sent
        (`werkplaatsen_sql_statements_total`), each summed over its labels."""
        messages: dict[str, float] = {}
        statements: dict[str, float] = {}
        async with httpx.AsyncClient() as client:
            for process in self.processes:
                text = (await client.get(f"{process.url}/metrics", timeout=10)).text
                messages[_label(process)] = sum(float(v) for v in _MESSAGES.findall(text))
                statements[_label(process)] = sum(float(v) for v in _STATEMENTS.findall(text))
        return messages, statements

    async def idle(self) -> bool:
        """Nothing left to do: no row in any service's outbox (a publish that failed waits there for its lease to
        end), every queue of the vhost empty (ready and unacknowledged) and no mail waiting to be sent."""
        try:
            for name in self.databases:
                if await self._count(name, "SELECT count(*) FROM outbox"):
                    return False
            listing = await asyncio.create_subprocess_exec(
                *("rabbitmqctl", "-q", "list_queues", "-p", self.vhost, "messages"),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            out, _ = await listing.communicate()
            if listing.returncode != 0:
                raise RuntimeError(f"rabbitmqctl list_queues failed ({listing.returncode})")
            if any(q.isdigit() and int(q) > 0 for q in out.decode().split()):
                return False
            return "notifications" not in self.databases or await self.pending_mails() == 0
        except asyncpg.TooManyConnectionsError:
            return False  # the shared server is full for a moment (other sessions' tests): ask again

    async def pending_mails(self) -> int:
        """Mails notifications has queued and not yet sent."""
        return await self._count("notifications", "SELECT count(*) FROM mails WHERE status = 'pending'")

    async def _count(self, service: str, query: str) -> int:
        connection = await asyncpg.connect(database_url(self.databases[service]).replace("+asyncpg", ""))
        try:
            return int(await connection.fetchval(query))
        finally:
            await connection.close()

    def peak_rss_mb(self) -> dict[str, float]:
        """VmHWM of each process, in MB (replicas get a -2, -3 suffix)."""
        peaks: dict[str, float] = {}
        for process in self.processes:
            assert process.process is not None
            peaks[_label(process)] = _vm_hwm_mb(process.process.pid)
        return peaks

    def profile(self, directory: Path) -> list[subprocess.Popen[bytes]]:
        """py-spy on every service process (collapsed stacks in <directory>/<service>.txt) until `end_profile`."""
        directory.mkdir(parents=True, exist_ok=True)
        return [
            subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "--pid",
                    str(process.process.pid),
                    "--output",
                    str(directory / f"{_label(process)}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for process in self.processes
            if process.process
        ]

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU time each process has used so far (less sensitive to other load than wall clock)."""
        return {
            _label(process): _cpu_seconds(process.process.pid)
            for process in self.processes
            if process.process is not None
        }

    async def stop(self) -> None:
        # All told at once, then each waited for (a second SIGTERM would make uvicorn quit without its shutdown).
        running = [p.process for p in self.processes if p.process is not None and p.process.poll() is None]
        for child in running:
            child.send_signal(signal.SIGTERM)
        for child in running:
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(10)
        if self.env is not None:
            await self.env.stop()


def end_profile(profilers: list[subprocess.Popen[bytes]]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    for profiler in profilers:
        try:
            profiler.wait(30)
        except subprocess.TimeoutExpired:
            profiler.kill()


def _label(process: ServiceProcess) -> str:
    return process.log.stem if process.log.stem != f"{process.name}-1" else process.name


def cpu_per(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
    """CPU milliseconds per unit of work (a registration) of each process between two `cpu_seconds` readings."""
    per = {name: round((after[name] - before.get(name, 0.0)) * 1000 / max(count, 1), 2) for name in after}
    per["total"] = round(sum(per.values()), 2)
    return per


def _cpu_seconds(pid: int) -> float:
    # Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the command name in parentheses.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(total_kb / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
