"""registration.RegistrationApproved, RegistrationDeclined, RegistrationCancelled and scheduling.PlaceReleased: what
was decided about a registration, told to its trio."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.contract import Event
from shared.contract.registration import (
    RegisteredMember,
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
)
from shared.contract.scheduling import PlaceReleased
from shared.formatting import moment_text

from ..domain import (
    APPROVED,
    CANCELLED,
    DECLINED,
    FINAL_STATUSES,
    REGISTERED,
    STATUS_APPROVED,
    STATUS_CANCELLED,
    STATUS_DECLINED,
    STATUS_RELEASED,
)
from ..wording import member_context
from .notify import Cause, known_registration, notify_trio
from .ports import Editions, Emit, Mails, Registrations


async def announce_approval(
    approved: RegistrationApproved,
    *,
    envelope: Event[Any],
    editions: Editions,
    registrations: Registrations,
    mails: Mails,
    emit: Emit,
    now: datetime,
) -> None:
    copy = await known_registration(registrations, approved.registration_id)
    if copy is None or copy.status in FINAL_STATUSES:
        return
    if copy.status == REGISTERED:
        copy.status = STATUS_APPROVED
        await registrations.save(copy)
    assert copy.details is not None
    details = copy.details
    edition = await editions.get(details.edition)

    def context(member: RegisteredMember, language: str) -> dict[str, Any]:
        return member_context(details, member, edition, language) | {
            "by_organizer": approved.by_organizer,
            "deadline": moment_text(edition.registration_deadline, language) if edition else None,
        }

    await notify_trio(APPROVED, Cause.of(envelope), copy, context, mails=mails, emit=emit, now=now)


async def announce_decline(
    declined: RegistrationDeclined,
    *,
    envelope: Event[Any],
    editions: Editions,
    registrations: Registrations,
    mails: Mails,
    emit: Emit,
    now: datetime,
) -> None:
    copy = await known_registration(registrations, declined.registration_id)
    if copy is None:
        return
    copy.status = STATUS_DECLINED
    await registrations.save(copy)
    assert copy.details is not None
    details = copy.details
    edition = await editions.get(details.edition)
    await notify_trio(
        DECLINED,
        Cause.of(envelope),
        copy,
        lambda m, lang: (
            member_context(details, m, edition, lang)
            | {"reason": declined.reason, "by_organizer": declined.by_organizer}
        ),
        mails=mails,
        emit=emit,
        now=now,
    )


async def confirm_cancellation(
    event: RegistrationCancelled | PlaceReleased,
    *,
    envelope: Event[Any],
    editions: Editions,
    registrations: Registrations,
    mails: Mails,
    emit: Emit,
    now: datetime,
) -> None:
    """RegistrationCancelled and the PlaceReleased it causes mean one thing to the trio: one mail, not two."""
    copy = await known_registration(registrations, event.registration_id)
    if copy is None:
        return
    cancelled = isinstance(event, RegistrationCancelled)
    if cancelled or copy.status not in FINAL_STATUSES:
        copy.status = STATUS_CANCELLED if cancelled else STATUS_RELEASED
        await registrations.save(copy)
    assert copy.details is not None
    details = copy.details
    edition = await editions.get(details.edition)
    reason = event.reason if cancelled else None
    await notify_trio(
        CANCELLED,
        Cause.of(envelope),
        copy,
        lambda m, lang: member_context(details, m, edition, lang) | {"reason": reason},
        mails=mails,
        emit=emit,
        now=now,
        identity=f"{copy.registration_id}:cancelled",
    )
