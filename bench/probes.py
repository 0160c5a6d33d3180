"""What the benchmark reads besides the services' own figures: PostgreSQL's CPU from /proc and the depth of every
queue of a vhost while a phase runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name, with the name itself first; None once it exited."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    head, tail = text.rsplit(")", 1)
    return [head.split("(", 1)[1], *tail.split()]


def postgres_cpu_seconds() -> float:
    """User + system CPU of the PostgreSQL server on this machine so far: every postgres process's own, plus what
    the postmaster's reaped children (backends that have exited) used, so the sum only grows. It is the whole
    server's: other databases' load on a shared server counts too."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fields = _stat(pid)
        if fields is None or fields[0] != "postgres":
            continue
        # After the name: state(1) ppid(2) ... utime(12) stime(13) cutime(14) cstime(15).
        total += int(fields[12]) + int(fields[13])
        parent = _stat(fields[2])
        if parent is None or parent[0] != "postgres":  # the postmaster: its children's time once they are reaped
            total += int(fields[14]) + int(fields[15])
    return total / CLOCK_TICKS


def queue_names(vhost: str) -> list[str]:
    """The vhost's queues but the exclusive ones (the bench's own event listeners, which no one else may touch)."""
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "exclusive"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    rows = [line.split() for line in listing]
    return [row[0] for row in rows if len(row) == 2 and row[1] == "false"]


@dataclass
class QueueDepths:
    """Samples the ready messages of every named queue (passive declares on one channel) until stopped, and any
    other backlog `others` can count (notifications' mails waiting to be sent: a backlog no queue shows).
    Messages a consumer has prefetched but not yet acknowledged are not in a passive declare's count."""

    url: str
    names: list[str]
    others: dict[str, Callable[[], Awaitable[int]]] = field(default_factory=dict)
    interval: float = 0.5
    samples: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> QueueDepths:
        self._connection = await aio_pika.connect_robust(self.url)
        self._channel = await self._connection.channel()
        self._queues = [await self._channel.declare_queue(name, passive=True) for name in self.names]
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._connection.close()

    async def _sample(self) -> None:
        while True:
            depths = {}
            for queue in self._queues:
                declared = await queue.declare()  # passive: only reads the counts
                depths[queue.name] = declared.message_count or 0
            for name, count in self.others.items():
                depths[name] = await count()
            self.samples.append((time.time(), depths))
            await asyncio.sleep(self.interval)

    def summary(self) -> dict[str, Any]:
        """Per queue: the largest depth seen, the last, and its trend over the second half of the phase (messages
        per second, least squares); `grows` when any queue still gained more than one message a second then."""
        queues: dict[str, dict[str, float]] = {}
        half = self.samples[len(self.samples) // 2 :]
        for name in [*self.names, *self.others]:
            series = [(t, depths[name]) for t, depths in self.samples]
            queues[name] = {
                "max": max((d for _, d in series), default=0),
                "last": series[-1][1] if series else 0,
                "trend_per_s": round(slope([(t, d[name]) for t, d in half]), 2),
            }
        busiest = max(queues, key=lambda n: queues[n]["max"], default="")
        return {
            "samples": len(self.samples),
            "max_depth": queues[busiest]["max"] if busiest else 0,
            "max_depth_queue": busiest,
            "max_trend_per_s": max((q["trend_per_s"] for q in queues.values()), default=0.0),
            "grows": any(q["trend_per_s"] > 1.0 for q in queues.values()),
            "queues": {name: q for name, q in queues.items() if q["max"] > 0},
        }


def slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_d = sum(d for _, d in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (d - mean_d) for t, d in points) / spread if spread else 0.0
