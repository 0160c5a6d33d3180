"""What organisers may change about a registration after intake: who may (an organiser's actor), replacing a
member of the trio and correcting the case or the invoice details. Pure: no I/O.

The trio after a replacement has to meet the same rules as at intake (a wijkambtenaar, several domains, three
different people, the approver not among them, nobody in another active trio of the edition).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.contract import Actor, ErrorItem
from shared.contract.common import Role
from shared.contract.registration import Case, CorrectRegistration, Fee, Invoice, ReplaceMember

from .domain import CASE_TEXTS, Member, RegistrationState, case_incomplete, error, invoice_problems


@dataclass
class TrioDetails:
    """What a registration holds besides its state: the members in order, the case, the invoice details, the fee."""

    members: list[Member]
    case: Case
    invoice: Invoice | None
    fee: Fee


def organiser_problems(actor: Actor | None, what: str) -> list[ErrorItem]:
    """An organiser's command must say which organiser gave it (the console sets `actor`); `what` completes
    the message, e.g. "namens de goedkeurder beslissen"."""
    if actor is None:
        return [
            error(
                "actor",
                "actor_required",
                f"Alleen een organisator kan {what}; dit verzoek zegt niet welke organisator het geeft.",
            )
        ]
    if actor.role != "organiser":
        return [error("actor", "actor_not_organiser", f"Alleen een organisator kan {what}, geen {actor.role}.")]
    return []


def still_open(state: RegistrationState) -> list[ErrorItem]:
    """A cancelled, declined or erased registration is not changed any more."""
    if state.erased:
        return [
            error(
                "registration_id",
                "data_erased",
                "De persoonsgegevens van deze aanmelding zijn verwijderd; ze kan niet meer worden gewijzigd.",
            )
        ]
    if state.status == "cancelled":
        return [
            error("registration_id", "already_cancelled", "Deze aanmelding is geannuleerd; er is niets te wijzigen.")
        ]
    if state.status == "declined":
        return [error("registration_id", "already_declined", "Deze aanmelding is afgewezen; er is niets te wijzigen.")]
    return []


def member_to_replace(members: list[Member], cmd: ReplaceMember) -> int | ErrorItem:
    """The position of the member the command names (by `member_index` or `member_id`, exactly one)."""
    if (cmd.member_index is None) == (cmd.member_id is None):
        return error(
            "member_index",
            "member_required",
            "Geef aan welk lid van het trio wordt vervangen: met member_index (0, 1 of 2) of met member_id, "
            "niet met allebei.",
        )
    if cmd.member_index is not None:
        if cmd.member_index >= len(members):
            return error("member_index", "unknown_member", "Het trio heeft geen lid op deze plaats.")
        return cmd.member_index
    found = next((i for i, m in enumerate(members) if m.member_id == cmd.member_id), None)
    if found is None:
        return error("member_id", "unknown_member", "Dit lid hoort niet (meer) bij dit trio.")
    return found


def replacement_problems(
    members: list[Member], position: int, new: Member, *, approver_email: str, in_other_trio: bool
) -> list[ErrorItem]:
    """Every reason the trio with `new` at `position` breaks the intake rules (fields under `member`)."""
    others = [m for i, m in enumerate(members) if i != position]
    after = [*others, new]
    problems: list[ErrorItem] = []
    if new.email in {m.email for m in others}:
        problems.append(
            error("member.email", "duplicate_member", "Dit e-mailadres staat al bij een ander lid van het trio.")
        )
    elif in_other_trio:
        problems.append(
            error(
                "member.email",
                "member_already_registered",
                "Deze deelnemer is voor deze editie al aangemeld met een ander trio.",
            )
        )
    if new.email == approver_email.lower():
        problems.append(
            error(
                "member.email",
                "approver_is_member",
                "Wie de deelname goedkeurt (bestuurder of manager), kan niet zelf in het trio zitten.",
            )
        )
    if not any(m.role == Role.wijkambtenaar for m in after):
        problems.append(
            error(
                "member.role",
                "no_wijkambtenaar",
                "Na de vervanging moet minstens één lid van het trio wijkambtenaar zijn.",
            )
        )
    if len({m.domain for m in after}) < 2:
        problems.append(
            error(
                "member.domain",
                "single_domain",
                "Na de vervanging moet het trio nog steeds meerdere beleidsdomeinen vertegenwoordigen.",
            )
        )
    return problems


def changed_fields(details: TrioDetails, case: Case | None, invoice: Invoice | None) -> list[str]:
    """The field paths a correction changes, in a fixed order (`case.title`, ..., `invoice.email`)."""
    changed: list[str] = []
    if case is not None:
        changed += [
            f"case.{name}" for name in (*CASE_TEXTS, "domains") if getattr(case, name) != getattr(details.case, name)
        ]
    if invoice is not None:
        before = details.invoice.model_dump(mode="json") if details.invoice else {}
        after = invoice.model_dump(mode="json")
        changed += [f"invoice.{name}" for name in ("address", "reference", "email") if after[name] != before.get(name)]
    return changed


def correction_problems(
    cmd: CorrectRegistration, details: TrioDetails, *, issued_invoice: str | None
) -> list[ErrorItem]:
    """Every reason to refuse the correction: the intake rules for what it gives, an invoice already issued, or
    nothing that would change."""
    problems: list[ErrorItem] = []
    if cmd.case is not None:
        problems += [case_incomplete(f"case.{name}") for name in CASE_TEXTS if not getattr(cmd.case, name)]
        if len(set(cmd.case.domains)) < 2:
            problems.append(
                error(
                    "case.domains",
                    "case_single_domain",
                    "De casus moet minstens twee beleidsdomeinen met elkaar verbinden.",
                )
            )
    if cmd.invoice is not None:
        if issued_invoice is not None:
            problems.append(
                error(
                    "invoice",
                    "invoice_already_issued",
                    f"Factuur {issued_invoice} is al verstuurd; een verstuurde factuur blijft zoals ze is. "
                    "De factuurgegevens kunnen niet meer worden gecorrigeerd.",
                )
            )
        elif not details.fee.waived and details.fee.amount_cents > 0:
            problems += invoice_problems(cmd.invoice)
    if not problems and not changed_fields(details, cmd.case, cmd.invoice):
        problems.append(
            error(
                "",
                "nothing_to_correct",
                "Er is niets te corrigeren: geef een casus of factuurgegevens die afwijken van wat er nu staat.",
            )
        )
    return problems
