"""registration.ParticipantDataErased: scheduling's free text that may name the trio's people (see erasure.py)."""

from __future__ import annotations

from typing import Protocol

import structlog

from shared.contract.registration import ParticipantDataErased

from .ports import Editions, Registrations

log = structlog.get_logger()


class PersonalText(Protocol):
    async def drop_notes(self, edition: str) -> int: ...
    async def erase_reasons(self, registration_id: str) -> None: ...


async def erase_personal_text(
    event: ParticipantDataErased, *, editions: Editions, registrations: Registrations, personal_text: PersonalText
) -> None:
    """Drop the notes of the edition's completed sessions and the trio's reasons by hand. Under the edition's
    lock, so notes being completed at the same moment are either dropped too or come after (and are kept)."""
    await personal_text.erase_reasons(event.registration_id)
    edition = await registrations.edition(event.registration_id)
    if edition is None or not await editions.lock(edition):
        return  # scheduling never heard of the trio: it was never placed, so it sat in none of the sessions
    dropped = await personal_text.drop_notes(edition)
    log.info("session_notes_dropped", edition=edition, sessions=dropped)
