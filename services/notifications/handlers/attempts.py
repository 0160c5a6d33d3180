"""registration.RegistrationAttemptRefused: members already registered hear that someone tried to register them
again (the registrant was not told: services/registration/enumeration.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.contract import Event
from shared.contract.registration import RegistrationAttemptRefused

from ..domain import REGISTRATION_ATTEMPT, normalise_address
from ..wording import edition_context
from .notify import Cause, new_mail, queue
from .ports import Editions, Mails


async def tell_of_registration_attempt(
    attempt: RegistrationAttemptRefused, *, envelope: Event[Any], editions: Editions, mails: Mails, now: datetime
) -> None:
    """One mail to each address, at most one a day per edition: repeated attempts must not flood a member. The mail
    belongs to the registration the member is in, so that erasing that one erases it too."""
    edition = await editions.get(attempt.edition)
    identity = f"registration-attempt:{attempt.edition}:{attempt.attempted_at.date().isoformat()}"
    batch = []
    for member in attempt.already_registered:
        language = "en" if member.language == "en" else "nl"
        context = {"municipality": attempt.municipality, **edition_context(attempt.edition, edition, language)}
        batch.append(
            new_mail(
                REGISTRATION_ATTEMPT,
                Cause.of(envelope),
                identity,
                member.registration_id,
                normalise_address(str(member.email)),
                language,
                context,
                now,
            )
        )
    await queue(mails, *batch)
