"""The console's own drafts, before anything goes to a service: the check-in at a session's door and a session's
notes. Handlers take their repositories as arguments (the store's, or fakes in tests).

Check-in at the door is made for a phone on a poor network: every tap carries an id the phone made, so a tap sent
twice (a retry after a lost answer, a queue replayed once the network is back) counts once, and where a trio
stands is decided by the latest tap about it by when it was tapped, not by when it arrived: a phone that was
offline for a while cannot overrule a later tap of another phone with its old ones. A phone's clock is trusted
up to the moment the tap arrives (a tap cannot be from the future); a phone whose clock runs behind loses
against taps of other phones made in that gap, which is the price of not needing the network to tap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from .accounts import Audit, record
from .store import CheckinMarkRow, CheckinTapRow, NotesDraftRow

TAP_ID: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")
REGISTRATION_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Checkin(Protocol):
    async def claim(self, tap: CheckinTapRow) -> bool: ...
    async def apply(self, tap: CheckinTapRow) -> None: ...
    async def marks(self, edition: str, session_number: int) -> Sequence[CheckinMarkRow]: ...
    async def present(self, edition: str, session_number: int) -> list[str]: ...


class NotesDrafts(Protocol):
    async def get(self, edition: str, session_number: int) -> NotesDraftRow | None: ...
    async def forget(self, edition: str, session_number: int) -> None: ...
    async def save(
        self, edition: str, session_number: int, notes: dict[str, Any], *, by: str, now: datetime
    ) -> NotesDraftRow: ...


@dataclass(frozen=True)
class Tap:
    tap_id: str
    registration_id: str
    present: bool
    tapped_at: datetime | None = None  # on the phone's clock; None: when it arrives


def session_subject(edition: str, session_number: int) -> str:
    return f"session:{edition}/{session_number}"


async def apply_tap(
    checkin: Checkin,
    audit: Audit,
    tap: Tap,
    *,
    edition: str,
    session_number: int,
    account_id: str,
    address: str,
    now: datetime,
) -> bool:
    """Record TAP in the session's check-in draft; False when it had been recorded before (nothing changes, and
    the audit log does not get it twice)."""
    tapped_at = min(tap.tapped_at, now) if tap.tapped_at is not None else now
    row = CheckinTapRow(
        id=tap.tap_id,
        edition=edition,
        session_number=session_number,
        registration_id=tap.registration_id,
        present=tap.present,
        tapped_at=tapped_at,
        received_at=now,
        account_id=account_id,
    )
    if not await checkin.claim(row):
        return False
    await checkin.apply(row)
    await record(
        audit,
        now,
        account_id,
        "checkin.present" if tap.present else "checkin.absent",
        session_subject(edition, session_number),
        address=address,
        reason=f"registration:{tap.registration_id}",
    )
    return True


async def save_notes(
    drafts: NotesDrafts,
    audit: Audit,
    notes: dict[str, Any],
    *,
    edition: str,
    session_number: int,
    account_id: str,
    address: str,
    now: datetime,
) -> None:
    """Keep NOTES (SessionNotes as JSON) as the session's draft, whoever saved the one before."""
    await drafts.save(edition, session_number, notes, by=account_id, now=now)
    await record(audit, now, account_id, "notes.draft_saved", session_subject(edition, session_number), address=address)
