"""Notifications' subscribers and the development mailbox: parse, then call a handler."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from shared.contract.registration import TrioRegistered
from shared.contract.scheduling import EditionScheduled
from shared.db import utcnow
from shared.messaging.messages import Consumer, Incoming
from shared.messaging.processing import MessageStore, run_event

from . import handlers
from .adapters import SqlEditions, SqlMails, newest_mails
from .domain import AMSTERDAM, Mail
from .rendering import render_page


def consumers(store: MessageStore) -> dict[str, Consumer]:
    async def trio_registered(msg: Incoming) -> None:
        await run_event(store, msg, TrioRegistered, lambda _data, envelope, session, _outbox:
                        handlers.acknowledge_registration(envelope, editions=SqlEditions(session),
                                                          mails=SqlMails(session), now=utcnow()))

    async def edition_scheduled(msg: Incoming) -> None:
        await run_event(store, msg, EditionScheduled, lambda _data, envelope, session, _outbox:
                        handlers.remember_edition(envelope, editions=SqlEditions(session)))

    return {
        TrioRegistered.routing_key: trio_registered,
        EditionScheduled.routing_key: edition_scheduled,
    }


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
    }


def mailbox_routes(store: MessageStore) -> list[Route]:
    """`werkplaatsen dev` only: the mail the system has sent, newest first (it shows personal data)."""

    async def mailbox(_: Request) -> HTMLResponse:
        async with store.db.sessions() as session:
            mails = await newest_mails(session)
        shown = [mailbox_entry(m) | {"time": (m.sent_at or m.created_at).astimezone(AMSTERDAM)
                                     .strftime("%d-%m-%Y %H:%M:%S")} for m in mails]
        return HTMLResponse(render_page("mailbox.html", mails=shown))

    async def mailbox_json(_: Request) -> JSONResponse:
        async with store.db.sessions() as session:
            mails = await newest_mails(session)
        return JSONResponse({"mails": [mailbox_entry(m) for m in mails]})

    return [Route("/dev/mailbox", mailbox), Route("/dev/mailbox.json", mailbox_json)]
