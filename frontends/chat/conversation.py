"""A room's conversation as data: the dialogue (stored as JSON, so a restart continues where it was), what a reply
depends on besides it, the outcome of a line, and the words and texts every flow shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from shared.contract import Command, ErrorItem
from shared.contract.labels import label_for
from shared.contract.scheduling import EditionScheduled
from shared.municipalities import MunicipalityIndex

YES = {"ja", "j", "yes", "y", "ok", "oké", "akkoord", "klopt"}
NO = {"nee", "n", "no"}
STOP = {"stop", "stoppen", "afbreken"}
ACTIVE = ("awaiting_approval", "approved", "placed", "waitlisted")
HELP = (
    "Ik ben de chatbot van Werkplaatsen wijkgericht werken. Typ:\n"
    "- aanmelden: een trio aanmelden voor de werkplaatsen\n"
    "- status: de stand van jullie aanmelding\n"
    "- programma: de bijeenkomsten van de editie waarvoor je je nu kunt aanmelden\n"
    "- annuleren: jullie aanmelding intrekken\n"
    "- koppel gevolgd door de code uit de bevestigingsmail: de aanmelding in dit gesprek volgen\n"
    "Tijdens het aanmelden stopt 'stop' het gesprek."
)
NO_EDITION = "Op dit moment is er geen editie waarvoor je je kunt aanmelden."


@dataclass
class Dialogue:
    flow: str | None = None  # "aanmelden", "annuleren" or None
    answers: dict[str, Any] = field(default_factory=dict)
    candidates: list[str] = field(default_factory=list)  # the municipality codes last suggested
    waiting_for: str | None = None  # message_id of the command whose outcome is awaited

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Dialogue:
        return cls(**data) if data else cls()


@dataclass(frozen=True)
class RoomRegistration:
    registration_id: str
    edition: str
    municipality: str
    status: str
    waitlist_position: int | None


def no_code(_code: str) -> tuple[str, str]:
    raise ValueError("no binding codes here")


@dataclass(frozen=True)
class Context:
    """What a reply depends on besides the dialogue: the open editions, the municipalities, the room's trio (the
    one it is bound to, and those sent from it that still wait for their code)."""

    editions: list[EditionScheduled]  # open for registration, earliest first
    municipalities: MunicipalityIndex
    registration: RoomRegistration | None  # bound by the mailed code: only this one's status is shown
    room_id: str
    status_link: Callable[[str], str]
    unbound: list[RoomRegistration] = field(default_factory=list)  # registered from this room, not yet bound
    # A pasted code's (registration id, room id); raises shared.links.LinkInvalid or LinkExpired.
    read_code: Callable[[str], tuple[str, str]] = no_code


@dataclass
class Outcome:
    dialogue: Dialogue
    messages: list[str] = field(default_factory=list)
    command: Command | None = None
    bind: str | None = None  # the registration the room is to be bound to (its code was pasted here)


def error_lines(errors: list[ErrorItem]) -> str:
    """A refusal's errors, one line each, named as the web form names the field."""
    lines = []
    for e in errors:
        label = label_for(e.field)
        lines.append(f"- {label}: {e.message}" if label else f"- {e.message}")
    return "\n".join(lines)
