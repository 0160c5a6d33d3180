"""`werkplaatsen status`: one screen for an operator.

Per service: readiness (its `/ready`), its queue (messages waiting, unacked, consumers), messages waiting in its
retry queues, its dead letters, and its outbox backlog (from its `/metrics`). Queues come from the RabbitMQ
management API when it answers (it also knows unacked messages), otherwise from passive queue declarations over
AMQP; in development (no broker URL) from the embedded broker's file.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
from prometheus_client.parser import text_string_to_metric_families

from shared.messaging.embedded import EmbeddedDeadLetters
from shared.messaging.messages import RETRY_DELAYS_SECONDS, queue_name
from shared.messaging.rabbit import dead_letter_queue_name, retry_queue_name

MANAGEMENT_PORT = 15672


@dataclass
class QueueDepth:
    messages: int | None = None  # waiting to be delivered
    unacked: int | None = None  # delivered, not yet acknowledged (management API only)
    consumers: int | None = None


@dataclass
class ServiceStatus:
    service: str
    url: str | None = None
    ready: bool | None = None  # None: not checked (no URL given)
    checks: dict[str, bool] = field(default_factory=dict)
    queue: QueueDepth = field(default_factory=QueueDepth)
    retrying: int | None = None
    dead_letters: int | None = None
    outbox: int | None = None
    outbox_oldest_seconds: float | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class Status:
    broker: str
    source: str
    services: list[ServiceStatus]

    @property
    def healthy(self) -> bool:
        return all(s.ready is not False for s in self.services)

    def as_json(self) -> str:
        return json.dumps(asdict(self) | {"healthy": self.healthy}, indent=2)


# --- HTTP: readiness and metrics of each service ------------------------------------------------------------------


def _get(url: str, timeout: float, auth: tuple[str, str] | None = None) -> tuple[int, bytes]:
    if not url.startswith(("http://", "https://")):  # urlopen would also read file:// and ftp://
        raise ValueError(f"not an http(s) URL: {url[:100]}")
    request = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 # nosec B310  # http(s) only, checked above
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


async def check_service(status: ServiceStatus, timeout: float) -> None:
    if status.url is None:
        return
    base = status.url.rstrip("/")
    try:
        code, body = await asyncio.to_thread(_get, f"{base}/ready", timeout)
        status.ready = code == 200
        answer = json.loads(body)
        status.checks = answer.get("checks", {}).get(status.service, {})
    except (OSError, ValueError) as exc:
        status.ready = False
        status.problems.append(f"/ready: {_reason(exc)}")
        return
    try:
        _, body = await asyncio.to_thread(_get, f"{base}/metrics", timeout)
        status.outbox, status.outbox_oldest_seconds = outbox_from_metrics(body.decode(), status.service)
    except (OSError, ValueError) as exc:
        status.problems.append(f"/metrics: {_reason(exc)}")


def outbox_from_metrics(text: str, service: str) -> tuple[int | None, float | None]:
    pending: int | None = None
    oldest: float | None = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("service") != service:
                continue
            if sample.name == "werkplaatsen_outbox_pending":
                pending = int(sample.value)
            elif sample.name == "werkplaatsen_outbox_oldest_age_seconds":
                oldest = float(sample.value)
    return pending, oldest


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


# --- Queues ---------------------------------------------------------------------------------------------------------


def queues_of(service: str) -> list[str]:
    retries = [retry_queue_name(service, step) for step in range(1, len(RETRY_DELAYS_SECONDS) + 1)]
    return [queue_name(service), *retries, dead_letter_queue_name(service)]


def management_url_for(broker_url: str) -> str:
    parsed = urllib.parse.urlsplit(broker_url)
    scheme = "https" if parsed.scheme == "amqps" else "http"
    return f"{scheme}://{parsed.hostname or 'localhost'}:{MANAGEMENT_PORT}"


def _vhost(broker_url: str) -> str:
    path = urllib.parse.urlsplit(broker_url).path
    return urllib.parse.unquote(path[1:]) if len(path) > 1 else "/"


def _credentials(broker_url: str) -> tuple[str, str]:
    parsed = urllib.parse.urlsplit(broker_url)
    return urllib.parse.unquote(parsed.username or "guest"), urllib.parse.unquote(parsed.password or "guest")


async def depths_from_management(broker_url: str, management_url: str, timeout: float) -> dict[str, QueueDepth]:
    vhost = urllib.parse.quote(_vhost(broker_url), safe="")
    url = (
        f"{management_url.rstrip('/')}/api/queues/{vhost}?columns=name,messages_ready,messages_unacknowledged,consumers"
    )
    code, body = await asyncio.to_thread(_get, url, timeout, _credentials(broker_url))
    if code != 200:
        raise OSError(f"management API answered {code}")
    return {
        q["name"]: QueueDepth(
            messages=q.get("messages_ready"), unacked=q.get("messages_unacknowledged"), consumers=q.get("consumers")
        )
        for q in json.loads(body)
    }


async def depths_from_amqp(broker_url: str, names: Sequence[str], timeout: float) -> dict[str, QueueDepth]:
    """Passive declarations: ready messages and consumers, no unacked count. Missing queues are left out."""
    found: dict[str, QueueDepth] = {}
    connection = await aio_pika.connect(broker_url, timeout=timeout)
    async with connection:
        channel = await connection.channel()
        for name in names:
            try:
                queue = await channel.declare_queue(name, passive=True)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                channel = await connection.channel()  # the broker closed the channel that asked
                continue
            result = queue.declaration_result
            found[name] = QueueDepth(messages=result.message_count, consumers=result.consumer_count)
    return found


async def depths_from_embedded(path: Path, service: str) -> dict[str, int]:
    try:
        async with EmbeddedDeadLetters(path, service) as letters:
            return await letters.depths()
    except LookupError:
        return {}


def apply_rabbit_depths(status: ServiceStatus, depths: Mapping[str, QueueDepth]) -> None:
    service = status.service
    status.queue = depths.get(queue_name(service), QueueDepth())
    retries = [depths[n].messages for n in queues_of(service)[1:-1] if n in depths]
    status.retrying = sum(r or 0 for r in retries) if retries else None
    dlq = depths.get(dead_letter_queue_name(service))
    status.dead_letters = dlq.messages if dlq else None
    if queue_name(service) not in depths:
        status.problems.append(f"queue {queue_name(service)} does not exist (has the service started?)")


# --- Putting it together ------------------------------------------------------------------------------------------


async def collect(
    services: Sequence[str],
    urls: Mapping[str, str],
    *,
    broker_url: str | None,
    embedded_path: Path,
    management_url: str | None,
    timeout: float = 3.0,
) -> Status:
    statuses = [ServiceStatus(service=name, url=urls.get(name)) for name in services]
    await asyncio.gather(*(check_service(s, timeout) for s in statuses))
    if broker_url is None:
        if not embedded_path.exists():
            for status in statuses:
                status.problems.append(f"no embedded broker at {embedded_path} and WERKPLAATSEN_BROKER_URL is not set")
        for status in statuses:
            counts = await depths_from_embedded(embedded_path, status.service)
            status.queue = QueueDepth(messages=counts.get("queue"))
            status.retrying, status.dead_letters = counts.get("retrying"), counts.get("dead_letters")
        return Status(broker=f"embedded ({embedded_path})", source="embedded broker file", services=statuses)
    source = "AMQP passive declarations (no unacked counts)"
    depths: dict[str, QueueDepth] = {}
    if management_url:
        try:
            depths = await depths_from_management(broker_url, management_url, timeout)
            source = f"RabbitMQ management API ({management_url})"
        except (OSError, ValueError) as exc:
            source += f"; management API unavailable: {_reason(exc)}"
            depths = {}
    if not depths:
        names = [name for s in services for name in queues_of(s)]
        depths = await depths_from_amqp(broker_url, names, timeout)
    for status in statuses:
        apply_rabbit_depths(status, depths)
    return Status(broker=_without_password(broker_url), source=source, services=statuses)


def _without_password(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    if parsed.password is None:
        return url
    netloc = f"{parsed.username}@{parsed.hostname}" + (f":{parsed.port}" if parsed.port else "")
    return urllib.parse.urlunsplit(parsed._replace(netloc=netloc))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return str(value)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def render(status: Status) -> str:
    header = (
        f"{'service':<15}{'ready':>6}{'queued':>8}{'unacked':>9}{'consumers':>11}{'retrying':>10}"
        f"{'dead letters':>14}{'outbox':>8}{'oldest':>8}"
    )
    lines = [f"broker: {status.broker}", f"queues: {status.source}", "", header]
    for s in status.services:
        lines.append(
            f"{s.service:<15}{_cell(s.ready):>6}{_cell(s.queue.messages):>8}{_cell(s.queue.unacked):>9}"
            f"{_cell(s.queue.consumers):>11}{_cell(s.retrying):>10}{_cell(s.dead_letters):>14}{_cell(s.outbox):>8}"
            f"{_age(s.outbox_oldest_seconds):>8}"
        )
    notes = [f"  {s.service}: {problem}" for s in status.services for problem in s.problems]
    notes += [
        f"  {s.service}: not ready: {', '.join(k for k, ok in s.checks.items() if not ok)}"
        for s in status.services
        if s.ready is False and any(not ok for ok in s.checks.values())
    ]
    unchecked = [s.service for s in status.services if s.url is None]
    if unchecked:
        notes.append(f"  readiness and outbox not checked (no URL) for: {', '.join(unchecked)}")
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)
