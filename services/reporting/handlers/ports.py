"""What reporting's handlers need from its store, as protocols: adapters implement them, unit tests fake them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from shared.contract import EventData

from ..anonymise import NameKind
from ..domain import (
    Attendance,
    Edition,
    EventSource,
    InvoiceCopy,
    NotificationFailure,
    RoundPublication,
    SessionReport,
    Trio,
)

Emit = Callable[[EventData], object]


class Reports(Protocol):
    async def get(self, edition: str, session_number: int, *, for_update: bool = False) -> SessionReport | None: ...
    async def save(self, report: SessionReport) -> None: ...
    async def of_edition(self, edition: str) -> list[SessionReport]: ...
    async def every(self, *, for_update: bool = False) -> list[SessionReport]: ...


class Editions(Protocol):
    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None: ...
    async def save(self, edition: Edition) -> None: ...


class Rounds(Protocol):
    async def lock(self, edition: str) -> None: ...
    async def get(self, edition: str, *, for_update: bool = False) -> RoundPublication | None: ...
    async def save(self, publication: RoundPublication) -> None: ...


class Trios(Protocol):
    async def get(self, registration_id: str, *, for_update: bool = False) -> Trio | None: ...
    async def save(self, trio: Trio) -> None: ...


class Names(Protocol):
    async def add(self, registration_id: str, digests: dict[str, NameKind]) -> None: ...
    async def of(self, registration_id: str) -> dict[str, NameKind]: ...
    async def forget(self, registration_id: str) -> None: ...


class AttendanceLists(Protocol):
    async def get(self, edition: str, session_number: int, *, for_update: bool = False) -> Attendance | None: ...
    async def save(self, attendance: Attendance) -> None: ...


class Invoices(Protocol):
    async def get(self, number: str, *, for_update: bool = False) -> InvoiceCopy | None: ...
    async def save(self, invoice: InvoiceCopy) -> None: ...


class Failures(Protocol):
    async def add(self, failure: NotificationFailure) -> None: ...


class Sources(Protocol):
    async def add(self, source: EventSource) -> None: ...
