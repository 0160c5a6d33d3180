"""A registration refused only because members in it are registered already: what tells those members (the
rule is enumeration.py; the event goes out with the refusal's CommandRejected)."""

from __future__ import annotations

from datetime import datetime

from shared.contract import ErrorItem
from shared.contract.registration import RegisterTrio, RegistrationAttemptRefused
from shared.municipalities import Municipality

from ..enumeration import attempt_refused
from .ports import Registrations


async def attempt_notices(
    cmd: RegisterTrio,
    problems: list[ErrorItem],
    municipality: Municipality | None,
    registrations: Registrations,
    now: datetime,
) -> list[RegistrationAttemptRefused]:
    """RegistrationAttemptRefused when members already registered are the only reason (enumeration.py)."""
    notice = attempt_refused(cmd, problems, municipality.name, now) if municipality else None
    if notice is None:
        return []
    theirs = await registrations.registrations_of_members(
        cmd.edition, [str(a.email) for a in notice.already_registered]
    )
    for address in notice.already_registered:
        address.registration_id = theirs.get(str(address.email))
    return [notice]
