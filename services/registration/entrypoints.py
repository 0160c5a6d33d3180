"""Registration's subscribers and HTTP routes: parse, then call a handler.

The HTTP routes do not publish commands: they run them through the same `run_command` as the RabbitMQ
consumers, so both paths share validation, idempotency (Idempotency-Key = message_id) and outcome. The
functions `register_trio`, `decide`, `cancel_registration` and `erase_participant_data` are that shared
path; the HTML pages (web.py) call them too.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
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
    RegisterPayment,
    RegisterTrio,
)
from shared.contract.scheduling import (
    EditionScheduled,
    PlaceReleased,
    SeatingPlanned,
    SessionRescheduled,
    TrioPlaced,
    TrioWaitlisted,
)
from shared.db import utcnow
from shared.http import error_response, http_command, is_organizer, unauthorized
from shared.messaging.messages import CommandRefused, Consumer, Incoming
from shared.messaging.outbox import Cause, Outbox
from shared.messaging.processing import MAX_ID_LENGTH, run_command, run_event
from shared.settings import SERVICES

from . import handlers
from .adapters import RegistrationStore, SqlBilling, SqlEditions, SqlRegistrations, SqlSeating
from .domain import MunicipalityRegister, refine_intake_errors

log = structlog.get_logger()

MAX_BODY_BYTES = 64 * 1024
# HTTP status of a refusal whose first error has this code; any other refusal is 422.
REFUSAL_STATUS = {"unknown_registration": 404, "already_decided": 409, "already_cancelled": 409,
                  "already_declined": 409}


# The command paths (broker, JSON API and HTML pages)


async def register_trio(store: RegistrationStore, municipalities: MunicipalityRegister, msg: Incoming) -> Reply:
    return await run_command(
        store, msg, RegisterTrio,
        lambda cmd, session, outbox: handlers.register_trio(
            cmd, editions=SqlEditions(session), registrations=SqlRegistrations(session),
            municipalities=municipalities, approvals=store.approvals, emit=outbox.emit, now=utcnow()),
        refine_errors=lambda errors: refine_intake_errors(errors, _json_or_none(msg.body)))


async def decide(store: RegistrationStore, msg: Incoming, approve: bool) -> Reply:
    """ApproveRegistration (approve=True) or DeclineRegistration; `msg.routing_key` is not consulted."""
    model: type[ApproveRegistration | DeclineRegistration] = ApproveRegistration if approve else DeclineRegistration
    return await run_command(store, msg, model, lambda cmd, session, outbox: handlers.decide(
        cmd, registrations=SqlRegistrations(session), approvals=store.approvals, emit=outbox.emit, now=utcnow()))


def invoicing(store: RegistrationStore, session: Any) -> handlers.Invoicing | None:
    if store.billing is None or store.invoice_links is None:
        return None
    return handlers.Invoicing(billing=SqlBilling(session), policy=store.billing, links=store.invoice_links)


async def cancel_registration(store: RegistrationStore, msg: Incoming) -> Reply:
    return await run_command(store, msg, CancelRegistration, lambda cmd, session, outbox: handlers.cancel(
        cmd, registrations=SqlRegistrations(session), emit=outbox.emit, now=utcnow(),
        invoicing=invoicing(store, session)))


async def register_payment(store: RegistrationStore, msg: Incoming) -> Reply:
    return await run_command(store, msg, RegisterPayment, lambda cmd, session, outbox: handlers.register_payment(
        cmd, billing=SqlBilling(session), emit=outbox.emit, now=utcnow()))


async def erase_participant_data(store: RegistrationStore, msg: Incoming) -> Reply:
    async def work(cmd: EraseParticipantData, session: Any, outbox: Outbox) -> dict[str, Any]:
        await handlers.erase_participant_data(cmd.registration_id, registrations=SqlRegistrations(session),
                                              emit=outbox.emit, now=utcnow())
        return {"registration_id": cmd.registration_id}

    reply = await run_command(store, msg, EraseParticipantData, work)
    registration_id = reply.ids.get("registration_id")
    if reply.status == "accepted" and registration_id and store.dead_letters is not None:
        await scrub_dead_letters_of(store.dead_letters, registration_id)
    return reply


async def scrub_dead_letters_of(location: Any, registration_id: str) -> None:
    """Dead letters that mention the registration would keep personal data the erasure removed."""
    from services.ops.dead_letters import scrub_dead_letters

    needle = registration_id.encode()
    for service in SERVICES:
        try:
            await scrub_dead_letters(location, service, lambda body: needle in body)
        except Exception as exc:  # the erasure stands; what is left is scrubbed by hand (docs/operations.md)
            log.warning("dead_letter_scrub_failed", service=service, error=type(exc).__name__)


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def consumers(store: RegistrationStore, municipalities: MunicipalityRegister) -> dict[str, Consumer]:
    async def register(msg: Incoming) -> None:
        await register_trio(store, municipalities, msg)

    async def approve(msg: Incoming) -> None:
        await decide(store, msg, approve=True)

    async def decline(msg: Incoming) -> None:
        await decide(store, msg, approve=False)

    async def cancel(msg: Incoming) -> None:
        await cancel_registration(store, msg)

    async def erase(msg: Incoming) -> None:
        await erase_participant_data(store, msg)

    async def payment(msg: Incoming) -> None:
        await register_payment(store, msg)

    async def edition_scheduled(msg: Incoming) -> None:
        await run_event(store, msg, EditionScheduled, lambda event, envelope, session, _outbox:
                        handlers.remember_edition(event, editions=SqlEditions(session),
                                                  occurred_at=envelope.occurred_at))

    def placement(model: type[TrioPlaced | TrioWaitlisted | PlaceReleased]) -> Consumer:
        async def follow(msg: Incoming) -> None:
            await run_event(store, msg, model, lambda event, envelope, session, outbox: handlers.follow_placement(
                event, registrations=SqlRegistrations(session), occurred_at=envelope.occurred_at,
                invoicing=invoicing(store, session), emit=outbox.emit, now=utcnow()))
        return follow

    async def seating_planned(msg: Incoming) -> None:
        await run_event(store, msg, SeatingPlanned, lambda event, envelope, session, _outbox: handlers.follow_seating(
            event, seating=SqlSeating(session), occurred_at=envelope.occurred_at))

    async def session_rescheduled(msg: Incoming) -> None:
        await run_event(store, msg, SessionRescheduled, lambda event, envelope, session, _outbox:
                        handlers.follow_reschedule(event, editions=SqlEditions(session),
                                                   occurred_at=envelope.occurred_at))

    return {
        RegisterTrio.routing_key: register,
        ApproveRegistration.routing_key: approve,
        DeclineRegistration.routing_key: decline,
        CancelRegistration.routing_key: cancel,
        EraseParticipantData.routing_key: erase,
        RegisterPayment.routing_key: payment,
        EditionScheduled.routing_key: edition_scheduled,
        TrioPlaced.routing_key: placement(TrioPlaced),
        TrioWaitlisted.routing_key: placement(TrioWaitlisted),
        PlaceReleased.routing_key: placement(PlaceReleased),
        SeatingPlanned.routing_key: seating_planned,
        SessionRescheduled.routing_key: session_rescheduled,
    }


# Retention


async def erase_after_retention(store: RegistrationStore, now: datetime) -> list[str]:
    """Erase the personal data of editions past their retention time; the ids erased by this call."""
    async def erase_one(registration_id: str) -> bool:
        cause = Cause(message_id=str(uuid.uuid4()), correlation_id=f"retention:{registration_id}")
        async with store.db.transaction() as session:
            outbox = Outbox(session, store.outbox_model, store.service, cause)
            erased = await handlers.erase_participant_data(
                registration_id, registrations=SqlRegistrations(session), emit=outbox.emit, now=now)
        store.wake()
        return erased

    async with store.db.sessions() as session:
        return await handlers.erase_after_retention(
            editions=SqlEditions(session), registrations=SqlRegistrations(session), erase_one=erase_one, now=now,
            retention=store.retention)


def every(interval_seconds: float, work: Callable[[datetime], Awaitable[list[str]]], clock: Callable[[], datetime],
          done: str, failed: str) -> Callable[[], Any]:
    """A background job: `work` now and then, logging how many it handled (`done`) or why it could not (`failed`)."""
    async def job() -> None:
        while True:
            try:
                handled = await work(clock())
                if handled:
                    log.info(done, count=len(handled))
            except Exception as exc:  # the database may be away for a while; the next round catches up
                log.warning(failed, error=str(exc)[:300])
            await asyncio.sleep(interval_seconds)

    return job


def retention_job(store: RegistrationStore, clock: Callable[[], datetime] = utcnow,
                  interval_seconds: float = 3600) -> Callable[[], Any]:
    return every(interval_seconds, lambda now: erase_after_retention(store, now), clock,
                 "personal_data_erased_after_retention", "retention_erasure_failed")


# Overdue invoices


async def flag_overdue_invoices(store: RegistrationStore, now: datetime) -> list[str]:
    """InvoiceOverdue for every invoice past its due moment and still open; the numbers flagged by this call.
    Each in a transaction of its own under the invoice's row lock, so replicas flag each invoice once."""
    async with store.db.sessions() as session:
        candidates = await SqlBilling(session).overdue_candidates(now)
    flagged = []
    for number in candidates:
        cause = Cause(message_id=str(uuid.uuid4()), correlation_id=f"overdue:{number}")
        async with store.db.transaction() as session:
            work = invoicing(store, session)
            assert work is not None
            outbox = Outbox(session, store.outbox_model, store.service, cause)
            if await handlers.flag_overdue(number, invoicing=work, emit=outbox.emit, now=now):
                flagged.append(number)
        store.wake()
    return flagged


def overdue_job(store: RegistrationStore, interval_seconds: float,
                clock: Callable[[], datetime] = utcnow) -> Callable[[], Any]:
    return every(interval_seconds, lambda now: flag_overdue_invoices(store, now), clock,
                 "invoices_overdue", "overdue_check_failed")


# HTTP


def body_too_large() -> JSONResponse:
    return error_response([ErrorItem(field="", code="body_too_large",
                                     message="Het verzoek is te groot (hoogstens 64 KiB).")], 413)


def refusal_response(reply: Reply, correlation_id: str | None) -> JSONResponse:
    status = REFUSAL_STATUS.get(reply.errors[0].code, 422) if reply.errors else 422
    return JSONResponse({"errors": [e.model_dump() for e in reply.errors]}, status_code=status,
                        headers={"X-Correlation-ID": correlation_id or reply.command_id})


def routes(store: RegistrationStore, municipalities: MunicipalityRegister, organizer_token: str) -> list[Route]:
    async def post_registration(request: Request) -> JSONResponse:
        body = await read_body(request, MAX_BODY_BYTES)
        if body is None:
            return body_too_large()
        msg = http_command(request, RegisterTrio, body)
        if isinstance(msg, JSONResponse):
            return msg
        reply = await register_trio(store, municipalities, msg)
        if reply.status == "rejected":
            return refusal_response(reply, msg.correlation_id)
        return JSONResponse({"registration_id": reply.ids.get("registration_id"), "status": "accepted"},
                            status_code=202, headers={"X-Correlation-ID": msg.correlation_id or ""})

    async def list_registrations(request: Request) -> JSONResponse:
        # Personal data: organisers only.
        if not is_organizer(request, organizer_token):
            return unauthorized()
        async with store.db.sessions() as session:
            found = await SqlRegistrations(session).overview(request.query_params.get("edition"))
        return JSONResponse({"registrations": found})

    def organiser_command(command: type[Command], run: Callable[[Incoming], Any],
                          fields: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Request], Any]:
        """An organiser's command on one registration; the body (optional JSON object) gives `fields`."""
        async def endpoint(request: Request) -> JSONResponse:
            if not is_organizer(request, organizer_token):
                return unauthorized()
            raw = await read_body(request, MAX_BODY_BYTES)
            if raw is None:
                return body_too_large()
            given = _json_or_none(raw) if raw.strip() else {}
            if not isinstance(given, dict):
                return error_response([ErrorItem(field="", code="invalid_json",
                                                 message="Het verzoek moet leeg zijn of een JSON-object.")])
            body = {**fields(given), "registration_id": request.path_params["registration_id"]}
            msg = http_command(request, command, json.dumps(body).encode())
            if isinstance(msg, JSONResponse):
                return msg
            reply = await run(msg)
            if reply.status == "rejected":
                return refusal_response(reply, msg.correlation_id)
            return JSONResponse({"status": "accepted", **reply.ids},
                                headers={"X-Correlation-ID": msg.correlation_id or ""})
        return endpoint

    def reason_only(given: dict[str, Any]) -> dict[str, Any]:
        return {"reason": given["reason"]} if "reason" in given else {}

    async def request_approval(request: Request) -> JSONResponse:
        if not is_organizer(request, organizer_token):
            return unauthorized()
        correlation_id = request.headers.get("x-correlation-id", "")[:MAX_ID_LENGTH] or str(uuid.uuid4())
        cause = Cause(message_id=str(uuid.uuid4()), correlation_id=correlation_id)
        try:
            async with store.db.transaction() as session:
                outbox = Outbox(session, store.outbox_model, store.service, cause)
                ids = await handlers.request_approval_again(
                    request.path_params["registration_id"], registrations=SqlRegistrations(session),
                    approvals=store.approvals, emit=outbox.emit, now=utcnow())
        except CommandRefused as refused:
            return refusal_response(Reply(status="rejected", command_id=cause.message_id,
                                          command_type="RequestApproval", errors=refused.errors), correlation_id)
        store.wake()
        return JSONResponse({"status": "accepted", **ids}, headers={"X-Correlation-ID": correlation_id})

    one = "/api/registrations/{registration_id}"
    return [
        Route("/api/registrations", post_registration, methods=["POST"]),
        Route("/api/registrations", list_registrations, methods=["GET"]),
        Route(f"{one}/approve", organiser_command(
            ApproveRegistration, lambda msg: decide(store, msg, approve=True), lambda _: {"by_organizer": True}),
            methods=["POST"]),
        Route(f"{one}/decline", organiser_command(
            DeclineRegistration, lambda msg: decide(store, msg, approve=False),
            lambda given: {"by_organizer": True, **reason_only(given)}), methods=["POST"]),
        Route(f"{one}/cancel", organiser_command(
            CancelRegistration, lambda msg: cancel_registration(store, msg), reason_only), methods=["POST"]),
        Route(f"{one}/erase", organiser_command(
            EraseParticipantData, lambda msg: erase_participant_data(store, msg), lambda _: {}), methods=["POST"]),
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
