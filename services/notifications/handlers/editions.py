"""scheduling.EditionScheduled: notifications' copy of an edition, which its mails and invitations are made from."""

from __future__ import annotations

from datetime import datetime

from shared.contract.scheduling import EditionScheduled

from ..domain import EditionInfo, SessionInfo
from .ports import Editions


async def remember_edition(scheduled: EditionScheduled, *, occurred_at: datetime, editions: Editions) -> None:
    """Keep the newest copy of the edition; an update overtaken by a later one is ignored."""
    existing = await editions.get(scheduled.edition)
    if existing is not None and existing.scheduled_at > occurred_at:
        return
    sequences = {s.number: s.sequence for s in existing.sessions} if existing else {}
    await editions.save(
        EditionInfo(
            slug=scheduled.edition,
            title=scheduled.title,
            venue=scheduled.venue.model_dump(),
            registration_deadline=scheduled.registration_deadline,
            sessions=[
                SessionInfo(s.number, s.title, s.starts_at, s.ends_at, s.outcome, sequences.get(s.number, 0))
                for s in scheduled.sessions
            ],
            scheduled_at=occurred_at,
            capacity=scheduled.capacity.model_dump(),
        )
    )
