"""What the console does with one registration, for its pages and its API alike: who may read or act on it, the
command each action publishes with the fields the console fills in itself, and the reasons it asks for.

Reading goes to registration's query API (`GET /api/registrations`, `GET /api/registrations/{id}`); acting
publishes registration's commands (approve, decline, cancel, erase, correct, replace a member) and scheduling's
(place by hand, move on the waitlist) through `acting.perform`, so each carries the account as its actor and is
in the audit log. A facilitator's reach is an edition, so the registration is read before its edition is checked;
a role that may not act at all is refused before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field, RootModel, ValidationError, create_model
from starlette.requests import Request

from shared.contract import Command, ErrorItem
from shared.contract.registration import (
    ApproveRegistration,
    CancelRegistration,
    CorrectRegistration,
    DeclineRegistration,
    EraseParticipantData,
    ReplaceMember,
)
from shared.contract.scheduling import MoveOnWaitlist, PlaceTrio
from shared.messaging.errors import validation_errors

from ..domain import PERMISSIONS, Action, may
from .access import Caller, Forbidden, NotSignedIn, signed_in
from .acting import ServiceUnavailable, read

Registration = dict[str, Any]  # as registration's GET /api/registrations/{id} answers

REASON_MAX: Final = 2000
REASON_REQUIRED: Final = "Geef een reden. Die wordt bewaard en getoond in de geschiedenis van de aanmelding."
CONFIRM_REQUIRED: Final = "Bevestig dat de persoonsgegevens van dit trio definitief gewist moeten worden."

# The fields of a command the console fills in from the registration as read, never from what the caller sent.
FILLERS: Final[Mapping[str, Callable[[Registration], Any]]] = {
    "registration_id": lambda r: r["registration_id"],
    "edition": lambda r: r["edition"],
    "by_organizer": lambda r: True,  # the console decides on the approver's behalf; the approver has a link
}


@dataclass(frozen=True)
class RegistrationAction:
    name: str  # its path segment: POST .../registrations/{id}/<name>
    command: type[Command]
    fills: tuple[str, ...]  # keys of FILLERS
    summary: str  # Dutch: what it does (the API's summary, the page's button)
    done: str  # Dutch: what the page says once it is done
    reason_required: bool = True
    confirm: bool = False  # the caller confirms it explicitly (`"confirm": true`): it cannot be undone

    def fixed(self, registration: Registration) -> dict[str, Any]:
        return {name: FILLERS[name](registration) for name in self.fills}


ACTIONS: Final[Mapping[str, RegistrationAction]] = {
    action.name: action
    for action in (
        RegistrationAction(
            "approve",
            ApproveRegistration,
            ("registration_id", "by_organizer"),
            "Goedkeuren namens de goedkeurder (met een reden)",
            "De aanmelding is goedgekeurd namens de goedkeurder.",
        ),
        RegistrationAction(
            "decline",
            DeclineRegistration,
            ("registration_id", "by_organizer"),
            "Afwijzen namens de goedkeurder (met een reden)",
            "De aanmelding is afgewezen namens de goedkeurder.",
        ),
        RegistrationAction(
            "cancel",
            CancelRegistration,
            ("registration_id",),
            "De aanmelding annuleren",
            "De aanmelding is geannuleerd.",
            reason_required=False,
        ),
        RegistrationAction(
            "erase",
            EraseParticipantData,
            ("registration_id",),
            "De persoonsgegevens wissen (met bevestiging; niet terug te draaien)",
            "De persoonsgegevens van dit trio zijn gewist.",
            reason_required=False,
            confirm=True,
        ),
        RegistrationAction(
            "correct",
            CorrectRegistration,
            ("registration_id",),
            "De casus of de factuurgegevens corrigeren (met een reden)",
            "De correctie is opgeslagen.",
        ),
        RegistrationAction(
            "replace-member",
            ReplaceMember,
            ("registration_id",),
            "Een lid van het trio vervangen (met een reden)",
            "Het lid is vervangen. Het nieuwe lid krijgt de welkomstmail en de uitnodigingen.",
        ),
        RegistrationAction(
            "place",
            PlaceTrio,
            ("edition", "registration_id"),
            "Het trio met de hand plaatsen (met een reden)",
            "Het trio heeft met de hand een plaats gekregen.",
        ),
        RegistrationAction(
            "move",
            MoveOnWaitlist,
            ("edition", "registration_id"),
            "Het trio naar een andere plek op de wachtlijst zetten (met een reden)",
            "Het trio staat nu op de gekozen plek van de wachtlijst.",
        ),
    )
}


@dataclass(frozen=True)
class Prepared:
    command: Command
    reason: str  # for the audit log, also when the command itself has no reason field


def prepare(
    action: RegistrationAction, given: Mapping[str, Any], registration: Registration
) -> Prepared | list[ErrorItem]:
    """The command ACTION publishes for GIVEN (the caller's fields) on REGISTRATION, or every reason it cannot."""
    errors: list[ErrorItem] = []
    fields = {key: value for key, value in given.items() if key != "confirm"}
    reason = fields.get("reason")
    reason_text = reason.strip() if isinstance(reason, str) else ""
    if action.reason_required and not reason_text:
        errors.append(ErrorItem(field="reason", code="reason_required", message=REASON_REQUIRED))
    if action.confirm and given.get("confirm") is not True:
        errors.append(ErrorItem(field="confirm", code="confirmation_required", message=CONFIRM_REQUIRED))
    if "reason" not in action.command.model_fields:
        # Erasing keeps no reason in the registration (its data goes); the audit log keeps it.
        if (reason is not None and not isinstance(reason, str)) or len(reason_text) > REASON_MAX:
            errors.append(ErrorItem(field="reason", code="schema", message=f"Hoogstens {REASON_MAX} tekens tekst."))
        fields.pop("reason", None)
    try:
        command = action.command.model_validate({**fields, **action.fixed(registration)})
    except ValidationError as exc:
        named = {e.field for e in errors}
        return errors + [e for e in validation_errors(exc) if e.field not in named]
    return errors or Prepared(command, reason_text)


class GivenObject(RootModel[dict[str, Any]]):
    """Any JSON object: an action's body is checked against its command by `prepare`, with the registration's
    own fields filled in."""


def action_body(action: RegistrationAction) -> type[BaseModel]:
    """The body a client sends for ACTION, for the OpenAPI document: the command's fields without the ones the
    console fills in itself, a reason where the console asks for one, and `confirm` where it asks for that."""
    fields: dict[str, Any] = {
        key: (info.annotation, info)
        for key, info in action.command.model_fields.items()
        if key not in ("actor", "reply_to", *action.fills)
    }
    described = "Why; kept in the registration's history (and the audit log)."
    if action.reason_required:
        fields["reason"] = (str, Field(min_length=1, max_length=REASON_MAX, description=described))
    elif "reason" not in fields:
        fields["reason"] = (str | None, Field(default=None, max_length=REASON_MAX, description="For the audit log."))
    if action.confirm:
        fields["confirm"] = (Literal[True], Field(description="Must be true: erasing cannot be undone."))
    name = "".join(part.capitalize() for part in action.name.split("-")) + "Body"
    model: type[BaseModel] = create_model(
        name, __config__=action.command.model_config, __doc__=action.command.__doc__, **fields
    )
    return model


# Who may, and the registration ------------------------------------------------------------------------------------


async def caller_who_may(request: Request, action: Action) -> Caller:
    """The signed-in caller when their role allows ACTION at all; whether it allows it on the registration's
    edition is checked once that is known (`check_edition`)."""
    caller = await signed_in(request)
    if caller is None:
        raise NotSignedIn
    if action not in PERMISSIONS[caller.principal.role]:
        raise Forbidden(caller, action, None)
    return caller


def check_edition(caller: Caller, action: Action, edition: str) -> None:
    if not may(caller.principal, action, edition):
        raise Forbidden(caller, action, edition)


async def fetch(request: Request, registration_id: str) -> Registration | None:
    """The registration with its members, placement and history; None when registration does not know it."""
    found = await read(request, "registration", f"/api/registrations/{quote(registration_id, safe='')}")
    if found.status == 404:
        return None
    if not found.found or not isinstance(found.body, dict):
        # The console's machine credential refused, or an answer it cannot read: not the caller's doing.
        raise ServiceUnavailable("registration")
    return found.body


def subject(registration_id: str) -> str:
    """The audit log's subject: an id, never a name (the log is free of participants' personal data)."""
    return f"registration:{registration_id}"


__all__ = [
    "ACTIONS",
    "GivenObject",
    "Prepared",
    "Registration",
    "RegistrationAction",
    "action_body",
    "caller_who_may",
    "check_edition",
    "fetch",
    "prepare",
    "subject",
]
