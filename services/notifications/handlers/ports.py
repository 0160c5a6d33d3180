"""What the handlers need besides the message: the store's repositories (tests pass in-memory fakes), where mails
come from and go to, and the two reasons an event is retried later."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.contract import EventData
from shared.contract.registration import TrioRegistered

from ..domain import ApprovalCopy, EditionInfo, Mail, RegistrationCopy, Reminder

Emit = Callable[[EventData], object]


class RegistrationNotYetKnown(Exception):
    """An event about a registration whose TrioRegistered has not arrived yet: retried later by the transport."""


class EditionNotYetKnown(Exception):
    """An event about an edition whose EditionScheduled has not arrived yet: retried later by the transport."""


class Editions(Protocol):
    async def get(self, slug: str, *, for_update: bool = False) -> EditionInfo | None: ...
    async def save(self, edition: EditionInfo) -> None: ...


class Mails(Protocol):
    async def add(self, mails: Sequence[Mail]) -> set[str]:
        """Store pending mails in one go; the notification_ids stored (a mail whose id exists is not stored)."""
        ...

    async def erase(self, registration_id: str) -> list[str]:
        """Blank the registration's mails; those not yet sent will not be. Returns their notification_ids."""
        ...

    async def erase_recipient(self, registration_id: str, recipient: str) -> list[str]:
        """Blank the registration's mails to `recipient` (a member who left the trio); those not yet sent will not
        be. Returns their notification_ids."""
        ...

    async def supersede(self, registration_id: str, kind: str) -> int:
        """Mark the registration's pending mails of `kind` as not to be sent; returns how many."""
        ...


class MailCopies(Protocol):
    """Copies of sent mails outside the database: the .eml files of development (delivery/eml.py)."""

    async def forget(self, notification_ids: Sequence[str]) -> None: ...


class Registrations(Protocol):
    async def get(self, registration_id: str) -> RegistrationCopy | None: ...
    async def merge_details(self, details: TrioRegistered) -> RegistrationCopy: ...
    async def merge_approval(self, registration_id: str, approval: ApprovalCopy) -> RegistrationCopy: ...
    async def save(self, copy: RegistrationCopy) -> None: ...
    async def placed_in(self, edition: str) -> list[RegistrationCopy]: ...


class Reminders(Protocol):
    async def get(self, key: str) -> Reminder | None: ...
    async def save(self, reminder: Reminder) -> None: ...
    async def plan(self, reminders: Sequence[Reminder]) -> None: ...
    async def of_session(self, edition: str, session_number: int) -> list[Reminder]: ...
    async def due(self, now: datetime, limit: int = 100) -> list[Reminder]: ...


@dataclass(frozen=True)
class Addresses:
    """Who mails come from, where organiser warnings go, the status link of a registration, and the code that binds
    the chat room a trio registered from (registration id, room id; shared/chat_binding.py)."""

    sender_name: str
    sender_email: str
    organizer_email: str
    status_url: Callable[[str], str]
    chat_code: Callable[[str, str], str] | None = None
