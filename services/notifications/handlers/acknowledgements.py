"""registration.TrioRegistered and ApprovalRequested: the members' acknowledgements and the approver's request,
whichever of the two arrives first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.contract import Event
from shared.contract.common import Channel
from shared.contract.registration import ApprovalRequested, TrioRegistered

from ..domain import (
    ACKNOWLEDGEMENT,
    APPROVAL_REQUEST,
    ApprovalCopy,
    EditionInfo,
    RegistrationCopy,
    group_language,
    normalise_address,
)
from ..wording import acknowledgement_context, approval_context
from .notify import Cause, new_mail, notify_trio, queue
from .ports import Addresses, Editions, Emit, Mails, Registrations


async def acknowledge_registration(
    registration: TrioRegistered,
    *,
    envelope: Event[Any],
    editions: Editions,
    registrations: Registrations,
    mails: Mails,
    emit: Emit,
    addresses: Addresses,
    now: datetime,
) -> None:
    """Keep a copy of the registration and queue an acknowledgement for each member (and the approver's mail,
    if the approval request arrived first)."""
    copy = await registrations.merge_details(registration)
    if not copy.reachable:
        return
    edition = await editions.get(registration.edition)
    status_url = addresses.status_url(registration.registration_id)
    # Only the members' mail carries the code that binds the room (the room's own message does not show it).
    chat_code = (
        addresses.chat_code(registration.registration_id, registration.chat_id)
        if addresses.chat_code and registration.channel == Channel.chat and registration.chat_id
        else None
    )
    await notify_trio(
        ACKNOWLEDGEMENT,
        Cause.of(envelope),
        copy,
        lambda m, lang: acknowledgement_context(registration, m, edition, lang, status_url, chat_code),
        mails=mails,
        emit=emit,
        now=now,
    )
    if copy.approval is not None:
        await _ask_approver(copy, edition, mails=mails, now=now)


async def request_approval(
    request: ApprovalRequested,
    *,
    envelope: Event[Any],
    editions: Editions,
    registrations: Registrations,
    mails: Mails,
    now: datetime,
) -> None:
    """Mail the approver. Without the registration's copy yet, the request is kept and TrioRegistered sends it.

    A held request (registration's daily limits per approver address and client) is not mailed and not kept:
    registration keeps it, and an organiser's new request sends it."""
    if request.held:
        return
    copy = await registrations.merge_approval(
        request.registration_id, ApprovalCopy(envelope.event_id, envelope.correlation_id, request)
    )
    if not copy.reachable:
        return
    assert copy.details is not None
    await _ask_approver(copy, await editions.get(copy.details.edition), mails=mails, now=now)


async def _ask_approver(copy: RegistrationCopy, edition: EditionInfo | None, *, mails: Mails, now: datetime) -> None:
    assert copy.details is not None and copy.approval is not None
    request = copy.approval.request
    language = group_language(copy.details.members)
    mail = new_mail(
        APPROVAL_REQUEST,
        Cause(copy.approval.event_id, copy.approval.correlation_id),
        copy.approval.event_id,
        copy.registration_id,
        normalise_address(request.approver.email),
        language,
        approval_context(copy.details, request, edition, language),
        now,
    )
    await queue(mails, mail)
