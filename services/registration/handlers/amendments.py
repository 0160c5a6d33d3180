"""What organisers change about a registration after intake: a member replaced, the case or the invoice details
corrected (rules in amendments.py). Both need an organiser's actor and are kept in the registration's history."""

from __future__ import annotations

from datetime import datetime

from shared.contract.registration import CorrectRegistration, MemberReplaced, RegistrationCorrected, ReplaceMember
from shared.messaging.messages import CommandRefused

from ..amendments import changed_fields, correction_problems, member_to_replace, replacement_problems, still_open
from ..billing import recipient
from ..domain import preferred_domain_mix
from .journal import tell
from .ports import Emit, History, Invoicing, Registrations
from .registrations import existing, new_member, registered_member


async def replace_member(
    cmd: ReplaceMember,
    *,
    registrations: Registrations,
    history: History,
    emit: Emit,
    now: datetime,
    invoicing: Invoicing | None = None,
) -> dict[str, str]:
    """Put a new member in the place of one of the trio; the old member's personal data is erased from it."""
    state = await existing(registrations, cmd.registration_id)
    if problems := still_open(state):
        raise CommandRefused(problems)
    details = await registrations.details(cmd.registration_id)
    position = member_to_replace(details.members, cmd)
    if not isinstance(position, int):
        raise CommandRefused([position])
    old, new = details.members[position], new_member(cmd.member)
    taken = await registrations.active_member_emails(state.edition, [new.email])
    in_other_trio = new.email in taken and new.email not in {m.email for m in details.members}
    problems = replacement_problems(
        details.members, position, new, approver_email=state.approver.email, in_other_trio=in_other_trio
    )
    if problems:
        raise CommandRefused(problems)
    await registrations.replace_member(cmd.registration_id, position, new)
    members = [new if i == position else m for i, m in enumerate(details.members)]
    if invoicing is not None and details.invoice is not None and not details.invoice.email:
        # Invoice mails without a mailbox of their own went to the (first) wijkambtenaar: perhaps the one who left.
        to = recipient(None, [(m.email, m.role, m.language) for m in members])
        await invoicing.billing.redirect(cmd.registration_id, old.email, to)
    await tell(
        MemberReplaced(
            registration_id=cmd.registration_id,
            edition=state.edition,
            replaced_at=now,
            position=position,
            replaced_member_id=old.member_id,
            member=registered_member(new),
            preferred_domain_mix=preferred_domain_mix(m.domain for m in members),
            reason=cmd.reason,
        ),
        emit=emit,
        history=history,
        at=now,
        actor=cmd.actor,
    )
    return {"registration_id": cmd.registration_id, "member_id": new.member_id}


async def correct_registration(
    cmd: CorrectRegistration,
    *,
    registrations: Registrations,
    history: History,
    emit: Emit,
    now: datetime,
    invoicing: Invoicing | None = None,
) -> dict[str, object]:
    """Correct the case text or the invoice details; an invoice already issued stays as it was issued."""
    state = await existing(registrations, cmd.registration_id)
    if state.erased:  # a cancelled or declined registration may still get its case text right
        raise CommandRefused(still_open(state))
    details = await registrations.details(cmd.registration_id)
    issued = await invoicing.billing.of_registration(cmd.registration_id) if invoicing is not None else None
    if problems := correction_problems(cmd, details, issued_invoice=issued.number if issued else None):
        raise CommandRefused(problems)
    changed = changed_fields(details, cmd.case, cmd.invoice)
    case_changed = any(name.startswith("case.") for name in changed)
    invoice_changed = any(name.startswith("invoice.") for name in changed)
    await registrations.correct(
        cmd.registration_id, cmd.case if case_changed else None, cmd.invoice if invoice_changed else None
    )
    await tell(
        RegistrationCorrected(
            registration_id=cmd.registration_id,
            edition=state.edition,
            corrected_at=now,
            changed=changed,
            case=cmd.case if case_changed else None,
            reason=cmd.reason,
        ),
        emit=emit,
        history=history,
        at=now,
        actor=cmd.actor,
    )
    return {"registration_id": cmd.registration_id, "changed": changed}
