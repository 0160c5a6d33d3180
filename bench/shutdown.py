"""Graceful shutdown under a backlog: notifications alone, behind a slow SMTP server, with thousands of mails
queued; SIGTERM, and the seconds until the process has exited."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.replicas import Raw, alone, republish, stop
from bench.scenarios import MAILS_PER_TRIO
from tests.support import wait_until

PATIENCE_SECONDS = 60.0  # how long the bench waits for the exit before it kills the process


async def under_backlog(
    workdir: Path, events: list[Raw], editions: list[Raw], latency_ms: float, timeout: float
) -> dict[str, Any]:
    """Stops it once half of the events' mails are queued (the rest still arriving), or every event is consumed."""
    system = await alone(workdir / "shutdown", "notifications", latency_ms=latency_ms)
    try:
        await republish(system.amqp_url, editions)
        await wait_until(system.deliveries, timeout=timeout, what="EditionScheduled consumed")
        await republish(system.amqp_url, events)
        backlog = MAILS_PER_TRIO * len(events) // 2
        consumed = len(editions) + len(events)

        async def backlogged() -> bool:
            return await system.pending_mails() >= backlog or await system.deliveries() >= consumed

        await wait_until(backlogged, timeout=timeout, interval=0.2, what="a backlog of mails")
        process = system.processes[0].process
        assert process is not None
        waiting = await system.pending_mails()
        sent_before = len(system.smtp.poll())
        stopping = time.time()
        process.send_signal(signal.SIGTERM)
        exited = await asyncio.to_thread(wait_for_exit, process, PATIENCE_SECONDS)
        seconds = time.time() - stopping
        return {
            "smtp_latency_ms": latency_ms,
            "mails_waiting": waiting,
            "seconds_to_exit": round(seconds, 3) if exited else None,
            "exited": exited,
            # uvicorn re-raises the SIGTERM it handled once it is done (exit code -15): the log says how it ended.
            "exit_code": process.returncode,
            "stopped_cleanly": '"service_stopped"' in system.processes[0].log.read_text(),
            "mails_sent_while_stopping": len(system.smtp.poll()) - sent_before,
        }
    finally:
        await stop(system)


def wait_for_exit(process: subprocess.Popen[bytes], patience: float) -> bool:
    try:
        process.wait(patience)
    except subprocess.TimeoutExpired:
        return False
    return True
