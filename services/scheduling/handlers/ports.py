"""What the scheduling handlers need from the outside (repositories, emit) and the lookups they share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from shared.contract import EventData
from shared.messaging.messages import refuse

from ..domain import Edition, Session, Trio, Via, WaitEntry, Waitlisted

Emit = Callable[[EventData], object]

APPROVED, DECLINED, CANCELLED = "approved", "declined", "cancelled"


class Editions(Protocol):
    async def get(
        self, slug: str, *, for_update: bool = False, waitlist: bool = True, places: bool = True
    ) -> Edition | None:
        """With waitlist=False the edition's waitlist is not read (left empty) and save() leaves it alone; with
        places=False neither its places nor its waitlist are read, and it is not saved (Places, Waitlist)."""
        ...

    async def lock(self, slug: str) -> bool:
        """Take the edition's lock, as get(for_update=True) does, without loading it; False when it is unknown."""
        ...

    async def save(self, edition: Edition) -> None: ...


class Registrations(Protocol):
    """Scheduling's own copy of registrations and their decisions, from registration's events."""

    async def add(self, edition: str, trio: Trio) -> None: ...
    async def trio(self, registration_id: str) -> Trio | None: ...
    async def trios(self, registration_ids: list[str]) -> dict[str, Trio]: ...
    async def status(self, registration_id: str) -> str | None: ...
    async def set_status(self, registration_id: str, edition: str, status: str, at: datetime) -> None: ...
    async def pool(self, edition: str) -> list[Trio]: ...
    async def edition(self, registration_id: str) -> str | None: ...
    async def of_edition(self, edition: str) -> set[str]: ...
    async def municipalities(self, registration_ids: list[str]) -> dict[str, str]: ...


class Places(Protocol):
    """One trio admitted to an edition's places without reading them all."""

    async def count(self, edition: str) -> int: ...
    async def holds(self, edition: str, registration_id: str) -> bool: ...
    async def add(
        self, edition: str, registration_id: str, via: Via, priority: bool, registered_at: datetime, now: datetime
    ) -> int: ...


class Waitlist(Protocol):
    """One edition's waitlist changed in place (set-based): a trio admitted, and the organisers' moves by hand."""

    async def entry(self, edition: str, registration_id: str) -> WaitEntry | None: ...
    async def length(self, edition: str) -> int: ...
    async def join(self, edition: str, entry: WaitEntry) -> list[Waitlisted]: ...
    async def leave(self, edition: str, entry: WaitEntry) -> list[Waitlisted]: ...
    async def move(self, edition: str, entry: WaitEntry, position: int, reason: str) -> list[Waitlisted]: ...


class Seats(Protocol):
    """Who sits at which table, per session (one row per trio and session)."""

    async def plan(self, edition: str, session_number: int) -> dict[int, list[str]]: ...
    async def with_room(
        self, edition: str, sessions: Sequence[int], table_size: int
    ) -> dict[int, tuple[dict[int, list[str]], int]]:
        """Per session: its tables with room and who sits there, and the number a new table would get."""
        ...

    async def seat(self, edition: str, registration_id: str, seats: Sequence[tuple[int, int]]) -> None: ...
    async def unseat(self, edition: str, registration_id: str, sessions: Sequence[int]) -> None: ...
    async def replace(self, edition: str, session_number: int, tables: list[list[str]]) -> None: ...
    async def forget(self, edition: str, sessions: Sequence[int]) -> None: ...
    async def sessions(self, edition: str) -> set[int]: ...


async def edition_of(editions: Editions, slug: str, *, waitlist: bool = True) -> Edition:
    edition = await editions.get(slug, for_update=True, waitlist=waitlist)
    if edition is None:
        raise refuse("edition", "unknown_edition", "Deze editie bestaat niet.")
    return edition


def session_of(edition: Edition, number: int) -> Session:
    session = edition.session(number)
    if session is None:
        raise refuse("session_number", "unknown_session", "Deze editie heeft geen bijeenkomst met dit nummer.")
    return session
