"""Notifications' subscribers, the organisers' notification log and the development mailbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from shared.contract import Event, EventData
from shared.contract.common import ErrorItem
from shared.contract.registration import (
    ApprovalRequested,
    CreditNoteIssued,
    InvoiceIssued,
    InvoiceOverdue,
    ParticipantDataErased,
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.reporting import LessonReportPublished
from shared.contract.scheduling import (
    EditionScheduled,
    PlaceReleased,
    RegistrationClosed,
    SeatingPlanned,
    SessionRescheduled,
    TrioPlaced,
    TrioWaitlisted,
)
from shared.db import utcnow
from shared.http import error_response, is_organizer, unauthorized
from shared.messaging.messages import Consumer, Incoming
from shared.messaging.outbox import Outbox
from shared.messaging.processing import MessageStore, run_event

from . import handlers
from .adapters import SqlEditions, SqlMails, SqlRegistrations, SqlReminders, newest_mails
from .domain import AMSTERDAM, Mail

E = TypeVar("E", bound=EventData)

# A use case given the event, the transaction's session and its outbox.
Work = Callable[[Event[Any], AsyncSession, Outbox], Awaitable[None]]


def consumers(store: MessageStore, addresses: handlers.Addresses,
              offsets: list[tuple[str, timedelta]]) -> dict[str, Consumer]:
    def consumer(model: type[E], work: Work) -> tuple[str, Consumer]:
        async def consume(msg: Incoming) -> None:
            await run_event(store, msg, model, lambda _data, envelope, uow: work(envelope, uow.session, uow.outbox))
        return model.routing_key, consume

    def trio(use_case: Callable[..., Awaitable[None]]) -> Work:
        """The shape most member notifications share."""
        return lambda e, s, o: use_case(e, editions=SqlEditions(s), registrations=SqlRegistrations(s),
                                        mails=SqlMails(s), emit=o.emit, now=utcnow())

    return dict([
        consumer(EditionScheduled, lambda e, s, o: handlers.remember_edition(e, editions=SqlEditions(s))),
        consumer(TrioRegistered, lambda e, s, o: handlers.acknowledge_registration(
            e, editions=SqlEditions(s), registrations=SqlRegistrations(s), mails=SqlMails(s), emit=o.emit,
            addresses=addresses, now=utcnow())),
        consumer(ApprovalRequested, lambda e, s, o: handlers.request_approval(
            e, editions=SqlEditions(s), registrations=SqlRegistrations(s), mails=SqlMails(s), now=utcnow())),
        consumer(RegistrationApproved, trio(handlers.announce_approval)),
        consumer(RegistrationDeclined, trio(handlers.announce_decline)),
        consumer(RegistrationCancelled, trio(handlers.confirm_cancellation)),
        consumer(PlaceReleased, trio(handlers.confirm_cancellation)),
        consumer(TrioWaitlisted, trio(handlers.announce_waitlist)),
        consumer(LessonReportPublished, trio(handlers.announce_report)),
        consumer(TrioPlaced, lambda e, s, o: handlers.confirm_placement(
            e, editions=SqlEditions(s), registrations=SqlRegistrations(s), mails=SqlMails(s), emit=o.emit,
            addresses=addresses, now=utcnow())),
        consumer(RegistrationClosed, lambda e, s, o: handlers.warn_undersubscribed(
            e, editions=SqlEditions(s), mails=SqlMails(s), addresses=addresses, now=utcnow())),
        consumer(SessionRescheduled, lambda e, s, o: handlers.announce_reschedule(
            e, editions=SqlEditions(s), registrations=SqlRegistrations(s), reminders=SqlReminders(s),
            mails=SqlMails(s), emit=o.emit, addresses=addresses, now=utcnow())),
        consumer(SeatingPlanned, lambda e, s, o: handlers.plan_reminders(
            e, editions=SqlEditions(s), reminders=SqlReminders(s), offsets=offsets, now=utcnow())),
        consumer(ParticipantDataErased, lambda e, s, o: handlers.erase_participant_data(
            e, registrations=SqlRegistrations(s), mails=SqlMails(s))),
        consumer(InvoiceIssued, lambda e, s, o: handlers.send_invoice(
            e, editions=SqlEditions(s), mails=SqlMails(s), now=utcnow())),
        consumer(CreditNoteIssued, lambda e, s, o: handlers.send_invoice(
            e, editions=SqlEditions(s), mails=SqlMails(s), now=utcnow())),
        consumer(InvoiceOverdue, lambda e, s, o: handlers.remind_payment(
            e, editions=SqlEditions(s), mails=SqlMails(s), now=utcnow())),
    ])


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
            return error_response([ErrorItem(field="registration_id", code="schema",
                                             message="Geef de registration_id van de aanmelding op.")], 400)
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
        shown = [mailbox_entry(m) | {"time": (m.sent_at or m.created_at).astimezone(AMSTERDAM)
                                     .strftime("%d-%m-%Y %H:%M:%S")} for m in mails]
        return HTMLResponse(render_page("mailbox.html", mails=shown))

    async def mailbox_json(_: Request) -> JSONResponse:
        async with store.db.sessions() as session:
            mails = await newest_mails(session)
        return JSONResponse({"mails": [mailbox_entry(m) for m in mails]})

    return [Route("/dev/mailbox", mailbox), Route("/dev/mailbox.json", mailbox_json)]
