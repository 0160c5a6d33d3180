"""registration.MemberReplaced: the new member of a trio is welcomed (with the invitation once the trio is placed)
and the old member's data leaves notifications' copy and mails, so reminders and later mails reach the new one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from shared.contract import Event
from shared.contract.registration import MemberReplaced
from shared.formatting import moment_text

from ..domain import (
    FINAL_STATUSES,
    STATUS_PLACED,
    STATUS_RELEASED,
    STATUS_WAITLISTED,
    WELCOME,
    mail_language,
    normalise_address,
)
from ..wording import member_context
from .notify import Cause, known_edition, known_registration, new_mail, queue
from .placement import invitation_for
from .ports import Addresses, Editions, MailCopies, Mails, RegistrationNotYetKnown, Registrations

log = structlog.get_logger()


async def welcome_member(
    replaced: MemberReplaced,
    *,
    envelope: Event[Any],
    editions: Editions,
    registrations: Registrations,
    mails: Mails,
    mail_copies: MailCopies,
    addresses: Addresses,
    now: datetime,
) -> None:
    copy = await known_registration(registrations, replaced.registration_id)
    if copy is None:
        return  # erased meanwhile: nobody to write to, nothing to keep
    assert copy.details is not None
    details = copy.details
    members = list(details.members)
    current = members[replaced.position] if replaced.position < len(members) else None
    if current is not None and current.member_id == replaced.member.member_id:
        return  # applied already
    if current is None or current.member_id != replaced.replaced_member_id:
        # Two replacements of one place may arrive in either order: this one waits (a retry) until the one
        # before it, which brought in the member it replaces, has been applied.
        raise RegistrationNotYetKnown(replaced.registration_id)
    members[replaced.position] = replaced.member
    copy.details = details.model_copy(
        update={"members": members, "preferred_domain_mix": replaced.preferred_domain_mix}
    )
    await registrations.save(copy)
    erased = await mails.erase_recipient(copy.registration_id, normalise_address(current.email))
    await mail_copies.forget(erased)
    log.info("member_replaced", mails_erased=len(erased))
    address = normalise_address(replaced.member.email)
    if copy.status in FINAL_STATUSES or "@" not in address:
        return  # no welcome into a trio that has ended, nor to an address registration has erased already
    placed = copy.status == STATUS_PLACED
    edition = await known_edition(editions, details.edition) if placed else await editions.get(details.edition)
    language = mail_language(replaced.member)
    context = member_context(copy.details, replaced.member, edition, language) | {
        "status": "approved" if copy.status == STATUS_RELEASED else copy.status,
        "position": copy.waitlist_position if copy.status == STATUS_WAITLISTED else None,
        "deadline": moment_text(edition.registration_deadline, language) if edition else None,
        "status_url": addresses.status_url(copy.registration_id),
    }
    invitation = (
        invitation_for(edition, edition.sessions, addresses, now)(replaced.member, language)
        if placed and edition is not None
        else None
    )
    await queue(
        mails,
        new_mail(
            WELCOME,
            Cause.of(envelope),
            envelope.event_id,
            copy.registration_id,
            address,
            language,
            context,
            now,
            calendar_text=invitation,
        ),
    )
