"""Who learns that a member is already registered: not whoever fills in a registration (anyone could find out
that way who takes part), but the member themselves. Pure: no I/O.

A RegisterTrio refused only for `member_already_registered` is still refused (its CommandRejected has the code,
for organisers and machines), but the form and `POST /api/registrations` answer it as they answer an accepted
registration ("check your mail"), and RegistrationAttemptRefused has notifications tell the members by mail. With
other problems as well only those are shown: once they are fixed, the answer is again the accepted one.
"""

from __future__ import annotations

import re
from datetime import datetime

from shared.contract import ErrorItem
from shared.contract.registration import MemberAddress, RegisterTrio, RegistrationAttemptRefused
from shared.refusals import only_already_registered

MEMBER_FIELD = re.compile(r"^members\[(\d)\]\.email$")


def attempt_refused(
    cmd: RegisterTrio, problems: list[ErrorItem], municipality: str, now: datetime
) -> RegistrationAttemptRefused | None:
    """What to tell the members already registered, when that is the only reason for the refusal."""
    if not only_already_registered(problems):
        return None
    positions = [int(m.group(1)) for e in problems if (m := MEMBER_FIELD.match(e.field))]
    return RegistrationAttemptRefused(
        edition=cmd.edition,
        attempted_at=now,
        municipality=municipality,
        already_registered=[
            MemberAddress(email=str(cmd.members[i].email).lower(), language=cmd.members[i].language) for i in positions
        ],
    )
