"""registration.ParticipantDataErased: a privacy request, carried out on notifications' own copies and mails
(its dead letters are scrubbed after the commit: consumes.py)."""

from __future__ import annotations

import structlog

from shared.contract.registration import ParticipantDataErased

from ..domain import RegistrationCopy
from .ports import MailCopies, Mails, Registrations

log = structlog.get_logger()


async def erase_participant_data(
    erased: ParticipantDataErased, *, registrations: Registrations, mails: Mails, mail_copies: MailCopies
) -> None:
    """Privacy request: blank the registration's copy and the addresses and texts of its mails, and remove the
    copies of those mails outside the database. Those go first: a rollback after that leaves the mails to be
    blanked when the event comes again, and a copy gone early lost nothing that was to be kept."""
    registration_id = erased.registration_id
    copy = await registrations.get(registration_id) or RegistrationCopy(registration_id)
    # An erased stub also stops a TrioRegistered that is still under way from bringing the data back.
    copy.details = None
    copy.approval = None
    copy.erased = True
    await registrations.save(copy)
    erased_mails = await mails.erase(registration_id)
    await mail_copies.forget(erased_mails)
    log.info("participant_data_erased", mails=len(erased_mails))
