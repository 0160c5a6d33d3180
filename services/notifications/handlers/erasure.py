"""registration.ParticipantDataErased: a privacy request, carried out on notifications' own copies and mails
(its dead letters are scrubbed after the commit: consumes.py)."""

from __future__ import annotations

import structlog

from shared.contract.registration import ParticipantDataErased

from ..domain import RegistrationCopy
from .ports import Mails, Registrations

log = structlog.get_logger()


async def erase_participant_data(erased: ParticipantDataErased, *, registrations: Registrations, mails: Mails) -> None:
    """Privacy request: blank the registration's copy and the addresses and texts of its mails."""
    registration_id = erased.registration_id
    copy = await registrations.get(registration_id) or RegistrationCopy(registration_id)
    # An erased stub also stops a TrioRegistered that is still under way from bringing the data back.
    copy.details = None
    copy.approval = None
    copy.erased = True
    await registrations.save(copy)
    count = await mails.erase(registration_id)
    log.info("participant_data_erased", mails=count)
