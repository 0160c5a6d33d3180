"""Registration rules: fee, priority, the intake checks of a trio, and what happens to a registration afterwards
(approval, places, cancellation, erasure). Pure: no I/O. A municipality's size class is reference data
(shared/municipalities.py), shared with the chat front end."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.contract import ErrorItem
from shared.contract.common import Channel, Domain, Language, Role
from shared.contract.registration import Approver, Case, Consent, Fee, Invoice, RegisterTrio
from shared.municipalities import Municipality, SizeClass
from shared.placement import ACTIVE_STATUSES as ACTIVE_STATUSES  # the status rule is shared/placement.py
from shared.placement import Placement as Placement
from shared.placement import Standing, Status, after_placement

PREFERRED_DOMAINS = frozenset({Domain.fysiek, Domain.sociaal})
CASE_TEXTS = ("title", "neighbourhood", "summary")
CASE_TEXT_FIELDS = tuple(f"case.{name}" for name in CASE_TEXTS)
MAX_EDITION_LENGTH = 64  # the editions table's key
# What erased personal data and free text are replaced with. Member addresses are replaced too, so an erased
# registration no longer blocks its members from another trio of the same edition (`member_already_registered`):
# we cannot recognise people we no longer know, and keeping a hash of their address would keep personal data.
# An erased trio keeps its status and place; it is just anonymous.
ERASED = "[verwijderd]"


class MunicipalityRegister:
    """The known municipalities by CBS code."""

    def __init__(self, municipalities: Iterable[Municipality]) -> None:
        self._by_code = {m.code: m for m in municipalities}

    def get(self, code: str) -> Municipality | None:
        return self._by_code.get(code)

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Municipality]:
        return iter(self._by_code.values())


@dataclass
class Edition:
    """Registration's copy of an edition, from scheduling.EditionScheduled."""

    slug: str
    title: str
    registration_closes_at: datetime
    fee: dict[str, Any]  # {"amount_cents": int, "waived_for_size_classes": [size class]}
    priority_size_classes: list[str]
    sessions: list[dict[str, Any]]
    scheduled_at: datetime  # occurred_at of the EditionScheduled this copy came from
    # When places are allocated; None only for copies stored before registration kept it.
    registration_deadline: datetime | None = None

    def registration_open(self, now: datetime) -> bool:
        return now < self.registration_closes_at

    def allocated(self, now: datetime) -> bool:
        """The places are allocated (the deadline or an organiser's CloseRegistration): a trio registering now gets
        a free place at once after its approval, or the waitlist."""
        return self.registration_deadline is not None and self.registration_deadline <= now

    def stopped(self, now: datetime) -> bool:
        """Registration has closed while the sessions are still to come (an organiser's StopRegistration, or a
        closing moment set before the first session)."""
        first = self.first_session_starts_at()
        return not self.registration_open(now) and first is not None and now < first

    def first_session_starts_at(self) -> datetime | None:
        starts = [datetime.fromisoformat(str(s["starts_at"])) for s in self.sessions if s.get("starts_at")]
        return min(starts, default=None)

    def last_session_ends_at(self) -> datetime | None:
        ends = [datetime.fromisoformat(str(s["ends_at"])) for s in self.sessions if s.get("ends_at")]
        return max(ends, default=None)


# How far back a registration's moment may be put: the first receipt of a command that waited in the retry queues.
MAX_RECEIPT_AGE = timedelta(minutes=5)


def registered_moment(now: datetime, received_at: datetime | None) -> datetime:
    """A trio's `registered_at`, which orders the allocation and the waitlist: when registration first received
    the command, so a command that waited for its edition (NotYetKnown) loses no place to ones sent after it.
    Bounded by MAX_RECEIPT_AGE and never later than now, so a wrong moment cannot move a trio far."""
    if received_at is None:
        return now
    return min(now, max(received_at, now - MAX_RECEIPT_AGE))


def fee_for(edition: Edition, size: SizeClass) -> Fee:
    if size in edition.fee.get("waived_for_size_classes", []):
        return Fee(amount_cents=0, waived=True, reason=size)
    return Fee(amount_cents=edition.fee["amount_cents"], waived=False)


def has_priority(edition: Edition, size: SizeClass) -> bool:
    return size in edition.priority_size_classes


def preferred_domain_mix(domains: Iterable[Domain]) -> bool:
    return set(domains) >= PREFERRED_DOMAINS


@dataclass
class Member:
    member_id: str
    name: str
    email: str  # lower-cased
    role: Role
    domain: Domain
    job_title: str | None
    language: Language


@dataclass
class Registration:
    registration_id: str
    edition: str
    municipality: Municipality
    members: list[Member]
    case: Case
    approver: Approver
    consent: Consent
    invoice: Invoice | None
    fee: Fee
    priority: bool
    preferred_domain_mix: bool
    channel: Channel
    chat_id: str | None
    registered_at: datetime
    status: Status = "awaiting_approval"
    approval_expires_at: datetime | None = None


@dataclass
class RegistrationState:
    """What happens to a registration after intake: approval, places, cancellation, erasure."""

    registration_id: str
    edition: str
    status: Status
    approver: Approver
    approval_expires_at: datetime | None = None
    waitlist_position: int | None = None
    decided_at: datetime | None = None
    decided_by_organizer: bool | None = None
    decision_reason: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    # occurred_at of the last scheduling event applied: an older one arriving late changes nothing.
    placement_updated_at: datetime | None = None
    erased_at: datetime | None = None

    @property
    def erased(self) -> bool:
        return self.erased_at is not None


def apply_placement(
    state: RegistrationState, placement: Placement, occurred_at: datetime, position: int | None = None
) -> bool:
    """Follow scheduling's word on places (event-carried state, tolerating late and out-of-order events by the
    rule in shared/placement.py); False when the event changes nothing. A TrioPlaced for a trio that cancelled
    meanwhile does not bring it back: scheduling releases the place when it sees the cancellation."""
    after = after_placement(
        Standing(state.status, state.waitlist_position, state.placement_updated_at), placement, occurred_at, position
    )
    if after is None:
        return False
    state.status, state.waitlist_position = after.status, after.waitlist_position
    state.placement_updated_at = after.placement_at
    return True


def erased_case(case: dict[str, Any]) -> dict[str, Any]:
    """The case without its free text; the policy domains stay for the statistics."""
    return {**case, "title": ERASED, "neighbourhood": ERASED, "summary": ERASED}


def erased_event_data(message_type: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """An event of ours still waiting in the outbox, without personal data; None: drop it altogether.

    ApprovalRequested is dropped: with the approver's address gone there is nobody left to ask (and an
    anonymised address would not pass the contract's email check at the consumer).
    """
    if message_type == "ApprovalRequested":
        return None
    data = dict(data)
    if "members" in data:
        data["members"] = [{**m, "name": ERASED, "email": ERASED} for m in data["members"]]
    if isinstance(data.get("member"), dict):  # MemberReplaced
        data["member"] = {**data["member"], "name": ERASED, "email": ERASED}
    if isinstance(data.get("case"), dict):
        data["case"] = erased_case(data["case"])
    if data.get("reason"):
        data["reason"] = ERASED
    if data.get("chat_id"):
        data["chat_id"] = None
    if isinstance(data.get("recipient"), dict):  # billing events: the mailbox may be a participant's own address
        data["recipient"] = {**data["recipient"], "email": ERASED}
    return data


def error(field: str, code: str, message: str) -> ErrorItem:
    return ErrorItem(field=field, code=code, message=message)


def intake_problems(
    cmd: RegisterTrio,
    *,
    edition: Edition | None,
    municipality: Municipality | None,
    registered_emails: set[str],
    now: datetime,
) -> list[ErrorItem]:
    """Every reason to refuse the registration, so the participant can fix them all at once.

    `registered_emails`: those of the trio's (lower-cased) emails that already belong to another active
    registration of the same edition.
    """
    problems: list[ErrorItem] = []
    if len(cmd.edition) > MAX_EDITION_LENGTH:
        problems.append(error("edition", "schema", f"Deze tekst is te lang (hoogstens {MAX_EDITION_LENGTH} tekens)."))
    elif edition is None:
        problems.append(error("edition", "unknown_edition", "Deze editie bestaat niet."))
    elif not edition.registration_open(now):
        problems.append(error("edition", "registration_closed", "De aanmelding voor deze editie is gesloten."))
    if municipality is None:
        problems.append(
            error(
                "municipality",
                "unknown_municipality",
                "Deze gemeentecode kennen we niet. Gebruik de CBS-code van de gemeente, "
                "bijvoorbeeld GM0344 voor Utrecht.",
            )
        )
    if not cmd.consent.privacy:
        problems.append(
            error(
                "consent.privacy",
                "privacy_consent_required",
                "Geef toestemming voor het verwerken van de persoonsgegevens; zonder die "
                "toestemming kunnen we de aanmelding niet aannemen.",
            )
        )
    problems += member_problems(cmd, registered_emails)
    problems += [case_incomplete(f"case.{name}") for name in CASE_TEXTS if not getattr(cmd.case, name)]
    if len(set(cmd.case.domains)) < 2:
        problems.append(
            error(
                "case.domains",
                "case_single_domain",
                "De casus moet minstens twee beleidsdomeinen met elkaar verbinden.",
            )
        )
    if edition is not None and municipality is not None and fee_for(edition, municipality.size_class).amount_cents:
        problems += invoice_problems(cmd.invoice)
    return problems


def invoice_problems(invoice: Invoice | None) -> list[ErrorItem]:
    if invoice is None:
        return [
            error(
                "invoice",
                "invoice_required",
                "Voor deze aanmelding is een eigen bijdrage verschuldigd: vul de factuurgegevens in.",
            )
        ]
    return [
        error(f"invoice.{name}", "invoice_required", f"Vul {what} in: er is een eigen bijdrage verschuldigd.")
        for name, what in (("address", "het factuuradres"), ("reference", "het inkoopnummer of kenmerk"))
        if not getattr(invoice, name)
    ]


def case_incomplete(field: str) -> ErrorItem:
    what = {
        "case.title": "De titel van de casus",
        "case.neighbourhood": "De wijk of buurt",
        "case.summary": "De beschrijving van de casus",
    }[field]
    return error(
        field, "case_incomplete", f"{what} ontbreekt: een casus heeft een titel, een wijk en een korte beschrijving."
    )


def trio_size(count: int | None) -> ErrorItem:
    found = f" (nu {count})" if count is not None else ""
    return error("members", "trio_size", f"Een trio bestaat uit precies drie deelnemers{found}.")


def refine_intake_errors(errors: list[ErrorItem], payload: Any) -> list[ErrorItem]:
    """Give the schema errors that break an intake rule that rule's own code.

    `payload` is the command body as sent (the errors alone do not tell a list of two members from no list).
    """
    if not isinstance(payload, dict):
        return errors
    members = payload.get("members")
    case = payload.get("case")
    refined: list[ErrorItem] = []
    for e in errors:
        if e.code == "schema" and e.field == "members" and isinstance(members, list) and len(members) != 3:
            refined.append(trio_size(len(members)))
        elif (
            e.code == "schema"
            and e.field in CASE_TEXT_FIELDS
            and isinstance(case, dict)
            and _blank(case.get(e.field.removeprefix("case.")))
        ):
            refined.append(case_incomplete(e.field))
        else:
            refined.append(e)
    return refined


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def member_problems(cmd: RegisterTrio, registered_emails: set[str]) -> list[ErrorItem]:
    problems: list[ErrorItem] = []
    if not any(m.role == Role.wijkambtenaar for m in cmd.members):
        problems.append(
            error(
                "members",
                "no_wijkambtenaar",
                "Minstens één lid van het trio moet wijkambtenaar zijn (bijvoorbeeld "
                "wijkmanager, wijkregisseur of gebiedsregisseur).",
            )
        )
    if len({m.domain for m in cmd.members}) < 2:
        problems.append(
            error(
                "members",
                "single_domain",
                "Het trio moet meerdere beleidsdomeinen vertegenwoordigen, bij voorkeur het "
                "fysieke en het sociale domein.",
            )
        )
    seen: set[str] = set()
    for index, member in enumerate(cmd.members):
        email = str(member.email).lower()
        if email in seen:
            problems.append(
                error(
                    f"members[{index}].email",
                    "duplicate_member",
                    "Dit e-mailadres staat al bij een ander lid van het trio.",
                )
            )
        elif email in registered_emails:
            problems.append(
                error(
                    f"members[{index}].email",
                    "member_already_registered",
                    "Deze deelnemer is voor deze editie al aangemeld met een ander trio.",
                )
            )
        seen.add(email)
    if str(cmd.approver.email).lower() in seen:
        problems.append(
            error(
                "approver.email",
                "approver_is_member",
                "Wie de deelname goedkeurt (bestuurder of manager), kan niet zelf in het trio zitten.",
            )
        )
    return problems


@dataclass(frozen=True)
class SessionView:
    """One session as the status page of a placed trio shows it, with the trio's table once seating is planned."""

    number: int
    title: str
    starts_at: datetime
    ends_at: datetime
    table: int | None


def sessions_of(edition: Edition, tables: dict[int, int]) -> list[SessionView]:
    """The edition's sessions in order, each with the trio's table from `tables` (session number -> table)."""
    return [
        SessionView(
            number=int(s["number"]),
            title=str(s["title"]),
            starts_at=datetime.fromisoformat(str(s["starts_at"])),
            ends_at=datetime.fromisoformat(str(s["ends_at"])),
            table=tables.get(int(s["number"])),
        )
        for s in sorted(edition.sessions, key=lambda s: int(s["number"]))
    ]


@dataclass(frozen=True)
class RegistrationView:
    """A registration as the participant's status page and the approval page show it."""

    registration_id: str
    edition: str
    edition_title: str
    status: Status
    waitlist_position: int | None
    municipality_name: str
    size_class: SizeClass
    case: Case
    fee: Fee
    members: list[tuple[str, str, str]]  # (name, role, domain) in the order registered
    approver_name: str
    approval_expires_at: datetime | None
    registered_at: datetime
    erased: bool
    sessions: list[SessionView] = field(default_factory=list)
