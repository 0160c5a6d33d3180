"""The store registration's consumers and routes open their units of work on (shared MessageStore)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from shared.messaging.processing import MessageStore

from ..approval_limits import DEFAULT_LIMITS, ApprovalLimits
from ..billing import BillingPolicy
from ..tokens import ApprovalLinks, InvoiceLinks


@dataclass(kw_only=True)
class RegistrationStore(MessageStore):
    """Registration's message store, with what its command paths need besides the database."""

    approvals: ApprovalLinks
    approval_limits: ApprovalLimits = DEFAULT_LIMITS
    retention: timedelta = timedelta(days=365)
    # Where dead letters are (services.ops.dead_letters.broker_location); erasure scrubs them. None: not scrubbed.
    dead_letters: str | Path | None = None
    # Invoicing; None: the fee is not invoiced (tests of other use cases).
    billing: BillingPolicy | None = None
    invoice_links: InvoiceLinks | None = None
