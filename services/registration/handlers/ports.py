"""What registration's use cases are given: the repositories they work on (the SQLAlchemy ones in adapters/, the
unit tests' in-memory fakes), the `emit` callable, the registration's history and what invoicing needs besides the
store."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.contract import EventData
from shared.contract.registration import Case
from shared.contract.registration import Invoice as InvoiceDetails
from shared.municipalities import Municipality

from ..amendments import TrioDetails
from ..approval_limits import ApprovalRequestCounts
from ..billing import BillingPolicy, CreditNote, Invoice, InvoiceFacts, Recipient
from ..domain import Edition, Member, Registration, RegistrationState
from ..history import HistoryEntry
from ..invoices import Documents
from ..tokens import InvoiceLinks

Emit = Callable[[EventData], object]


class Editions(Protocol):
    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None: ...
    async def all(self) -> list[Edition]: ...
    async def save(self, edition: Edition) -> None: ...


class Registrations(Protocol):
    async def add(self, registration: Registration) -> None: ...
    async def active_member_emails(self, edition: str, emails: list[str]) -> set[str]: ...
    async def registrations_of_members(self, edition: str, emails: list[str]) -> dict[str, str]:
        """The active registration of the edition each of these (lower-cased) addresses is in."""
        ...

    async def get_state(self, registration_id: str, *, for_update: bool = False) -> RegistrationState | None: ...
    async def save_state(self, state: RegistrationState) -> None: ...
    async def erase(self, registration_id: str, now: datetime) -> None: ...
    async def unerased_of_editions(self, editions: list[str]) -> list[str]: ...
    async def known(self, registration_ids: list[str]) -> set[str]:
        """Those of the ids that are registrations of ours."""
        ...

    async def details(self, registration_id: str) -> TrioDetails: ...
    async def replace_member(self, registration_id: str, position: int, member: Member) -> None:
        """Put `member` in the place of the one at `position`, whose personal data is gone afterwards (also from
        the registration's events still waiting in the outbox)."""
        ...

    async def correct(self, registration_id: str, case: Case | None, invoice: InvoiceDetails | None) -> None: ...


class ApprovalRequests(Protocol):
    async def counts(self, approver_email: str, client: str | None, since: datetime) -> ApprovalRequestCounts: ...
    async def add(
        self, registration_id: str, approver_email: str, client: str | None, at: datetime, *, held: bool
    ) -> None: ...
    async def release(self, registration_id: str, at: datetime) -> None: ...


class History(Protocol):
    async def add(self, *entries: HistoryEntry) -> None: ...
    async def erase(self, registration_id: str) -> None: ...


class Seating(Protocol):
    async def plan_session(
        self, edition: str, session_number: int, tables: Mapping[str, int], planned_at: datetime
    ) -> dict[str, int]:
        """Apply a session's whole plan (registration id -> table), the newer fact winning; the trios whose table is
        new or changed."""
        ...

    async def seat_trio(
        self, edition: str, registration_id: str, tables: Mapping[int, int], seated_at: datetime
    ) -> dict[int, int]:
        """Apply one trio's seats (session number -> table), the newer fact winning; the sessions whose table is
        new or changed."""
        ...

    async def tables_of(self, edition: str, registration_id: str) -> dict[int, int]: ...


class Municipalities(Protocol):
    def get(self, code: str) -> Municipality | None: ...


class Billing(Protocol):
    async def next_number(self, series: str, year: int) -> int: ...
    async def facts(self, registration_id: str) -> InvoiceFacts | None: ...
    async def of_registration(self, registration_id: str, *, for_update: bool = False) -> Invoice | None: ...
    async def get(self, number: str, *, for_update: bool = False) -> Invoice | None: ...
    async def add(self, invoice: Invoice, documents: Documents) -> None: ...
    async def save(self, invoice: Invoice) -> None: ...
    async def add_credit_note(self, note: CreditNote, documents: Documents) -> None: ...
    async def document(self, number: str, kind: str, *, credit_note: bool = False) -> bytes | None: ...
    async def add_payment(
        self, number: str, amount_cents: int, paid_at: datetime, reference: str | None, now: datetime
    ) -> None: ...
    async def redirect(self, registration_id: str, old_email: str, recipient: Recipient) -> None:
        """Later mails about the registration's invoices that went to `old_email` go to `recipient`."""
        ...


@dataclass(frozen=True)
class Invoicing:
    """What the billing use cases need besides the store: the policy from configuration, the trio's links and the
    registration's history (invoices, credit notes and payments are in it)."""

    billing: Billing
    policy: BillingPolicy
    links: InvoiceLinks
    history: History
