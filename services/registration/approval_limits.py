"""How many approval requests go out: at most so many a day to one approver address and from one registering
client. Pure: no I/O.

Anyone can name any address as the approver, so without a limit the approval mail could be used to flood an
address. A request past the limit is not dropped: it is held (ApprovalRequested with `held`), shown in the
registration's history and in the organisers' list of held requests, and sent when an organiser asks for it
(`POST /api/registrations/{id}/approval-request`, which is never held: the organiser decided).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# The window the limits count in.
DAY = timedelta(days=1)


@dataclass(frozen=True)
class ApprovalLimits:
    per_approver_per_day: int = 5
    per_client_per_day: int = 10


DEFAULT_LIMITS = ApprovalLimits()


@dataclass(frozen=True)
class ApprovalRequestCounts:
    """The requests mailed (not held) in the last day to one approver address and from one client."""

    to_approver: int
    from_client: int


@dataclass(frozen=True)
class HeldApprovalRequest:
    registration_id: str
    requested_at: datetime


def approval_held(counts: ApprovalRequestCounts, limits: ApprovalLimits) -> bool:
    """Whether a new request would go past a limit and is to be held instead of mailed."""
    return counts.to_approver >= limits.per_approver_per_day or counts.from_client >= limits.per_client_per_day


# The header a route of ours puts on the command it carries out: the HTTP client's address (the connection's,
# or the visitor's behind a trusted proxy: shared/http.py). Commands from the broker do not carry it; the chat's
# registrations count by their chat instead.
CLIENT_HEADER = "x-werkplaatsen-client"
MAX_CLIENT_LENGTH = 320


def registering_client(headers: Mapping[str, Any], chat_id: str | None) -> str | None:
    """Who a registration's approval request is counted against besides the approver's address."""
    client = headers.get(CLIENT_HEADER)
    if isinstance(client, str) and client:
        return f"http:{client}"[:MAX_CLIENT_LENGTH]
    return f"chat:{chat_id}"[:MAX_CLIENT_LENGTH] if chat_id else None
