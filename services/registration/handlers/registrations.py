"""A registration's use cases: the intake of a trio, then approval, cancellation, places and erasure."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from shared.contract import Actor
from shared.contract.registration import (
    ApprovalRequested,
    ApproveRegistration,
    CancelRegistration,
    DeclineRegistration,
    EraseParticipantData,
    MunicipalityInfo,
    ParticipantDataErased,
    RegisteredMember,
    RegisterTrio,
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.registration import Member as NewMember
from shared.contract.scheduling import PlaceReleased, TrioPlaced, TrioWaitlisted
from shared.messaging.messages import CommandRefused, NotYetKnown, refuse
from shared.municipalities import Municipality

from ..amendments import organiser_problems
from ..approval_limits import DAY, DEFAULT_LIMITS, ApprovalLimits, approval_held, registering_client
from ..domain import (
    Edition,
    Member,
    Placement,
    Registration,
    RegistrationState,
    apply_placement,
    fee_for,
    has_priority,
    intake_problems,
    preferred_domain_mix,
    registered_moment,
)
from ..tokens import ApprovalLinks, token_expired, token_required
from .attempts import attempt_notices
from .invoicing import credit_invoice, issue_invoice
from .journal import note, tell
from .ports import ApprovalRequests, Editions, Emit, History, Invoicing, Municipalities, Registrations


async def register_trio(
    cmd: RegisterTrio,
    *,
    editions: Editions,
    registrations: Registrations,
    municipalities: Municipalities,
    approvals: ApprovalLinks,
    emit: Emit,
    history: History,
    now: datetime,
    approval_requests: ApprovalRequests,
    approval_limits: ApprovalLimits = DEFAULT_LIMITS,
    headers: Mapping[str, Any] = MappingProxyType({}),
    received_at: datetime | None = None,
) -> dict[str, str]:
    # Locked first: registrations of one edition then take turns, so the member check below is reliable.
    edition = await editions.get(cmd.edition, for_update=True)
    municipality = municipalities.get(cmd.municipality)
    emails = [str(m.email).lower() for m in cmd.members]
    taken = await registrations.active_member_emails(cmd.edition, emails) if edition else set()
    problems = intake_problems(cmd, edition=edition, municipality=municipality, registered_emails=taken, now=now)
    if [p.code for p in problems] == ["unknown_edition"]:
        # Scheduling may have announced it a moment ago and our copy is still on its way: wait (bounded) for it.
        raise NotYetKnown(problems)
    if problems:
        raise CommandRefused(problems, events=await attempt_notices(cmd, problems, municipality, registrations, now))
    assert edition is not None and municipality is not None  # intake_problems reports both missing
    registration = new_registration(cmd, edition, municipality, now)
    registration.registered_at = registered_moment(now, received_at)
    approve_url, registration.approval_expires_at = approvals.issue(registration.registration_id, now)
    await registrations.add(registration)
    await tell(trio_registered(registration), emit=emit, history=history, at=now)
    client = registering_client(headers, cmd.chat_id)
    counts = await approval_requests.counts(registration.approver.email, client, now - DAY)
    held = approval_held(counts, approval_limits)
    await approval_requests.add(registration.registration_id, registration.approver.email, client, now, held=held)
    await tell(
        ApprovalRequested(
            registration_id=registration.registration_id,
            approver=registration.approver,
            approve_url=approve_url,
            expires_at=registration.approval_expires_at,
            held=held,
        ),
        emit=emit,
        history=history,
        at=now,
    )
    return {"registration_id": registration.registration_id}


def new_member(m: NewMember) -> Member:
    return Member(
        member_id=str(uuid.uuid4()),
        name=m.name,
        email=str(m.email).lower(),
        role=m.role,
        domain=m.domain,
        job_title=m.job_title,
        language=m.language,
    )


def registered_member(m: Member) -> RegisteredMember:
    """A member as the events carry them."""
    return RegisteredMember(
        member_id=m.member_id, name=m.name, email=m.email, role=m.role, domain=m.domain, language=m.language
    )


def new_registration(cmd: RegisterTrio, edition: Edition, municipality: Municipality, now: datetime) -> Registration:
    members = [new_member(m) for m in cmd.members]
    return Registration(
        registration_id=str(uuid.uuid4()),
        edition=edition.slug,
        municipality=municipality,
        members=members,
        case=cmd.case,
        approver=cmd.approver,
        consent=cmd.consent,
        invoice=cmd.invoice,
        fee=fee_for(edition, municipality.size_class),
        priority=has_priority(edition, municipality.size_class),
        preferred_domain_mix=preferred_domain_mix(m.domain for m in members),
        channel=cmd.channel,
        chat_id=cmd.chat_id,
        registered_at=now,
    )


def trio_registered(r: Registration) -> TrioRegistered:
    m = r.municipality
    return TrioRegistered(
        registration_id=r.registration_id,
        edition=r.edition,
        registered_at=r.registered_at,
        municipality=MunicipalityInfo(
            code=m.code,
            name=m.name,
            province=m.province,
            inhabitants=m.inhabitants,
            size_class=m.size_class,
            m50_member=m.m50_member,
        ),
        members=[registered_member(p) for p in r.members],
        case=r.case,
        fee=r.fee,
        priority=r.priority,
        preferred_domain_mix=r.preferred_domain_mix,
        consent=r.consent,
        channel=r.channel,
        chat_id=r.chat_id,
    )


# After intake: approval, cancellation, places, erasure


async def existing(registrations: Registrations, registration_id: str) -> RegistrationState:
    """The registration, locked for the rest of the transaction; refused as unknown when there is none."""
    state = await registrations.get_state(registration_id, for_update=True)
    if state is None:
        raise refuse("registration_id", "unknown_registration", "Deze aanmelding kennen we niet.")
    return state


def already_decided(state: RegistrationState) -> CommandRefused:
    what = {
        "approved": "goedgekeurd",
        "placed": "goedgekeurd",
        "waitlisted": "goedgekeurd",
        "declined": "afgewezen",
        "cancelled": "geannuleerd",
    }.get(state.status, "afgehandeld")
    return refuse(
        "registration_id",
        "already_decided",
        f"Over deze aanmelding is al beslist: ze is {what}. Er is niets veranderd.",
    )


async def decide(
    cmd: ApproveRegistration | DeclineRegistration,
    *,
    registrations: Registrations,
    approvals: ApprovalLinks,
    emit: Emit,
    history: History,
    now: datetime,
) -> dict[str, str]:
    """The approver's (token) or an organiser's (by_organizer, with the organiser's actor) decision on a
    registration awaiting approval."""
    expired = False
    if cmd.by_organizer:
        if problems := organiser_problems(cmd.actor, "namens de goedkeurder beslissen"):
            raise CommandRefused(problems)
    else:
        if not cmd.token:
            raise token_required()
        expired = approvals.check(cmd.token, cmd.registration_id)
    state = await existing(registrations, cmd.registration_id)
    if state.status != "awaiting_approval":
        raise already_decided(state)
    # The signed age and the stored expiry both count: the stored one follows the service's clock.
    if not cmd.by_organizer and (expired or (state.approval_expires_at and now >= state.approval_expires_at)):
        raise token_expired()
    state.decided_at, state.decided_by_organizer = now, cmd.by_organizer
    state.decision_reason = cmd.reason or None
    decision: RegistrationApproved | RegistrationDeclined
    if isinstance(cmd, ApproveRegistration):
        state.status = "approved"
        decision = RegistrationApproved(
            registration_id=state.registration_id,
            edition=state.edition,
            approved_at=now,
            by_organizer=cmd.by_organizer,
            reason=state.decision_reason,
        )
    else:
        state.status = "declined"
        decision = RegistrationDeclined(
            registration_id=state.registration_id,
            edition=state.edition,
            declined_at=now,
            by_organizer=cmd.by_organizer,
            reason=state.decision_reason,
        )
    await tell(decision, emit=emit, history=history, at=now, actor=cmd.actor)
    await registrations.save_state(state)
    return {"registration_id": state.registration_id}


async def request_approval_again(
    registration_id: str,
    *,
    registrations: Registrations,
    approvals: ApprovalLinks,
    emit: Emit,
    history: History,
    now: datetime,
    approval_requests: ApprovalRequests,
) -> dict[str, str]:
    """An organiser sends the approver a new link, e.g. when the first one expired or got lost, or a request held
    by the daily limits. It counts towards those limits but is never held itself: an organiser asked for it."""
    state = await existing(registrations, registration_id)
    if state.status != "awaiting_approval":
        raise already_decided(state)
    if state.erased:
        raise refuse(
            "registration_id",
            "data_erased",
            "De persoonsgegevens van deze aanmelding zijn verwijderd; er is niemand meer om het te vragen.",
        )
    approve_url, state.approval_expires_at = approvals.issue(registration_id, now)
    await approval_requests.release(registration_id, now)
    await approval_requests.add(registration_id, state.approver.email, None, now, held=False)
    await tell(
        ApprovalRequested(
            registration_id=registration_id,
            approver=state.approver,
            approve_url=approve_url,
            expires_at=state.approval_expires_at,
        ),
        emit=emit,
        history=history,
        at=now,
    )
    await registrations.save_state(state)
    return {
        "registration_id": registration_id,
        "approve_url": approve_url,
        "expires_at": state.approval_expires_at.isoformat(),
    }


async def cancel(
    cmd: CancelRegistration,
    *,
    registrations: Registrations,
    emit: Emit,
    history: History,
    now: datetime,
    invoicing: Invoicing | None = None,
) -> dict[str, str]:
    state = await existing(registrations, cmd.registration_id)
    if state.status == "cancelled":
        raise refuse("registration_id", "already_cancelled", "Deze aanmelding is al geannuleerd.")
    if state.status == "declined":
        raise refuse(
            "registration_id",
            "already_declined",
            "Deze aanmelding is afgewezen en doet dus al niet meer mee; annuleren is niet nodig.",
        )
    state.status, state.waitlist_position = "cancelled", None
    state.cancelled_at, state.cancel_reason = now, cmd.reason or None
    await registrations.save_state(state)
    await tell(
        RegistrationCancelled(registration_id=state.registration_id, edition=state.edition, reason=state.cancel_reason),
        emit=emit,
        history=history,
        at=now,
        actor=cmd.actor,
    )
    if invoicing is not None:
        await credit_invoice(state.registration_id, invoicing=invoicing, emit=emit, now=now, actor=cmd.actor)
    return {"registration_id": state.registration_id}


async def follow_placement(
    event: TrioPlaced | TrioWaitlisted | PlaceReleased,
    *,
    registrations: Registrations,
    history: History,
    occurred_at: datetime,
    invoicing: Invoicing | None = None,
    emit: Emit | None = None,
    now: datetime | None = None,
) -> None:
    """Keep the status the trio sees in step with scheduling's places and waitlist (see apply_placement); what
    changed it goes into its history (a stale event, which changes nothing, does not)."""
    state = await registrations.get_state(event.registration_id, for_update=True)
    if state is None:
        return  # not ours (another system's test data, or an edition registration never knew): nothing to show
    placement: Placement
    if isinstance(event, TrioPlaced):
        placement = "placed"
    elif isinstance(event, TrioWaitlisted):
        placement = "waitlisted"
    else:
        placement = "released"
    position = event.position if isinstance(event, TrioWaitlisted) else None
    if apply_placement(state, placement, occurred_at, position):
        await registrations.save_state(state)
        await note(event, history=history, at=occurred_at)
    if state.status == "placed" and invoicing is not None and emit is not None:
        await issue_invoice(state.registration_id, invoicing=invoicing, emit=emit, now=now or occurred_at)


async def erase_participant_data(
    registration_id: str,
    *,
    registrations: Registrations,
    history: History,
    emit: Emit,
    now: datetime,
    actor: Actor | None = None,
) -> bool:
    """Erase a registration's personal data and announce it; False (and nothing emitted) if it already was.

    Erasing twice is not an error: a privacy request repeated, or met by the retention job first, is done.
    """
    state = await existing(registrations, registration_id)
    if state.erased:
        return False
    await registrations.erase(registration_id, now)
    await history.erase(registration_id)
    await tell(ParticipantDataErased(registration_id=registration_id), emit=emit, history=history, at=now, actor=actor)
    return True


async def erase_on_request(
    cmd: EraseParticipantData, *, registrations: Registrations, history: History, emit: Emit, now: datetime
) -> dict[str, str]:
    """EraseParticipantData: the privacy request of a participant (or an organiser on their behalf)."""
    await erase_participant_data(
        cmd.registration_id, registrations=registrations, history=history, emit=emit, now=now, actor=cmd.actor
    )
    return {"registration_id": cmd.registration_id}


async def erase_after_retention(
    *,
    editions: Editions,
    registrations: Registrations,
    erase_one: Callable[[str], Awaitable[bool]],
    now: datetime,
    retention: timedelta,
) -> list[str]:
    """Erase every registration of the editions whose last session ended more than `retention` ago.

    `erase_one` runs erase_participant_data for one registration in a transaction of its own, so replicas
    running this at the same moment take turns on each registration's row and erase it once.
    """
    ended = [e.slug for e in await editions.all() if (end := e.last_session_ends_at()) and end + retention <= now]
    erased = []
    for registration_id in await registrations.unerased_of_editions(ended):
        if await erase_one(registration_id):
            erased.append(registration_id)
    return erased
