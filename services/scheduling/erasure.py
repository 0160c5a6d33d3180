"""Scheduling's free text about people, and its erasure (registration.ParticipantDataErased).

Scheduling keeps no names or addresses, but two texts typed by organisers may name a trio's people: the notes of
a completed session (lessons, quotes: "Anna de Vries liet zien...") and the reason a trio was placed or moved by
hand. Scheduling cannot tell which words of the notes are names (it never learns them; reporting keeps keyed
hashes of them and removes them from its own copy), so an erasure drops the notes of every completed session of
the trio's edition: the notes went to reporting with SessionCompleted, and reporting's copy, with the erased names
removed, is the one the reports are made from. Set-based: a few statements per erasure, whatever the edition's size.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from .adapters import PlacementRow, SessionRow, WaitlistRow

ERASED = "[verwijderd]"


class SqlPersonalText:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def drop_notes(self, edition: str) -> int:
        """Forget the notes of the edition's completed sessions; how many there were."""
        result = await self.session.execute(
            update(SessionRow)
            .where(SessionRow.edition == edition, SessionRow.completed_at.is_not(None))
            .values(notes=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def erase_reasons(self, registration_id: str) -> None:
        """The organiser's reason for placing or moving this trio by hand."""
        for table in (PlacementRow, WaitlistRow):
            await self.session.execute(
                update(table)
                .where(table.registration_id == registration_id, table.hand_reason.is_not(None))
                .values(hand_reason=ERASED)
            )
