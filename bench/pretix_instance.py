"""One pretix for `bench.pretix`: its own PostgreSQL database, migrated and provisioned, served by gunicorn.

pretix runs from .venv-pretix (scripts/pretix-setup), never imported here: its Django would meet the project's
dependencies. Everything in pretix's own interpreter (the provisioning snippet, gunicorn's hooks) is text handed
to that interpreter.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.system import SmtpServer
from tests.support import PG_ADMIN_DSN, create_database, drop_database, free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-pretix"
SETUP = ROOT / "scripts" / "pretix-setup"
WORKERS = 2

CONFIG = """\
[pretix]
instance_name=bench
url={url}
currency=EUR
datadir={datadir}

[django]
secret={secret}
debug=off

[database]
backend=postgresql
name={database}
user=postgres
host=127.0.0.1
port=5432

[mail]
from=tickets@bench.invalid
host=127.0.0.1
port={smtp_port}
"""
# No [celery] section: pretix then runs its tasks (mails among them) eagerly, in the web process that placed the
# order. No [redis] either: the cache is Django's dummy cache, as in the comparison issue 19 describes.

# An organizer, an event whose every attendee gets the order mail, a free personalised product with a quota, and a
# team API token; printed as JSON for the bench.
PROVISION = """\
import json, sys
from datetime import timedelta
from decimal import Decimal

import django

django.setup()
from django.utils.timezone import now
from django_scopes import scopes_disabled

from pretix.base.models import Event, Item, Organizer, Team

with scopes_disabled():
    organizer = Organizer.objects.create(name="Platform31", slug="platform31")
    event = Event.objects.create(
        organizer=organizer, name="Werkplaats", slug="werkplaats", currency="EUR",
        date_from=now() + timedelta(days=30), live=True,
    )
    event.set_defaults()
    event.settings.attendee_names_asked = True
    event.settings.attendee_emails_asked = True
    event.settings.mail_send_order_free_attendee = True
    event.settings.mail_send_order_placed_attendee = True
    item = Item.objects.create(
        event=event, name="Deelname", default_price=Decimal("0.00"), admission=True, personalized=True
    )
    quota = event.quotas.create(name="Plaatsen", size=int(sys.argv[1]))
    quota.items.add(item)
    team = Team.objects.create(
        organizer=organizer, name="Bench", all_events=True, all_event_permissions=True,
        all_organizer_permissions=True,
    )
    token = team.tokens.create(name="bench")
    print(json.dumps({"organizer": organizer.slug, "event": event.slug, "item": item.pk, "token": token.token}))
"""

# gunicorn's config file: each worker counts the SQL statements Django executes (an execute wrapper on every
# connection it opens) and writes the running total to <BENCH_SQL_COUNTS>/<pid> five times a second, which costs
# far less than PostgreSQL logging every statement would.
GUNICORN_CONFIG = """\
import os, threading, time

def post_worker_init(worker):
    from django.db import connections
    from django.db.backends.signals import connection_created

    count = [0]

    def counting(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    def wrap(connection):
        if counting not in connection.execute_wrappers:
            connection.execute_wrappers.append(counting)

    connection_created.connect(lambda sender, connection, **kwargs: wrap(connection), weak=False)
    for connection in connections.all(initialized_only=True):
        wrap(connection)
    path = os.path.join(os.environ["BENCH_SQL_COUNTS"], str(os.getpid()))

    def flush():
        while True:
            with open(path + ".tmp", "w") as handle:
                handle.write(str(count[0]))
            os.replace(path + ".tmp", path)
            time.sleep(0.2)

    threading.Thread(target=flush, daemon=True).start()
"""


@dataclass
class Pretix:
    workdir: Path
    smtp: SmtpServer
    port: int = field(default_factory=free_port)
    database: str = ""
    api: dict[str, Any] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    migrate_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def orders_url(self) -> str:
        return f"{self.url}/api/v1/organizers/{self.api['organizer']}/events/{self.api['event']}/orders/"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.api['token']}"}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PRETIX_CONFIG_FILE"] = str(self.workdir / "pretix.cfg")
        env["DJANGO_SETTINGS_MODULE"] = "pretix.settings"
        env["BENCH_SQL_COUNTS"] = str(self.workdir / "sql-counts")
        return env

    async def start(self, capacity: int) -> Pretix:
        await asyncio.to_thread(subprocess.run, [str(SETUP)], check=True)
        self.database = await create_database("pretix")
        for directory in ("data", "sql-counts"):
            (self.workdir / directory).mkdir(parents=True, exist_ok=True)
        (self.workdir / "pretix.cfg").write_text(
            CONFIG.format(
                url=self.url,
                datadir=self.workdir / "data",
                secret=os.urandom(24).hex(),
                database=self.database,
                smtp_port=self.smtp.port,
            ),
            encoding="utf-8",
        )
        (self.workdir / "gunicorn.conf.py").write_text(GUNICORN_CONFIG, encoding="utf-8")
        started = asyncio.get_running_loop().time()
        await self._run("migrate", "-m", "pretix", "migrate")
        self.migrate_seconds = round(asyncio.get_running_loop().time() - started, 1)
        self.api = json.loads((await self._run("provision", "-c", PROVISION, str(capacity))).splitlines()[-1])
        self.process = subprocess.Popen(
            [
                str(VENV / "bin" / "gunicorn"),
                "pretix.wsgi",
                "--config",
                str(self.workdir / "gunicorn.conf.py"),
                "--workers",
                str(WORKERS),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--no-control-socket",
            ],
            env=self.env(),
            cwd=self.workdir,
            stdout=(self.workdir / "gunicorn.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        await wait_until(self._ready, timeout=120, interval=0.3, what="pretix's API")
        return self

    async def _run(self, label: str, *args: str) -> str:
        log = self.workdir / f"{label}.log"
        done = await asyncio.to_thread(
            subprocess.run, [str(VENV / "bin" / "python"), *args], env=self.env(), cwd=self.workdir, capture_output=True
        )
        log.write_bytes(done.stdout + done.stderr)
        if done.returncode:
            raise RuntimeError(f"pretix {label} failed ({done.returncode}); see {log}")
        return done.stdout.decode()

    async def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.workdir / 'gunicorn.log'}")
        try:
            async with httpx.AsyncClient() as client:
                response = await client.get(f"{self.url}/api/v1/organizers/", headers=self.headers, timeout=5)
                return response.status_code == 200
        except httpx.HTTPError:
            return False

    def version(self) -> str:
        return subprocess.run(
            [str(VENV / "bin" / "python"), "-c", "import pretix; print(pretix.__version__)"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def workers(self) -> list[int]:
        assert self.process is not None
        pid = self.process.pid
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def gunicorn_cpu(self) -> float:
        """Master and workers, with workers that have already exited (the master's cutime+cstime)."""
        assert self.process is not None
        total = sum(_cpu(pid)[0] for pid in self.workers())
        own, children = _cpu(self.process.pid)
        return total + own + children

    def peak_rss_mb(self) -> dict[str, float]:
        peaks = {}
        for n, pid in enumerate(self.workers(), start=1):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[f"worker-{n}"] = round(int(line.split()[1]) / 1024, 1)
        return peaks

    def postgres_cpu(self) -> tuple[float, dict[int, float]]:
        """Every PostgreSQL process (with the postmaster's exited children), and apart from that the backends
        connected to pretix's database by pid: the first includes whatever else the shared server does."""
        processes = _postgres_processes()
        total, own = 0.0, {}
        for pid, (ppid, cmdline) in processes.items():
            try:
                cpu, children = _cpu(pid)
            except (FileNotFoundError, ProcessLookupError):
                continue  # ended between the listing and the reading
            total += cpu + (children if ppid not in processes else 0.0)
            if self.database in cmdline.split():
                own[pid] = cpu
        return total, own

    def sql_statements(self) -> int:
        return sum(int(p.read_text() or 0) for p in (self.workdir / "sql-counts").iterdir() if p.suffix != ".tmp")

    async def transactions(self) -> int:
        connection = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await connection.execute("SELECT pg_stat_clear_snapshot()")
            value = await connection.fetchval(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", self.database
            )
            return int(value or 0)
        finally:
            await connection.close()

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, 30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait, 10)
        if self.database:
            await drop_database(self.database)


def _cpu(pid: int) -> tuple[float, float]:
    """(utime+stime, cutime+cstime) in seconds: fields 14-17 of /proc/<pid>/stat, counted after the command name."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def _postgres_processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process whose command is postgres."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if stat[stat.index("(") + 1 : stat.rindex(")")] != "postgres":
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            found[int(entry.name)] = (ppid, (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return found
