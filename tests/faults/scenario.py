"""One fault during a stream of registrations: drive, inject, wait for recovery, count, write the figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.faults.conftest import FaultySystem
from tests.faults.stream import (
    MAX_TRIOS,
    Books,
    Readiness,
    Stream,
    edition_body,
    mails_pending,
    outbox_pending,
    queue_depths,
    record,
    service_views,
)
from tests.support import Bus, ServiceProcess, wait_until

RECOVERY_TIMEOUT = 120.0  # every trio final and mailed, after the last fault is removed
SETTLE_TIMEOUT = 60.0  # then queues, outboxes and pending mails empty


@dataclass
class Episode:
    """One fault: what it hit, when it began and when it was removed (restart, restore)."""

    what: str
    processes: list[ServiceProcess]
    began: float = 0.0
    removed: float = 0.0
    in_flight: list[str] = field(default_factory=list)  # command_ids of trios not yet complete when it began
    queued: int = 0  # messages in the service queues when it began (sampled within a second of it)
    completed_before: int = 0
    survivors: list[ServiceProcess] = field(default_factory=list)  # replicas that stay up beside those hit


@dataclass
class Outcome:
    stream: Stream
    books: Books
    views: dict[str, Any]
    episodes: list[Episode]
    readiness: Readiness
    complete: bool
    settled: bool
    dead_letters: int
    figures: dict[str, Any]


class Faults:
    """Handed to a test's fault: starts episodes with their in-flight figures taken."""

    def __init__(self, system: FaultySystem, stream: Stream) -> None:
        self.system, self.stream = system, stream
        self.episodes: list[Episode] = []
        self._depths: list[asyncio.Task[dict[str, int]]] = []

    async def begin(
        self, what: str, processes: list[ServiceProcess], inject: Callable[[], Awaitable[None] | None]
    ) -> Episode:
        snapshot = self.stream.snapshot()
        episode = Episode(
            what,
            processes,
            began=time.monotonic(),
            in_flight=snapshot["in_flight"],
            completed_before=snapshot["complete"],
        )
        # Sampled in a thread while the fault goes on (rabbitmqctl takes about a second).
        self._depths.append(asyncio.create_task(asyncio.to_thread(queue_depths, self.system.vhost)))
        injected = inject()
        if injected is not None:
            await injected
        self.episodes.append(episode)
        return episode

    async def count_queued(self) -> None:
        for episode, depths in zip(self.episodes, self._depths, strict=True):
            episode.queued = sum(n for q, n in (await depths).items() if not q.endswith(".dlq"))

    @staticmethod
    def removed(episode: Episode) -> None:
        episode.removed = time.monotonic()


async def wait_until_progress(stream: Stream, trios: int) -> None:
    """Let the stream get under way (trios sent) so the next fault lands in the middle of it."""
    await wait_until(lambda: len(stream.sent) >= trios, timeout=120, what=f"{trios} trios sent")


async def through_fault(
    system: FaultySystem,
    bus: Bus,
    name: str,
    base: Path,
    fault: Callable[[Faults], Awaitable[None]],
    *,
    minimum: int = 24,
    maximum: int = 40,
    interval: float = 0.4,
    watched: list[ServiceProcess] | None = None,
) -> Outcome:
    slug = await schedule(bus)
    stream = Stream(bus, system.smtp, slug, interval)
    readiness = Readiness(watched or system.all_processes())
    try:
        await stream.start()
        readiness.start()
        sending = asyncio.create_task(stream.send(minimum, maximum))
        faults = Faults(system, stream)
        try:
            await fault(faults)
        finally:
            stream.enough()
            await sending
            await faults.count_queued()
        complete = await stream.wait_complete(RECOVERY_TIMEOUT)
        settled = await settle(system, stream)
        books = stream.books()
        depths = await asyncio.to_thread(queue_depths, system.vhost)
        dead_letters = sum(n for q, n in depths.items() if q.endswith(".dlq"))
        views = await service_views(stream, *(alive(system, n) for n in ("scheduling", "registration", "reporting")))
    finally:
        await readiness.stop()
        await stream.stop()
    figures = summarise(stream, books, views, faults.episodes, readiness, dead_letters, complete, settled)
    record(name, figures, base)
    return Outcome(stream, books, views, faults.episodes, readiness, complete, settled, dead_letters, figures)


async def schedule(bus: Bus) -> str:
    command_id = await bus.send("scheduling.ScheduleEdition", edition_body())
    outcome = await wait_until(
        lambda: (
            bus.of("EditionScheduled", correlation_id=command_id)
            or bus.of("CommandRejected", correlation_id=command_id)
        ),
        what="ScheduleEdition outcome",
    )
    assert outcome[0]["type"] == "EditionScheduled", outcome[0]["data"]
    return outcome[0]["data"]["edition"]


def alive(system: FaultySystem, name: str) -> ServiceProcess:
    return next(p for p in system.replicas[name] if p.process is not None and p.process.poll() is None)


async def settle(system: FaultySystem, stream: Stream) -> bool:
    """Nothing left that could still arrive late: service and retry queues, outboxes and pending mails empty."""
    rids = list(stream.books().registration_ids.values())
    live = [p for p in system.all_processes() if p.process is not None and p.process.poll() is None]

    async def quiet() -> bool:
        depths = await asyncio.to_thread(queue_depths, system.vhost)
        if any(n for q, n in depths.items() if not q.endswith(".dlq")):
            return False
        if any([await outbox_pending(p) for p in live]):
            return False
        return await mails_pending(alive(system, "notifications"), rids) == 0

    try:
        await wait_until(quiet, timeout=SETTLE_TIMEOUT, interval=1.0, what="queues, outboxes and mails empty")
        return True
    except AssertionError:
        return False


def summarise(
    stream: Stream,
    books: Books,
    views: dict[str, Any],
    episodes: list[Episode],
    readiness: Readiness,
    dead_letters: int,
    complete: bool,
    settled: bool,
) -> dict[str, Any]:
    placed = sum(1 for s in books.final.values() if s == "placed")
    return {
        "trios": len(stream.sent),
        "placed": placed,
        "waitlisted": len(books.final) - placed,
        "capacity": MAX_TRIOS,
        "mails": books.mails,
        "events": books.events,
        "complete": complete,
        "settled": settled,
        "lost": {
            "registrations": len(stream.sent) - len(books.final),
            "events": len(books.missing_events),
            "mails": len(books.missing_mails),
            "dead_letters": dead_letters,
        },
        "duplicated": {
            "facts": len(books.duplicate_facts),
            "mails": len(books.duplicate_mails) + len(books.unexpected_mails),
        },
        "uncorrelated_outcomes": len(books.uncorrelated),
        "event_copies_absorbed": books.event_copies,
        "event_copies_by_type": books.copies_by_type,
        "episodes": [episode_figures(stream, e, readiness) for e in episodes],
        "details": {
            "missing_events": books.missing_events[:20],
            "missing_mails": books.missing_mails[:20],
            "duplicate_facts": books.duplicate_facts[:20],
            "duplicate_mails": books.duplicate_mails[:20],
            "unexpected_mails": stream.describe(books.unexpected_mails[:20]),
            "uncorrelated_outcomes": books.uncorrelated[:20],
            "disagreeing_services": disagreements(books, views)[:20],
        },
    }


def episode_figures(stream: Stream, episode: Episode, readiness: Readiness) -> dict[str, Any]:
    ready = [readiness.ready_again(p, episode.removed) for p in episode.processes]
    back = max(ready) - episode.removed if all(r is not None for r in ready) else None  # type: ignore[type-var]
    done = [stream.completed_at.get(c) for c in episode.in_flight]
    caught_up: float | None = 0.0
    if any(d is None for d in done):
        caught_up = None
    elif done:
        caught_up = max(0.0, max(d for d in done if d is not None) - episode.removed)
    figures: dict[str, Any] = {
        "what": episode.what,
        "trios_in_flight": len(episode.in_flight),
        "messages_queued": episode.queued,
        "outage_s": round(episode.removed - episode.began, 2),
        "not_ready_samples": sum(
            readiness.not_ready_between(p, episode.began, episode.removed + (back or 0) + 1) for p in episode.processes
        ),
        "ready_after_s": None if back is None else round(max(back, 0.0), 2),
        "caught_up_after_s": None if caught_up is None else round(caught_up, 2),
    }
    if episode.survivors:
        figures["survivors_not_ready_samples"] = sum(
            readiness.not_ready_between(p, episode.began, float("inf")) for p in episode.survivors
        )
    return figures


def disagreements(books: Books, views: dict[str, Any]) -> list[str]:
    """Registrations whose final state a service sees differently from the events."""
    found = []
    for rid, state in books.final.items():
        for service, seen in views.items():
            if seen.get(rid) != state:
                found.append(f"{service}: {rid} {seen.get(rid)} != {state}")
    return found


def assert_nothing_lost_or_duplicated(outcome: Outcome) -> None:
    figures, books, views = outcome.figures, outcome.books, outcome.views
    details = figures["details"]
    assert outcome.complete, f"not every registration reached its final state and mails: {details}"
    assert figures["lost"] == {"registrations": 0, "events": 0, "mails": 0, "dead_letters": 0}, details
    assert figures["duplicated"] == {"facts": 0, "mails": 0}, details
    assert outcome.settled, "queues, outboxes or pending mails did not empty"
    assert details["disagreeing_services"] == []
    # The contract: a command without correlation_id correlates its outcome by its message_id, retried or not.
    assert figures["uncorrelated_outcomes"] == 0, details["uncorrelated_outcomes"]
    # Oversubscribed: every place is taken, none twice, and no service counts more places than there are.
    assert figures["placed"] == MAX_TRIOS < figures["trios"]
    for service, seen in views.items():
        assert sum(1 for s in seen.values() if s == "placed") == MAX_TRIOS, service
    assert len(books.final) == figures["trios"]


def assert_outage_reported(outcome: Outcome) -> None:
    """Each process a fault hit answered /ready with not-ready during it, and ready again afterwards."""
    for episode, figures in zip(outcome.episodes, outcome.figures["episodes"], strict=True):
        for process in episode.processes:
            back = outcome.readiness.ready_again(process, episode.removed)
            assert back is not None, f"{episode.what}: {process.name} on :{process.port} never ready again"
            assert outcome.readiness.not_ready_between(process, episode.began, back) > 0, (
                f"{episode.what}: {process.name} on :{process.port} never reported the outage on /ready"
            )
        assert figures["ready_after_s"] is not None
