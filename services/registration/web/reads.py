"""What the pages read from registration's store: its copy of the editions and a registration's view."""

from __future__ import annotations

from dataclasses import dataclass

from shared.db import utcnow

from ..adapters import RegistrationStore, SqlEditions, SqlRegistrations
from ..domain import Edition, RegistrationView


@dataclass(frozen=True)
class Reads:
    store: RegistrationStore

    async def edition(self, slug: str) -> Edition | None:
        async with self.store.db.sessions() as session:
            return await SqlEditions(session).get(slug[:64])

    async def open_editions(self) -> list[Edition]:
        return (await self.form_editions())[0]

    async def form_editions(self) -> tuple[list[Edition], list[Edition]]:
        """The editions open for registration, and those whose registration closed before their sessions: the form
        says so of those instead of leaving them out without a word."""
        now = utcnow()
        async with self.store.db.sessions() as session:
            editions = await SqlEditions(session).all()
        by_closing = sorted(editions, key=lambda e: e.registration_closes_at)
        return [e for e in by_closing if e.registration_open(now)], [e for e in by_closing if e.stopped(now)]

    async def only_open_edition(self) -> Edition | None:
        editions = await self.open_editions()
        return editions[0] if len(editions) == 1 else None

    async def view(self, registration_id: str) -> RegistrationView | None:
        async with self.store.db.sessions() as session:
            return await SqlRegistrations(session).view(registration_id[:36])
