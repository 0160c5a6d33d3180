"""Building blocks of the contract: the event envelope, error objects, shared value types."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

COMMANDS_EXCHANGE = "werkplaatsen.commands"
EVENTS_EXCHANGE = "werkplaatsen.events"


# Every character str.splitlines() breaks at: LF, CR, VT, FF, the file/group/record separators, NEL, LS and PS;
# written as regex escapes, which Python and JSON Schema (ECMA-262) read alike.
LINE_BREAKS = r"\n\r\u000b\u000c\u001c-\u001e\u0085\u2028\u2029"
_LINE_BREAK = re.compile(f"[{LINE_BREAKS}]")
ONE_LINE_PATTERN = f"^[^{LINE_BREAKS}]*$"


def _one_line(value: str) -> str:
    if _LINE_BREAK.search(value):
        raise PydanticCustomError(
            "line_break_not_allowed", "Dit veld moet op één regel: een regeleinde is hier niet toegestaan."
        )
    return value


# Text that ends up in a mail header, a CSV cell, an iCalendar property or one line of a PDF: a line break there
# could add a header ("\r\nBcc: ...") or a row. Refused with the code `line_break_not_allowed`. Commands use it for
# every one-line field; events keep plain `str`, so what they carried before stays readable.
OneLine = Annotated[str, AfterValidator(_one_line), Field(json_schema_extra={"pattern": ONE_LINE_PATTERN})]


class ContractModel(BaseModel):
    """Base of every contract model: unknown fields are refused so typos surface as errors."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Actor(ContractModel):
    """The organiser-console account that gave a command (never a participant: they act through their links)."""

    account_id: str = Field(max_length=64, description="The account's id in the console (no name, no address).")
    role: Literal["organiser", "facilitator", "viewer"]
    via: Literal["console", "api", "operator"] = Field(
        default="console",
        description="A page of the console, or its API with a personal access token; `operator`: an operator's "
        "command line (`werkplaatsen editions load`), account_id `operator`. Added in contract 1.5.",
    )


class Command(ContractModel):
    """A request to a service. The AMQP `message_id` is its idempotency key."""

    routing_key: ClassVar[str]
    reply_to: str | None = Field(
        default=None,
        description="Queue to send the outcome to ({'status': 'accepted'|'rejected', ...}); "
        "may also be given as the AMQP reply_to property.",
    )
    actor: Actor | None = Field(
        default=None,
        description="Who gave the command, when it comes from the organiser console; absent for participants' "
        "and approvers' commands.",
    )


class EventData(ContractModel):
    """The `data` part of an event."""

    routing_key: ClassVar[str]
    version: ClassVar[int] = 1


class Role(StrEnum):
    wijkambtenaar = "wijkambtenaar"
    sectorambtenaar = "sectorambtenaar"


class Domain(StrEnum):
    fysiek = "fysiek"
    sociaal = "sociaal"
    veiligheid = "veiligheid"
    economie = "economie"
    bestuur = "bestuur"
    overig = "overig"


class Language(StrEnum):
    nl = "nl"
    en = "en"


class Channel(StrEnum):
    web = "web"
    chat = "chat"


class ErrorItem(ContractModel):
    """One reason a command was refused."""

    field: str = Field(description="Path of the offending field, e.g. `members[1].email`; empty for the whole message.")
    code: str = Field(description="Stable machine-readable code, see docs/contract.md.")
    message: str = Field(description="Explanation in Dutch, fit to show a participant.")


class CommandRejected(EventData):
    """A command could not be carried out; published as `<service>.CommandRejected`."""

    command_id: str = Field(description="message_id of the refused command.")
    command_type: str = Field(description="Name of the refused command, e.g. `RegisterTrio`; `unknown` if unreadable.")
    errors: list[ErrorItem]


D = TypeVar("D")


class Event(BaseModel, Generic[D]):
    """Envelope of every event published on `werkplaatsen.events`."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(description="UUID; also the AMQP message_id. Consumers deduplicate on it.")
    type: str = Field(description="The event's name, e.g. `TrioRegistered`; also the AMQP type.")
    version: int = Field(description="Version of the `data` schema for this type.")
    occurred_at: AwareDatetime
    producer: Literal["registration", "scheduling", "notifications", "reporting"]
    correlation_id: str = Field(description="The originating command's correlation_id (or its message_id).")
    causation_id: str = Field(description="message_id / event_id of the message that caused this event.")
    data: D


class Reply(ContractModel):
    """Sent to a command's reply_to queue."""

    status: Literal["accepted", "rejected"]
    command_id: str
    command_type: str
    errors: list[ErrorItem] = Field(default_factory=list)
    ids: dict[str, Any] = Field(default_factory=dict, description="Identifiers created, e.g. registration_id.")
    repeated: bool = Field(
        default=False,
        description="True when the command had been received before: its first outcome, nothing done now.",
    )
