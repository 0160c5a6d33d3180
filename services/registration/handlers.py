"""Registration use cases. Each takes its dependencies as arguments so tests can pass in-memory fakes."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from shared.contract import EventData
from shared.contract.registration import (
    ApprovalRequested,
    ApproveRegistration,
    CancelRegistration,
    CreditNoteIssued,
    DeclineRegistration,
    EraseParticipantData,
    DocumentLinks,
    InvoiceIssued,
    InvoiceOverdue,
    InvoiceRecipient,
    MunicipalityInfo,
    ParticipantDataErased,
    PaymentRegistered,
    RegisteredMember,
    RegisterPayment,
    RegisterTrio,
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.scheduling import (
    EditionScheduled,
    PlaceReleased,
    SeatingPlanned,
    SessionRescheduled,
    TrioPlaced,
    TrioWaitlisted,
)
from shared.messaging.messages import CommandRefused, refuse

from .billing import (
    CREDIT_NOTE_SERIES,
    INVOICE_SERIES,
    BillingPolicy,
    CreditNote,
    Invoice,
    InvoiceFacts,
    invoice_number,
    invoice_year,
    is_overdue,
    needs_invoice,
    new_invoice,
    payment_problems,
)
from .domain import (
    Edition,
    Member,
    Municipality,
    Placement,
    Registration,
    RegistrationState,
    apply_placement,
    fee_for,
    has_priority,
    intake_problems,
    preferred_domain_mix,
)
from .invoices import Documents, credit_note_documents, invoice_documents
from .tokens import ApprovalLinks, InvoiceLinks, token_expired, token_required

Emit = Callable[[EventData], object]


class Editions(Protocol):
    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None: ...
    async def all(self) -> list[Edition]: ...
    async def save(self, edition: Edition) -> None: ...


class Registrations(Protocol):
    async def add(self, registration: Registration) -> None: ...
    async def active_member_emails(self, edition: str, emails: list[str]) -> set[str]: ...
    async def get_state(self, registration_id: str, *, for_update: bool = False) -> RegistrationState | None: ...
    async def save_state(self, state: RegistrationState) -> None: ...
    async def erase(self, registration_id: str, now: datetime) -> None: ...
    async def unerased_of_editions(self, editions: list[str]) -> list[str]: ...


class Seating(Protocol):
    async def record(self, edition: str, session_number: int, tables: dict[str, int],
                     planned_at: datetime) -> bool: ...


class Municipalities(Protocol):
    def get(self, code: str) -> Municipality | None: ...


class Billing(Protocol):
    async def next_number(self, series: str, year: int) -> int: ...
    async def facts(self, registration_id: str) -> InvoiceFacts | None: ...
    async def of_registration(self, registration_id: str, *, for_update: bool = False) -> Invoice | None: ...
    async def get(self, number: str, *, for_update: bool = False) -> Invoice | None: ...
    async def add(self, invoice: Invoice, documents: Documents) -> None: ...
    async def save(self, invoice: Invoice) -> None: ...
    async def add_credit_note(self, note: CreditNote, documents: Documents) -> None: ...
    async def add_payment(self, number: str, amount_cents: int, paid_at: datetime, reference: str | None,
                          now: datetime) -> None: ...


@dataclass(frozen=True)
class Invoicing:
    """What the billing use cases need besides the store: the policy from configuration and the trio's links."""

    billing: Billing
    policy: BillingPolicy
    links: InvoiceLinks


async def register_trio(cmd: RegisterTrio, *, editions: Editions, registrations: Registrations,
                        municipalities: Municipalities, approvals: ApprovalLinks, emit: Emit,
                        now: datetime) -> dict[str, str]:
    # Locked first: registrations of one edition then take turns, so the member check below is reliable.
    edition = await editions.get(cmd.edition, for_update=True)
    municipality = municipalities.get(cmd.municipality)
    emails = [str(m.email).lower() for m in cmd.members]
    taken = await registrations.active_member_emails(cmd.edition, emails) if edition else set()
    problems = intake_problems(cmd, edition=edition, municipality=municipality, registered_emails=taken, now=now)
    if problems:
        raise CommandRefused(problems)
    assert edition is not None and municipality is not None  # intake_problems reports both missing
    registration = new_registration(cmd, edition, municipality, now)
    approve_url, registration.approval_expires_at = approvals.issue(registration.registration_id, now)
    await registrations.add(registration)
    emit(trio_registered(registration))
    emit(ApprovalRequested(registration_id=registration.registration_id, approver=registration.approver,
                           approve_url=approve_url, expires_at=registration.approval_expires_at))
    return {"registration_id": registration.registration_id}


def new_registration(cmd: RegisterTrio, edition: Edition, municipality: Municipality, now: datetime) -> Registration:
    members = [
        Member(member_id=str(uuid.uuid4()), name=m.name, email=str(m.email).lower(), role=m.role, domain=m.domain,
               job_title=m.job_title, language=m.language)
        for m in cmd.members
    ]
    return Registration(
        registration_id=str(uuid.uuid4()), edition=edition.slug, municipality=municipality, members=members,
        case=cmd.case, approver=cmd.approver, consent=cmd.consent, invoice=cmd.invoice,
        fee=fee_for(edition, municipality.size_class), priority=has_priority(edition, municipality.size_class),
        preferred_domain_mix=preferred_domain_mix(m.domain for m in members), channel=cmd.channel,
        chat_id=cmd.chat_id, registered_at=now,
    )


def trio_registered(r: Registration) -> TrioRegistered:
    m = r.municipality
    return TrioRegistered(
        registration_id=r.registration_id, edition=r.edition, registered_at=r.registered_at,
        municipality=MunicipalityInfo(code=m.code, name=m.name, province=m.province, inhabitants=m.inhabitants,
                                      size_class=m.size_class, m50_member=m.m50_member),
        members=[RegisteredMember(member_id=p.member_id, name=p.name, email=p.email, role=p.role, domain=p.domain,
                                  language=p.language) for p in r.members],
        case=r.case, fee=r.fee, priority=r.priority, preferred_domain_mix=r.preferred_domain_mix,
        consent=r.consent, channel=r.channel, chat_id=r.chat_id,
    )


async def remember_edition(event: EditionScheduled, *, editions: Editions, occurred_at: datetime) -> None:
    """Keep registration's copy of an edition current (event-carried state)."""
    current = await editions.get(event.edition, for_update=True)
    if current is not None and current.scheduled_at > occurred_at:
        return  # an older announcement delivered late (after a retry, or by another replica) changes nothing
    await editions.save(Edition(
        slug=event.edition, title=event.title, registration_closes_at=event.registration_closes_at,
        registration_deadline=event.registration_deadline,
        fee=event.fee.model_dump(mode="json"), priority_size_classes=list(event.priority_size_classes),
        sessions=[s.model_dump(mode="json") for s in event.sessions], scheduled_at=occurred_at,
    ))


async def follow_reschedule(event: SessionRescheduled, *, editions: Editions, occurred_at: datetime) -> None:
    """Move the session in registration's copy, so the status page shows the new time."""
    current = await editions.get(event.edition, for_update=True)
    if current is None or current.scheduled_at > occurred_at:
        return  # unknown edition, or a later EditionScheduled already carries the newer times
    for session in current.sessions:
        if session["number"] == event.session_number:
            session["starts_at"], session["ends_at"] = event.starts_at.isoformat(), event.ends_at.isoformat()
    current.scheduled_at = occurred_at
    await editions.save(current)


async def follow_seating(event: SeatingPlanned, *, seating: Seating, occurred_at: datetime) -> None:
    """Keep each session's latest seating plan; a replan delivered late does not overwrite a newer one."""
    tables = {rid: table.table for table in event.tables for rid in table.registration_ids}
    await seating.record(event.edition, event.session_number, tables, occurred_at)


# After intake: approval, cancellation, places, erasure


async def existing(registrations: Registrations, registration_id: str) -> RegistrationState:
    """The registration, locked for the rest of the transaction; refused as unknown when there is none."""
    state = await registrations.get_state(registration_id, for_update=True)
    if state is None:
        raise refuse("registration_id", "unknown_registration", "Deze aanmelding kennen we niet.")
    return state


def already_decided(state: RegistrationState) -> CommandRefused:
    what = {"approved": "goedgekeurd", "placed": "goedgekeurd", "waitlisted": "goedgekeurd",
            "declined": "afgewezen", "cancelled": "geannuleerd"}.get(state.status, "afgehandeld")
    return refuse("registration_id", "already_decided",
                  f"Over deze aanmelding is al beslist: ze is {what}. Er is niets veranderd.")


async def decide(cmd: ApproveRegistration | DeclineRegistration, *, registrations: Registrations,
                 approvals: ApprovalLinks, emit: Emit, now: datetime) -> dict[str, str]:
    """The approver's (token) or an organiser's (by_organizer) decision on a registration awaiting approval."""
    expired = False
    if not cmd.by_organizer:
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
    if isinstance(cmd, ApproveRegistration):
        state.status = "approved"
        emit(RegistrationApproved(registration_id=state.registration_id, edition=state.edition, approved_at=now,
                                  by_organizer=cmd.by_organizer))
    else:
        state.status, state.decision_reason = "declined", cmd.reason or None
        emit(RegistrationDeclined(registration_id=state.registration_id, edition=state.edition, declined_at=now,
                                  by_organizer=cmd.by_organizer, reason=state.decision_reason))
    await registrations.save_state(state)
    return {"registration_id": state.registration_id}


async def request_approval_again(registration_id: str, *, registrations: Registrations, approvals: ApprovalLinks,
                                 emit: Emit, now: datetime) -> dict[str, str]:
    """An organiser sends the approver a new link, e.g. when the first one expired or got lost."""
    state = await existing(registrations, registration_id)
    if state.status != "awaiting_approval":
        raise already_decided(state)
    if state.erased:
        raise refuse("registration_id", "data_erased",
                     "De persoonsgegevens van deze aanmelding zijn verwijderd; er is niemand meer om het te vragen.")
    approve_url, state.approval_expires_at = approvals.issue(registration_id, now)
    emit(ApprovalRequested(registration_id=registration_id, approver=state.approver, approve_url=approve_url,
                           expires_at=state.approval_expires_at))
    await registrations.save_state(state)
    return {"registration_id": registration_id, "approve_url": approve_url,
            "expires_at": state.approval_expires_at.isoformat()}


async def cancel(cmd: CancelRegistration, *, registrations: Registrations, emit: Emit,
                 now: datetime, invoicing: Invoicing | None = None) -> dict[str, str]:
    state = await existing(registrations, cmd.registration_id)
    if state.status == "cancelled":
        raise refuse("registration_id", "already_cancelled", "Deze aanmelding is al geannuleerd.")
    if state.status == "declined":
        raise refuse("registration_id", "already_declined",
                     "Deze aanmelding is afgewezen en doet dus al niet meer mee; annuleren is niet nodig.")
    state.status, state.waitlist_position = "cancelled", None
    state.cancelled_at, state.cancel_reason = now, cmd.reason or None
    await registrations.save_state(state)
    emit(RegistrationCancelled(registration_id=state.registration_id, edition=state.edition,
                               reason=state.cancel_reason))
    if invoicing is not None:
        await credit_invoice(state.registration_id, invoicing=invoicing, emit=emit, now=now)
    return {"registration_id": state.registration_id}


async def follow_placement(event: TrioPlaced | TrioWaitlisted | PlaceReleased, *, registrations: Registrations,
                           occurred_at: datetime, invoicing: Invoicing | None = None, emit: Emit | None = None,
                           now: datetime | None = None) -> None:
    """Keep the status the trio sees in step with scheduling's places and waitlist (see apply_placement)."""
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
    if state.status == "placed" and invoicing is not None and emit is not None:
        await issue_invoice(state.registration_id, invoicing=invoicing, emit=emit, now=now or occurred_at)


async def erase_participant_data(registration_id: str, *, registrations: Registrations, emit: Emit,
                                 now: datetime) -> bool:
    """Erase a registration's personal data and announce it; False (and nothing emitted) if it already was.

    Erasing twice is not an error: a privacy request repeated, or met by the retention job first, is done.
    """
    state = await existing(registrations, registration_id)
    if state.erased:
        return False
    await registrations.erase(registration_id, now)
    emit(ParticipantDataErased(registration_id=registration_id))
    return True


async def erase_on_request(cmd: EraseParticipantData, *, registrations: Registrations, emit: Emit,
                           now: datetime) -> dict[str, str]:
    """EraseParticipantData: the privacy request of a participant (or an organiser on their behalf)."""
    await erase_participant_data(cmd.registration_id, registrations=registrations, emit=emit, now=now)
    return {"registration_id": cmd.registration_id}


async def erase_after_retention(*, editions: Editions, registrations: Registrations,
                                erase_one: Callable[[str], Awaitable[bool]], now: datetime,
                                retention: timedelta) -> list[str]:
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


# Billing (rules in billing.py, documents in invoices.py)


def _links(invoicing: Invoicing, number: str, *, credit_note: bool = False) -> DocumentLinks:
    return DocumentLinks(pdf=invoicing.links.url(number, "pdf", credit_note=credit_note),
                         ubl=invoicing.links.url(number, "xml", credit_note=credit_note))


def _recipient(invoice: Invoice) -> InvoiceRecipient:
    return InvoiceRecipient(email=invoice.recipient.email, language=invoice.recipient.language)


async def issue_invoice(registration_id: str, *, invoicing: Invoicing, emit: Emit, now: datetime) -> str | None:
    """Invoice a placed trio that pays the fee, once; the invoice number, or None when none was issued.

    Runs under the registration's row lock (follow_placement), so a second TrioPlaced sees the first invoice.
    The number is taken last, just before the documents are made: the counter row stays locked until commit.
    """
    billing = invoicing.billing
    if await billing.of_registration(registration_id) is not None:
        return None
    facts = await billing.facts(registration_id)
    if facts is None or not needs_invoice(facts.fee):
        return None
    year = invoice_year(now)
    number = invoice_number(invoicing.policy.invoice_prefix, year, await billing.next_number(INVOICE_SERIES, year))
    invoice = new_invoice(facts, number, invoicing.policy, now)
    documents = await invoice_documents(invoice)
    await billing.add(invoice, documents)
    emit(InvoiceIssued(
        invoice_number=number, registration_id=registration_id, edition=invoice.edition,
        municipality=facts.municipality_code, buyer_name=invoice.buyer.name, buyer_reference=invoice.buyer.reference,
        issue_date=invoice.issue_date, due_date=invoice.due_date, amount_cents=invoice.amounts.net_cents,
        vat_cents=invoice.amounts.vat_cents, total_cents=invoice.amounts.total_cents, urls=_links(invoicing, number),
        recipient=_recipient(invoice), attachments=documents.attachments(number),
    ))
    return number


async def credit_invoice(registration_id: str, *, invoicing: Invoicing, emit: Emit, now: datetime) -> str | None:
    """A cancelled registration's invoice is credited in full by a credit note of its own number range."""
    billing = invoicing.billing
    invoice = await billing.of_registration(registration_id, for_update=True)
    if invoice is None or invoice.credited:
        return None
    year = invoice_year(now)
    number = invoice_number(invoicing.policy.credit_note_prefix, year,
                            await billing.next_number(CREDIT_NOTE_SERIES, year))
    note = CreditNote(number=number, invoice=invoice, issued_at=now)
    documents = await credit_note_documents(note)
    await billing.add_credit_note(note, documents)
    invoice.credit_note_number = number
    await billing.save(invoice)
    emit(CreditNoteIssued(
        credit_note_number=number, invoice_number=invoice.number, registration_id=registration_id,
        edition=invoice.edition, issue_date=note.issue_date, amount_cents=invoice.amounts.net_cents,
        vat_cents=invoice.amounts.vat_cents, total_cents=invoice.amounts.total_cents,
        urls=_links(invoicing, number, credit_note=True), recipient=_recipient(invoice),
        attachments=documents.attachments(number),
    ))
    return number


async def register_payment(cmd: RegisterPayment, *, billing: Billing, emit: Emit, now: datetime) -> dict[str, object]:
    invoice = await billing.get(cmd.invoice_number, for_update=True)
    problems = payment_problems(invoice, cmd.amount_cents)
    if problems:
        raise CommandRefused(problems)
    assert invoice is not None
    invoice.paid_cents += cmd.amount_cents
    await billing.add_payment(invoice.number, cmd.amount_cents, cmd.paid_at, cmd.reference, now)
    await billing.save(invoice)
    emit(PaymentRegistered(
        invoice_number=invoice.number, registration_id=invoice.registration_id, edition=invoice.edition,
        amount_cents=cmd.amount_cents, paid_at=cmd.paid_at, reference=cmd.reference, paid_cents=invoice.paid_cents,
        open_cents=invoice.open_cents,
    ))
    return {"invoice_number": invoice.number, "open_cents": invoice.open_cents}


async def flag_overdue(number: str, *, invoicing: Invoicing, emit: Emit, now: datetime) -> bool:
    """InvoiceOverdue once: under the invoice's row lock, so replicas checking at the same moment take turns and
    the second finds it flagged."""
    invoice = await invoicing.billing.get(number, for_update=True)
    if invoice is None or not is_overdue(invoice, now):
        return False
    invoice.overdue_at = now
    await invoicing.billing.save(invoice)
    emit(InvoiceOverdue(
        invoice_number=invoice.number, registration_id=invoice.registration_id, edition=invoice.edition,
        buyer_name=invoice.buyer.name, buyer_reference=invoice.buyer.reference, issue_date=invoice.issue_date,
        due_date=invoice.due_date, total_cents=invoice.amounts.total_cents, open_cents=invoice.open_cents,
        urls=_links(invoicing, invoice.number), recipient=_recipient(invoice),
    ))
    return True
