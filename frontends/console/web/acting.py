"""Carrying out an organiser's action: the command goes to its service with the caller as its actor, the outcome
goes into the audit log (accepted, rejected with the reason, or pending when the service has not answered yet),
and pages and the API turn the outcome into their answer.

HTTP statuses of the API: 200/201 accepted, 202 on its way (no reply within the wait; it will be carried out or
refused, see gateway.py), 404 when the command names something that does not exist, 409 when the state does not
allow it (e.g. a full edition), 422 for anything else the service refused, each with the service's error items.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from shared.contract import Actor, Command, ErrorItem, Reply, message_name
from shared.http import error_response
from shared.messaging.errors import validation_errors
from shared.settings import ServiceName

from ..accounts import record
from ..backends import Answer, Backends, ServiceUnavailable
from ..store import repositories
from .access import Caller, address, console, database

MAX_BODY_BYTES: Final = 64 * 1024
M = TypeVar("M", bound=BaseModel)

# Codes the services use for "no such thing" and for "not in this state"; every other refusal is a 422.
NOT_FOUND_CODES: Final = frozenset(
    {
        "unknown_edition",
        "unknown_registration",
        "unknown_session",
        "unknown_report",
        "unknown_invoice",
        "unknown_notification",
    }
)
CONFLICT_CODES: Final = frozenset(
    {
        "edition_full",
        "already_placed",
        "not_waitlisted",
        "registration_closed",
        "edition_closed",
        "already_allocated",
        "not_allocated",
        "registration_open",
        "not_closed",
        "deadline_passed",
        "capacity_below_placed",
        "session_in_past",
        "session_completed",
        "already_completed",
        "not_started",
        "already_published",
        "already_retracted",
        "not_published",
        "already_cancelled",
        "already_erased",
        "already_decided",
        "not_placed",
        "already_declined",
        "data_erased",
        "sessions_over",
        "invoice_already_issued",
        "already_paid",
        "invoice_credited",
        "already_credited",
    }
)


@dataclass(frozen=True)
class Outcome:
    status: Literal["accepted", "rejected", "pending"]
    reply: Reply | None

    @property
    def errors(self) -> list[ErrorItem]:
        return self.reply.errors if self.reply is not None else []

    @property
    def ids(self) -> dict[str, Any]:
        return self.reply.ids if self.reply is not None else {}

    def http_status(self, accepted: int = 200) -> int:
        if self.status == "pending":
            return 202
        if self.status == "accepted":
            return accepted
        codes = {e.code for e in self.errors}
        if codes & NOT_FOUND_CODES:
            return 404
        if codes & CONFLICT_CODES:
            return 409
        return 422


def backends(request: Request) -> Backends:
    found = console(request).backends
    if found is None:
        raise RuntimeError("the console was started without its services (backends)")
    return found


def actor_of(caller: Caller) -> Actor:
    return Actor(
        account_id=caller.principal.account_id,
        role=caller.principal.role,
        via="api" if caller.via == "token" else "console",
    )


async def perform(request: Request, caller: Caller, command: Command, *, subject: str, reason: str = "") -> Outcome:
    """Send COMMAND on CALLER's behalf and record it in the audit log, whatever comes of it."""
    actor = actor_of(caller)
    name = message_name(command.routing_key)
    gateway = backends(request).gateway
    message_id = gateway.message_id_for(actor, name, request.headers.get("idempotency-key", "")[:200] or None)
    reply = await gateway.send(command, actor, message_id=message_id)
    outcome = Outcome("pending" if reply is None else reply.status, reply)
    refusal = "; ".join(f"{e.code}" + (f" ({e.field})" if e.field else "") for e in outcome.errors)
    async with repositories(database(request)) as repos:
        await record(
            repos.audit,
            console(request).clock(),
            caller.principal.account_id,
            name,
            subject,
            address=address(request),
            reason=(refusal or reason)[:300],
            outcome=outcome.status,
        )
    return outcome


def answer(outcome: Outcome, *, accepted: int = 200, **body: Any) -> JSONResponse:
    status = outcome.http_status(accepted)
    if outcome.status == "rejected":
        response = error_response(outcome.errors, status)
    else:
        response = JSONResponse({"status": outcome.status, **outcome.ids, **body}, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


class BadBody(Exception):
    def __init__(self, response: JSONResponse) -> None:
        self.response = response


async def parse_body(request: Request, model: type[M], **fixed: Any) -> M:
    """The JSON body as MODEL, with FIXED fields from the path (they win over the body's), or BadBody with the
    413/422 answer in the project's error items."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise BadBody(
            error_response([ErrorItem(field="", code="body_too_large", message="Het verzoek is te groot.")], 413)
        )
    try:
        given = json.loads(body or b"{}")
    except (UnicodeDecodeError, ValueError):
        given = None
    if not isinstance(given, dict):
        raise BadBody(error_response([ErrorItem(field="", code="invalid_json", message="Stuur een JSON-object.")], 422))
    own = [
        ErrorItem(field=key, code="set_by_console", message="Dit veld vult de console zelf in; laat het weg.")
        for key in ("actor", "reply_to")
        if key in given
    ]
    if own:
        raise BadBody(error_response(own, 422))
    try:
        return model.model_validate({**given, **fixed})
    except ValidationError as exc:
        raise BadBody(error_response(validation_errors(exc), 422)) from None


async def read(request: Request, service: ServiceName, path: str, **params: Any) -> Answer:
    """GET from a service's query API; ServiceUnavailable propagates to the app's 503 answer."""
    return await backends(request).apis.get(service, path, {k: v for k, v in params.items() if v is not None})


__all__ = ["BadBody", "Outcome", "ServiceUnavailable", "answer", "parse_body", "perform", "read"]
