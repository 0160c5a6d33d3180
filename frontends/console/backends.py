"""What the console reads and acts through: the services' public HTTP query APIs and the command gateway.

The console owns no programme data. It reads editions, registrations, sessions and reports from the services
that own them, over their HTTP APIs, with the console's machine credential (the services' organiser token,
WERKPLAATSEN_ORGANIZER_TOKEN: between the console and the services only, never handed to a person), and it acts
by publishing contract commands (gateway.py) that carry the signed-in account as their actor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from shared.settings import ServiceName

from .gateway import CommandGateway

READ_TIMEOUT_SECONDS: Final = 10.0


class ServiceUnavailable(Exception):
    """A service's API did not answer (down, or too slow): the page says so instead of showing stale data."""

    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    @property
    def found(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class Download:
    status: int
    content: bytes
    media_type: str
    disposition: str = ""  # Content-Disposition: the file's name


class ServiceApis:
    """One HTTP client per service, each with its base URL and the console's credential."""

    def __init__(self, clients: Mapping[ServiceName, httpx.AsyncClient]) -> None:
        self.clients = clients

    @classmethod
    def over_http(cls, base_urls: Mapping[ServiceName, str], token: str) -> ServiceApis:
        return cls({name: _client(url, token) for name, url in base_urls.items()})

    @classmethod
    def in_process(cls, app: Any, token: str) -> ServiceApis:
        """All four services in one ASGI app (`werkplaatsen dev`): read them without a network hop."""
        transport = httpx.ASGITransport(app=app)
        client = _client("http://services.internal", token, transport=transport)
        return cls({"registration": client, "scheduling": client, "notifications": client, "reporting": client})

    async def get(self, service: ServiceName, path: str, params: Mapping[str, Any] | None = None) -> Answer:
        try:
            response = await self.clients[service].get(path, params=params)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(service) from exc
        if response.status_code >= 500:
            raise ServiceUnavailable(service)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return Answer(response.status_code, body)

    async def download(self, service: ServiceName, path: str) -> Download:
        """A file from a service's API (an export), as it is: bytes, their media type and the file's name."""
        try:
            response = await self.clients[service].get(path, headers={"Accept": "*/*"})
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(service) from exc
        if response.status_code >= 500:
            raise ServiceUnavailable(service)
        media_type = response.headers.get("content-type", "application/octet-stream")
        disposition = response.headers.get("content-disposition", "")
        return Download(response.status_code, response.content, media_type, disposition)

    async def close(self) -> None:
        for client in {id(c): c for c in self.clients.values()}.values():
            await client.aclose()


def _client(base_url: str, token: str, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=READ_TIMEOUT_SECONDS,
        transport=transport,
    )


@dataclass
class Backends:
    """The console's way to the services, and how the process starts and stops it."""

    apis: ServiceApis
    gateway: CommandGateway
    start: Callable[[], Awaitable[None]] | None = None
    stop: Callable[[], Awaitable[None]] | None = None

    async def open(self) -> None:
        if self.start is not None:
            await self.start()

    async def close(self) -> None:
        await self.apis.close()
        if self.stop is not None:
            await self.stop()
