"""Registration's HTTP routes and background jobs (what it consumes is in consumes.py).

The HTTP routes do not publish commands: they carry them out with the service's own consumers
(`Consumers.command`), so both paths share validation, idempotency (Idempotency-Key = message_id) and outcome;
the HTML pages (web/) and the invoice routes do the same.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.contract import Command, ErrorItem, Reply
from shared.contract.registration import (
    ApproveRegistration,
    CancelRegistration,
    DeclineRegistration,
    EraseParticipantData,
    RegisterTrio,
)
from shared.db import utcnow
from shared.http import error_response, http_command, is_organizer, unauthorized
from shared.jobs import Job, every
from shared.messaging.messages import CommandRefused
from shared.messaging.outbox import Cause
from shared.messaging.processing import MAX_ID_LENGTH, ORGANISER_TOKEN_ACTOR, from_organiser_route
from shared.messaging.wiring import Consumers
from shared.refusals import only_already_registered, public_errors, stand_in_id

from . import consumes, handlers
from .adapters import RegistrationStore, SqlApprovalRequests, SqlBilling, SqlEditions, SqlHistory, SqlRegistrations
from .approval_limits import CLIENT_HEADER

log = structlog.get_logger()

MAX_BODY_BYTES = 64 * 1024
# HTTP status of a refusal whose first error has this code; any other refusal is 422.
REFUSAL_STATUS = {
    "unknown_registration": 404,
    "unknown_member": 404,
    "already_decided": 409,
    "already_cancelled": 409,
    "already_declined": 409,
    "invoice_already_issued": 409,
    "actor_not_organiser": 403,
}


# Who an organiser's command over these routes comes from: whoever holds the shared organiser token. Commands on
# the approver's behalf must name an organiser (`actor_required`); the console names its own accounts instead.
def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


# Retention


async def erase_after_retention(store: RegistrationStore, now: datetime) -> list[str]:
    """Erase the personal data of editions past their retention time; the ids erased by this call."""

    async def erase_one(registration_id: str) -> bool:
        cause = Cause(message_id=str(uuid.uuid4()), correlation_id=f"retention:{registration_id}")
        async with store.unit_of_work(cause) as uow:
            return await handlers.erase_participant_data(
                registration_id,
                registrations=SqlRegistrations(uow.session),
                history=SqlHistory(uow.session),
                emit=uow.outbox.emit,
                now=now,
            )

    async with store.db.sessions() as session:
        return await handlers.erase_after_retention(
            editions=SqlEditions(session),
            registrations=SqlRegistrations(session),
            erase_one=erase_one,
            now=now,
            retention=store.retention,
        )


def retention_job(
    store: RegistrationStore, clock: Callable[[], datetime] = utcnow, interval_seconds: float = 3600
) -> Job:
    return every(
        interval_seconds,
        lambda now: erase_after_retention(store, now),
        clock,
        name="retention",
        done="personal_data_erased_after_retention",
        failed="retention_erasure_failed",
    )


# Overdue invoices


async def flag_overdue_invoices(store: RegistrationStore, now: datetime) -> list[str]:
    """InvoiceOverdue for every invoice past its due moment and still open; the numbers flagged by this call.
    Each in a transaction of its own under the invoice's row lock, so replicas flag each invoice once."""
    async with store.db.sessions() as session:
        candidates = await SqlBilling(session).overdue_candidates(now)
    flagged = []
    for number in candidates:
        cause = Cause(message_id=str(uuid.uuid4()), correlation_id=f"overdue:{number}")
        async with store.unit_of_work(cause) as uow:
            work = consumes.invoicing(store, uow.session)
            assert work is not None
            if await handlers.flag_overdue(number, invoicing=work, emit=uow.outbox.emit, now=now):
                flagged.append(number)
    return flagged


def overdue_job(store: RegistrationStore, interval_seconds: float, clock: Callable[[], datetime] = utcnow) -> Job:
    return every(
        interval_seconds,
        lambda now: flag_overdue_invoices(store, now),
        clock,
        name="overdue_invoices",
        done="invoices_overdue",
        failed="overdue_check_failed",
    )


# HTTP


def body_too_large() -> JSONResponse:
    return error_response(
        [ErrorItem(field="", code="body_too_large", message="Het verzoek is te groot (hoogstens 64 KiB).")], 413
    )


def refusal_response(reply: Reply, correlation_id: str | None) -> JSONResponse:
    status = REFUSAL_STATUS.get(reply.errors[0].code, 422) if reply.errors else 422
    return JSONResponse(
        {"errors": [e.model_dump() for e in reply.errors]},
        status_code=status,
        headers={"X-Correlation-ID": correlation_id or reply.command_id},
    )


def routes(store: RegistrationStore, consumers: Consumers, organizer_token: str) -> list[Route]:
    async def post_registration(request: Request) -> JSONResponse:
        body = await read_body(request, MAX_BODY_BYTES)
        if body is None:
            return body_too_large()
        msg = http_command(request, RegisterTrio, body)
        if isinstance(msg, JSONResponse):
            return msg
        if request.client:
            msg = dataclasses.replace(msg, headers={**msg.headers, CLIENT_HEADER: request.client.host})
        reply = await consumers.command(RegisterTrio, msg)
        registration_id = reply.ids.get("registration_id")
        # Whether someone is registered already is not the registrant's to learn (enumeration.py).
        if reply.status == "rejected" and only_already_registered(reply.errors):
            registration_id = stand_in_id(store.approvals.secret, reply.command_id)
        elif reply.status == "rejected":
            return refusal_response(
                reply.model_copy(update={"errors": public_errors(reply.errors)}), msg.correlation_id
            )
        return JSONResponse(
            {"registration_id": registration_id, "status": "accepted"},
            status_code=202,
            headers={"X-Correlation-ID": msg.correlation_id or ""},
        )

    def organiser_command(
        command: type[Command], fields: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> Callable[[Request], Any]:
        """An organiser's command on one registration; the body (optional JSON object) gives `fields`."""

        async def endpoint(request: Request) -> JSONResponse:
            if not is_organizer(request, organizer_token):
                return unauthorized()
            raw = await read_body(request, MAX_BODY_BYTES)
            if raw is None:
                return body_too_large()
            given = _json_or_none(raw) if raw.strip() else {}
            if not isinstance(given, dict):
                return error_response(
                    [ErrorItem(field="", code="invalid_json", message="Het verzoek moet leeg zijn of een JSON-object.")]
                )
            body = {
                **fields(given),
                "registration_id": request.path_params["registration_id"],
                "actor": ORGANISER_TOKEN_ACTOR,
            }
            msg = http_command(request, command, json.dumps(body).encode())
            if isinstance(msg, JSONResponse):
                return msg
            reply = await consumers.command(command, from_organiser_route(msg))
            if reply.status == "rejected":
                return refusal_response(reply, msg.correlation_id)
            return JSONResponse(
                {"status": "accepted", **reply.ids}, headers={"X-Correlation-ID": msg.correlation_id or ""}
            )

        return endpoint

    def reason_only(given: dict[str, Any]) -> dict[str, Any]:
        return {"reason": given["reason"]} if "reason" in given else {}

    async def request_approval(request: Request) -> JSONResponse:
        if not is_organizer(request, organizer_token):
            return unauthorized()
        correlation_id = request.headers.get("x-correlation-id", "")[:MAX_ID_LENGTH] or str(uuid.uuid4())
        cause = Cause(message_id=str(uuid.uuid4()), correlation_id=correlation_id)
        try:
            async with store.unit_of_work(cause) as uow:
                ids = await handlers.request_approval_again(
                    request.path_params["registration_id"],
                    registrations=SqlRegistrations(uow.session),
                    approvals=store.approvals,
                    emit=uow.outbox.emit,
                    history=SqlHistory(uow.session),
                    now=utcnow(),
                    approval_requests=SqlApprovalRequests(uow.session),
                )
        except CommandRefused as refused:
            return refusal_response(
                Reply(
                    status="rejected",
                    command_id=cause.message_id,
                    command_type="RequestApproval",
                    errors=refused.errors,
                ),
                correlation_id,
            )
        return JSONResponse({"status": "accepted", **ids}, headers={"X-Correlation-ID": correlation_id})

    one = "/api/registrations/{registration_id}"
    return [
        Route("/api/registrations", post_registration, methods=["POST"]),
        Route(
            f"{one}/approve",
            organiser_command(ApproveRegistration, lambda given: {"by_organizer": True, **reason_only(given)}),
            methods=["POST"],
        ),
        Route(
            f"{one}/decline",
            organiser_command(DeclineRegistration, lambda given: {"by_organizer": True, **reason_only(given)}),
            methods=["POST"],
        ),
        Route(f"{one}/cancel", organiser_command(CancelRegistration, reason_only), methods=["POST"]),
        Route(f"{one}/erase", organiser_command(EraseParticipantData, lambda _: {}), methods=["POST"]),
        Route(f"{one}/approval-request", request_approval, methods=["POST"]),
    ]


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than `limit` (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
