"""Registration's subscribers and HTTP routes: parse, then call a handler.

`POST /api/registrations` does not publish the command: it runs it through the same `run_command` as the
RabbitMQ consumer, so both paths share validation, idempotency (Idempotency-Key = message_id) and outcome.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.contract import ErrorItem, Reply, message_name
from shared.contract.registration import RegisterTrio
from shared.contract.scheduling import EditionScheduled
from shared.db import utcnow
from shared.http import error_response, is_organizer, unauthorized
from shared.messaging.messages import Consumer, Incoming
from shared.messaging.processing import MessageStore, run_command, run_event

from . import handlers
from .adapters import SqlEditions, SqlRegistrations
from .domain import MunicipalityRegister

MAX_BODY_BYTES = 64 * 1024
MAX_HEADER_ID_LENGTH = 200  # the inbox and outbox columns that keep message and correlation ids


async def register_trio(store: MessageStore, municipalities: MunicipalityRegister, msg: Incoming) -> Reply:
    return await run_command(store, msg, RegisterTrio, lambda cmd, session, outbox: handlers.register_trio(
        cmd, editions=SqlEditions(session), registrations=SqlRegistrations(session), municipalities=municipalities,
        emit=outbox.emit, now=utcnow()))


def consumers(store: MessageStore, municipalities: MunicipalityRegister) -> dict[str, Consumer]:
    async def register(msg: Incoming) -> None:
        await register_trio(store, municipalities, msg)

    async def edition_scheduled(msg: Incoming) -> None:
        await run_event(store, msg, EditionScheduled, lambda event, envelope, session, _outbox:
                        handlers.remember_edition(event, editions=SqlEditions(session),
                                                  occurred_at=envelope.occurred_at))

    return {RegisterTrio.routing_key: register, EditionScheduled.routing_key: edition_scheduled}


def routes(store: MessageStore, municipalities: MunicipalityRegister, organizer_token: str) -> list[Route]:
    async def post_registration(request: Request) -> JSONResponse:
        body = await read_body(request, MAX_BODY_BYTES)
        if body is None:
            return error_response([ErrorItem(field="", code="body_too_large",
                                             message="De aanmelding is te groot (hoogstens 64 KiB).")], 413)
        message_id = request.headers.get("idempotency-key") or str(uuid.uuid4())
        correlation_id = request.headers.get("x-correlation-id") or message_id
        too_long = [ErrorItem(field=f"headers.{name}", code="header_too_long",
                              message=f"De header {name} is te lang (hoogstens {MAX_HEADER_ID_LENGTH} tekens).")
                    for name, value in (("Idempotency-Key", message_id), ("X-Correlation-ID", correlation_id))
                    if len(value) > MAX_HEADER_ID_LENGTH]
        if too_long:
            return error_response(too_long, 400)
        reply = await register_trio(store, municipalities, Incoming(
            body=body, routing_key=RegisterTrio.routing_key, message_id=message_id, correlation_id=correlation_id,
            message_type=message_name(RegisterTrio.routing_key), content_type=request.headers.get("content-type"),
        ))
        headers = {"X-Correlation-ID": correlation_id}
        if reply.status == "rejected":
            return JSONResponse({"errors": [e.model_dump() for e in reply.errors]}, status_code=422, headers=headers)
        return JSONResponse({"registration_id": reply.ids.get("registration_id"), "status": "accepted"},
                            status_code=202, headers=headers)

    async def list_registrations(request: Request) -> JSONResponse:
        # Personal data: organisers only.
        if not is_organizer(request, organizer_token):
            return unauthorized()
        async with store.db.sessions() as session:
            found = await SqlRegistrations(session).overview(request.query_params.get("edition"))
        return JSONResponse({"registrations": found})

    return [Route("/api/registrations", post_registration, methods=["POST"]),
            Route("/api/registrations", list_registrations, methods=["GET"])]


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
