"""Registration rules: municipality size, fee, priority and the intake checks of a trio. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from shared.contract import ErrorItem
from shared.contract.common import Channel, Domain, Language, Role
from shared.contract.registration import Approver, Case, Consent, Fee, Invoice, RegisterTrio

SizeClass = Literal["klein", "middelgroot", "groot"]

# Registrations that hold their members' places; declined and cancelled ones free them.
ACTIVE_STATUSES = ("awaiting_approval", "approved")
PREFERRED_DOMAINS = frozenset({Domain.fysiek, Domain.sociaal})


@dataclass(frozen=True)
class SizeBand:
    """Inhabitants of a middelgroot municipality, both ends inclusive."""

    min_inhabitants: int
    max_inhabitants: int


def size_class(inhabitants: int, m50_member: bool, band: SizeBand) -> SizeClass:
    if m50_member or band.min_inhabitants <= inhabitants <= band.max_inhabitants:
        return "middelgroot"
    return "klein" if inhabitants < band.min_inhabitants else "groot"


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    province: str
    inhabitants: int
    m50_member: bool
    size_class: SizeClass

    @classmethod
    def classified(cls, code: str, name: str, province: str, inhabitants: int, m50_member: bool,
                   band: SizeBand) -> Municipality:
        return cls(code, name, province, inhabitants, m50_member, size_class(inhabitants, m50_member, band))


class MunicipalityRegister:
    """The known municipalities by CBS code."""

    def __init__(self, municipalities: Iterable[Municipality]) -> None:
        self._by_code = {m.code: m for m in municipalities}

    def get(self, code: str) -> Municipality | None:
        return self._by_code.get(code)

    def __len__(self) -> int:
        return len(self._by_code)


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

    def registration_open(self, now: datetime) -> bool:
        return now < self.registration_closes_at


def fee_for(edition: Edition, size: SizeClass) -> Fee:
    if size in edition.fee.get("waived_for_size_classes", []):
        return Fee(amount_cents=0, waived=True, reason=size)
    return Fee(amount_cents=edition.fee["amount_cents"], waived=False)


def has_priority(edition: Edition, size: SizeClass) -> bool:
    return size in edition.priority_size_classes


def preferred_domain_mix(domains: Iterable[Domain]) -> bool:
    return PREFERRED_DOMAINS <= set(domains)


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
    status: str = "awaiting_approval"


def error(field: str, code: str, message: str) -> ErrorItem:
    return ErrorItem(field=field, code=code, message=message)


def intake_problems(cmd: RegisterTrio, *, edition: Edition | None, municipality: Municipality | None,
                    registered_emails: set[str], now: datetime) -> list[ErrorItem]:
    """Every reason to refuse the registration, so the participant can fix them all at once.

    `registered_emails`: those of the trio's (lower-cased) emails that already belong to another active
    registration of the same edition.
    """
    problems: list[ErrorItem] = []
    if edition is None:
        problems.append(error("edition", "unknown_edition", "Deze editie bestaat niet."))
    elif not edition.registration_open(now):
        problems.append(error("edition", "registration_closed", "De aanmelding voor deze editie is gesloten."))
    if municipality is None:
        problems.append(error("municipality", "unknown_municipality",
                              "Deze gemeentecode kennen we niet. Gebruik de CBS-code van de gemeente, "
                              "bijvoorbeeld GM0344 voor Utrecht."))
    if not cmd.consent.privacy:
        problems.append(error("consent.privacy", "privacy_consent_required",
                              "Geef toestemming voor het verwerken van de persoonsgegevens; zonder die "
                              "toestemming kunnen we de aanmelding niet aannemen."))
    problems += member_problems(cmd, registered_emails)
    if len(set(cmd.case.domains)) < 2:
        problems.append(error("case.domains", "case_single_domain",
                              "De casus moet minstens twee beleidsdomeinen met elkaar verbinden."))
    if edition is not None and municipality is not None:
        if fee_for(edition, municipality.size_class).amount_cents > 0 and cmd.invoice is None:
            problems.append(error("invoice", "invoice_required",
                                  "Voor deze aanmelding is een eigen bijdrage verschuldigd: vul de "
                                  "factuurgegevens in."))
    return problems


def member_problems(cmd: RegisterTrio, registered_emails: set[str]) -> list[ErrorItem]:
    problems: list[ErrorItem] = []
    if not any(m.role == Role.wijkambtenaar for m in cmd.members):
        problems.append(error("members", "no_wijkambtenaar",
                              "Minstens één lid van het trio moet wijkambtenaar zijn (bijvoorbeeld "
                              "wijkmanager, wijkregisseur of gebiedsregisseur)."))
    if len({m.domain for m in cmd.members}) < 2:
        problems.append(error("members", "single_domain",
                              "Het trio moet meerdere beleidsdomeinen vertegenwoordigen, bij voorkeur het "
                              "fysieke en het sociale domein."))
    seen: set[str] = set()
    for index, member in enumerate(cmd.members):
        email = str(member.email).lower()
        if email in seen:
            problems.append(error(f"members[{index}].email", "duplicate_member",
                                  "Dit e-mailadres staat al bij een ander lid van het trio."))
        elif email in registered_emails:
            problems.append(error(f"members[{index}].email", "member_already_registered",
                                  "Deze deelnemer is voor deze editie al aangemeld met een ander trio."))
        seen.add(email)
    if str(cmd.approver.email).lower() in seen:
        problems.append(error("approver.email", "approver_is_member",
                              "Wie de deelname goedkeurt (bestuurder of manager), kan niet zelf in het trio "
                              "zitten."))
    return problems
