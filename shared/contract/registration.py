"""Messages of the registration service: trios, their case, approval, fee and personal data."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, EmailStr, Field

from .common import Channel, Command, CommandRejected, ContractModel, Domain, EventData, Language, OneLine, Role

# Registration's invoicing events have a module of their own (invoicing.py); they are registration's messages.
from .invoicing import Attachment as Attachment
from .invoicing import CreditNoteIssued as CreditNoteIssued
from .invoicing import DocumentLinks as DocumentLinks
from .invoicing import InvoiceIssued as InvoiceIssued
from .invoicing import InvoiceOverdue as InvoiceOverdue
from .invoicing import InvoiceRecipient as InvoiceRecipient
from .invoicing import InvoiceResent as InvoiceResent
from .invoicing import PaymentRegistered as PaymentRegistered


class Member(ContractModel):
    name: OneLine = Field(min_length=1, max_length=200)
    email: EmailStr
    role: Role
    domain: Domain
    job_title: OneLine | None = Field(default=None, max_length=200)
    language: Language = Language.nl


class Case(ContractModel):
    """The trio's local case: a strategic task with a neighbourhood component."""

    title: str = Field(max_length=200)
    neighbourhood: str = Field(max_length=200)
    summary: str = Field(max_length=5000)
    domains: list[Domain] = Field(max_length=6)


class CaseGiven(Case):
    """The case as a command gives it: title and neighbourhood on one line (events carry `Case`, as before)."""

    title: OneLine = Field(max_length=200)
    neighbourhood: OneLine = Field(max_length=200)


class Approver(ContractModel):
    """The administrator or manager who approves the trio's participation."""

    name: str = Field(min_length=1, max_length=200)
    email: EmailStr


class ApproverGiven(Approver):
    """The approver as a command gives them: the name on one line (events carry `Approver`, as before)."""

    name: OneLine = Field(min_length=1, max_length=200)


class Consent(ContractModel):
    privacy: bool = Field(description="Consent to the processing of personal data; required.")
    publish_municipality_name: bool = Field(
        default=False, description="Whether public reports may name the municipality."
    )


class Invoice(ContractModel):
    address: str = Field(
        max_length=1000,
        description="Postal address for the invoice, lines separated by newlines; the last line `1234 AB Plaats`.",
    )
    reference: OneLine = Field(max_length=200, description="The municipality's own purchase reference.")
    email: EmailStr | None = Field(
        default=None,
        description="Where invoices are sent (e.g. the accounts payable "
        "mailbox); left out: the trio's (first) wijkambtenaar. Added in contract 1.1.",
    )


# Commands


class RegisterTrio(Command):
    """Register a trio of civil servants of one municipality, with their case, for an edition."""

    routing_key = "registration.RegisterTrio"

    edition: str = Field(description="Slug of the edition, e.g. `2027-najaar`.")
    municipality: str = Field(description='CBS municipality code, e.g. "GM0344".', pattern=r"^GM\d{4}$")
    members: list[Member] = Field(min_length=3, max_length=3)
    case: CaseGiven
    approver: ApproverGiven
    consent: Consent
    invoice: Invoice | None = None
    channel: Channel = Channel.web
    chat_id: OneLine | None = Field(default=None, max_length=300)


class ApproveRegistration(Command):
    """Approve a registration: by the approver (with the token from the approval link) or by an organiser on the
    approver's behalf (`by_organizer`, with an `actor` of role `organiser`)."""

    routing_key = "registration.ApproveRegistration"

    registration_id: str
    token: str | None = None
    by_organizer: bool = False
    reason: str | None = Field(
        default=None,
        max_length=2000,
        description="Why an organiser decided on the approver's behalf (e.g. the approver's mail); kept in the "
        "registration's history. Added in contract 1.2.",
    )


class DeclineRegistration(Command):
    """Decline a registration: by the approver (token) or by an organiser on the approver's behalf (`by_organizer`,
    with an `actor` of role `organiser`)."""

    routing_key = "registration.DeclineRegistration"

    registration_id: str
    token: str | None = None
    by_organizer: bool = False
    reason: str | None = Field(default=None, max_length=2000)


class CancelRegistration(Command):
    routing_key = "registration.CancelRegistration"

    registration_id: str
    reason: str | None = Field(default=None, max_length=2000)


class EraseParticipantData(Command):
    """Privacy request: remove the personal data of a registration's members and approver."""

    routing_key = "registration.EraseParticipantData"

    registration_id: str


class RegisterPayment(Command):
    """An organiser records a payment received on an invoice (a bank statement line)."""

    routing_key = "registration.RegisterPayment"

    invoice_number: OneLine = Field(max_length=32, description="The invoice paid, e.g. `WP-2027-0001`.")
    amount_cents: int = Field(gt=0, le=100_000_000, description="Amount received, in euro cents.")
    paid_at: AwareDatetime = Field(description="When the money arrived (value date).")
    reference: OneLine | None = Field(
        default=None, max_length=200, description="The bank's or payer's reference, for the bookkeeping."
    )


class IssueCreditNote(Command):
    """An organiser credits an invoice in full without cancelling the registration (e.g. a wrong buyer or
    reference: the bookkeeping credits it and settles the rest by hand). Registration publishes
    `registration.CreditNoteIssued`, as it does when an invoiced registration is cancelled. Added in contract 1.3."""

    routing_key = "registration.IssueCreditNote"

    invoice_number: OneLine = Field(max_length=32, description="The invoice to credit, e.g. `WP-2027-0001`.")
    reason: OneLine = Field(
        min_length=1, max_length=300, description="Why it is credited; printed on the credit note (Dutch), one line."
    )


class ResendInvoice(Command):
    """An organiser sends the invoice mail again (e.g. the municipality lost it), with the documents as issued, to
    the invoice's mailbox as it is now. Registration publishes `registration.InvoiceResent`. Added in contract 1.3."""

    routing_key = "registration.ResendInvoice"

    invoice_number: OneLine = Field(max_length=32, description="The invoice to send again, e.g. `WP-2027-0001`.")


class ReplaceMember(Command):
    """An organiser replaces one member of a trio by someone else (e.g. a colleague who took over the job).

    The old member is named by `member_index` (0-2, the position in the trio as registered) or by `member_id`
    (from `GET /api/registrations/{registration_id}`); give exactly one. Added in contract 1.2."""

    routing_key = "registration.ReplaceMember"

    registration_id: str
    member_index: int | None = Field(default=None, ge=0, le=2, description="Position of the member to replace.")
    member_id: str | None = Field(default=None, max_length=36, description="Id of the member to replace.")
    member: Member = Field(description="The new member.")
    reason: str = Field(min_length=1, max_length=2000, description="Why; kept in the registration's history.")


class CorrectRegistration(Command):
    """An organiser corrects the case text or the invoice details of a registration. A part left out stays as it
    is; a part given replaces the stored one whole. Added in contract 1.2."""

    routing_key = "registration.CorrectRegistration"

    registration_id: str
    case: CaseGiven | None = None
    invoice: Invoice | None = Field(
        default=None, description="Only while no invoice has been issued (`invoice_already_issued` otherwise)."
    )
    reason: str = Field(min_length=1, max_length=2000, description="Why; kept in the registration's history.")


# Events


class MunicipalityInfo(ContractModel):
    code: str
    name: str
    province: str
    inhabitants: int
    size_class: Literal["klein", "middelgroot", "groot"]
    m50_member: bool


class RegisteredMember(ContractModel):
    member_id: str
    name: str
    email: str
    role: Role
    domain: Domain
    language: Language


class Fee(ContractModel):
    amount_cents: int
    currency: Literal["EUR"] = "EUR"
    waived: bool
    reason: str | None = Field(default=None, description="Why the fee is waived, e.g. `middelgroot`.")


class TrioRegistered(EventData):
    routing_key = "registration.TrioRegistered"

    registration_id: str
    edition: str
    registered_at: AwareDatetime
    municipality: MunicipalityInfo
    members: list[RegisteredMember]
    case: Case
    fee: Fee
    priority: bool = Field(description="Whether the municipality's size class has priority in allocation.")
    preferred_domain_mix: bool = Field(description="Whether the trio covers both the fysiek and sociaal domain.")
    consent: Consent
    channel: Channel
    chat_id: str | None = None


class ApprovalRequested(EventData):
    routing_key = "registration.ApprovalRequested"

    registration_id: str
    approver: Approver
    approve_url: str
    expires_at: AwareDatetime
    held: bool = Field(
        default=False,
        description="The request is held, not mailed: the approver's address (or the registering client) reached "
        "its daily number of approval requests. It stays visible in the registration's history; an organiser "
        "sends it with POST /api/registrations/{id}/approval-request. Added in contract 1.5.",
    )


class MemberAddress(ContractModel):
    """A member's address and the language their mail is written in."""

    email: EmailStr
    language: Language
    registration_id: str | None = Field(
        default=None, description="The registration they are in: its erasure erases what was sent to them too."
    )


class RegistrationAttemptRefused(EventData):
    """A registration was refused because members in it already take part in the edition with another trio
    (`member_already_registered`). The public answer does not say so (it would tell anyone who is registered);
    notifications tells the members themselves instead. The refusal itself is the CommandRejected of the
    RegisterTrio this event's `causation_id` names. Added in contract 1.5."""

    routing_key = "registration.RegistrationAttemptRefused"

    edition: str
    attempted_at: AwareDatetime
    municipality: str = Field(description="The municipality's name from the CBS list, the only detail mailed.")
    already_registered: list[MemberAddress] = Field(
        min_length=1, description="The addresses already registered (with the attempt's language for each)."
    )


class RegistrationApproved(EventData):
    routing_key = "registration.RegistrationApproved"

    registration_id: str
    edition: str
    approved_at: AwareDatetime
    by_organizer: bool
    reason: str | None = Field(default=None, description="The organiser's reason, when given. Added in contract 1.2.")


class RegistrationDeclined(EventData):
    routing_key = "registration.RegistrationDeclined"

    registration_id: str
    edition: str
    declined_at: AwareDatetime
    by_organizer: bool
    reason: str | None = None


class RegistrationCancelled(EventData):
    routing_key = "registration.RegistrationCancelled"

    registration_id: str
    edition: str
    reason: str | None = None


class ParticipantDataErased(EventData):
    routing_key = "registration.ParticipantDataErased"

    registration_id: str


class MemberReplaced(EventData):
    """One member of a trio was replaced by an organiser; the old member's personal data is erased from the trio.

    Consumers that keep the trio's members replace the one at `position` (whose id was `replaced_member_id`) by
    `member`. Added in contract 1.2."""

    routing_key = "registration.MemberReplaced"

    registration_id: str
    edition: str
    replaced_at: AwareDatetime
    position: int = Field(description="Position in the trio (0-2) of the member replaced, as in TrioRegistered.")
    replaced_member_id: str
    member: RegisteredMember = Field(description="The new member, with a new member_id.")
    preferred_domain_mix: bool = Field(description="Whether the trio, with the new member, covers fysiek and sociaal.")
    reason: str


class RegistrationCorrected(EventData):
    """An organiser corrected a registration's case or invoice details. Added in contract 1.2."""

    routing_key = "registration.RegistrationCorrected"

    registration_id: str
    edition: str
    corrected_at: AwareDatetime
    changed: list[str] = Field(
        description="The fields that changed, e.g. `case.title`, `case.domains`, `invoice.reference`."
    )
    case: Case | None = Field(default=None, description="The whole case after the correction, when it changed.")
    reason: str


class RegistrationCommandRejected(CommandRejected):
    routing_key = "registration.CommandRejected"
