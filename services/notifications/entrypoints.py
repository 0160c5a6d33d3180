"""Notifications' HTTP routes: the organisers' notification log and the development mailbox (what it consumes is
in consumes.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from shared.contract.common import ErrorItem
from shared.formatting import AMSTERDAM
from shared.http import error_response, is_organizer, unauthorized
from shared.messaging.processing import MessageStore

from .domain import Mail
from .store import SqlMails, newest_mails


def log_entry(mail: Mail) -> dict[str, Any]:
    """A notification as organisers see it in the log (no bodies: those are in the participant's mailbox)."""
    return {
        "notification_id": mail.notification_id,
        "kind": mail.kind,
        "channel": "email",
        "recipient": mail.recipient,
        "language": mail.language,
        "subject": mail.subject,
        "status": mail.status,
        "attempts": mail.attempts,
        "last_error": mail.last_error,
        "created_at": mail.created_at.isoformat(),
        "sent_at": mail.sent_at.isoformat() if mail.sent_at else None,
        "message_id": mail.message_id,
        "caused_by": mail.caused_by,
    }


def routes(store: MessageStore, organizer_token: str) -> list[Route]:
    async def notification_log(request: Request) -> JSONResponse:
        # Addresses and subjects are personal data: organisers only.
        if not is_organizer(request, organizer_token):
            return unauthorized()
        registration_id = request.query_params.get("registration_id", "").strip()
        if not registration_id:
            return error_response(
                [
                    ErrorItem(
                        field="registration_id", code="schema", message="Geef de registration_id van de aanmelding op."
                    )
                ],
                400,
            )
        async with store.db.sessions() as session:
            mails = await SqlMails(session).of_registration(registration_id)
        return JSONResponse({"registration_id": registration_id, "notifications": [log_entry(m) for m in mails]})

    return [Route("/api/notifications", notification_log, methods=["GET"])]


def mailbox_entry(mail: Mail) -> dict[str, Any]:
    return {
        "notification_id": mail.notification_id,
        "kind": mail.kind,
        "recipient": mail.recipient,
        "language": mail.language,
        "subject": mail.subject,
        "status": mail.status,
        "attempts": mail.attempts,
        "last_error": mail.last_error,
        "created_at": mail.created_at.isoformat(),
        "sent_at": mail.sent_at.isoformat() if mail.sent_at else None,
        "text": mail.text,
        "html": mail.html,
        "calendar": mail.calendar,
    }


def mailbox_routes(store: MessageStore) -> list[Route]:
    """`werkplaatsen dev` only: the mail the system has sent, newest first (it shows personal data)."""
    from .rendering import render_page

    async def mailbox(_: Request) -> HTMLResponse:
        async with store.db.sessions() as session:
            mails = await newest_mails(session)
        shown = [
            mailbox_entry(m) | {"time": (m.sent_at or m.created_at).astimezone(AMSTERDAM).strftime("%d-%m-%Y %H:%M:%S")}
            for m in mails
        ]
        return HTMLResponse(render_page("mailbox.html", mails=shown))

    async def mailbox_json(_: Request) -> JSONResponse:
        async with store.db.sessions() as session:
            mails = await newest_mails(session)
        return JSONResponse({"mails": [mailbox_entry(m) for m in mails]})

    return [Route("/dev/mailbox", mailbox), Route("/dev/mailbox.json", mailbox_json)]
