"""Background jobs that do some work now and then (a timer, a retention sweep)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sized
from datetime import datetime
from typing import Any

import structlog

log = structlog.get_logger()

Job = Callable[[], Coroutine[Any, Any, None]]


def every(
    interval_seconds: float,
    work: Callable[[datetime], Awaitable[Sized]],
    clock: Callable[[], datetime],
    *,
    name: str,
    done: str,
    failed: str,
) -> Job:
    """`work` now and then, given the clock's time; logs how many it handled (`done`) or why it could not
    (`failed`). A failure never ends the job: the database may be away for a while and the next round catches up."""

    async def job() -> None:
        while True:
            try:
                handled = await work(clock())
                if handled:
                    log.info(done, count=len(handled))
            except Exception as exc:
                log.warning(failed, error=str(exc)[:300])
            await asyncio.sleep(interval_seconds)

    job.__name__ = job.__qualname__ = name  # the task's name in the runtime and in logs
    return job
