"""How a handler notifies: a mail rendered and queued once, a trio's mails with the message to its chat room, and
the copies a notification cannot do without."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from shared.contract import Event
from shared.contract.common import Channel
from shared.contract.notifications import ChatMessageRequested
from shared.contract.registration import RegisteredMember

from ..domain import (
    EditionInfo,
    Mail,
    RegistrationCopy,
    group_language,
    mail_language,
    normalise_address,
    notification_id,
)
from ..rendering import render_chat, render_mail
from .ports import EditionNotYetKnown, Editions, Emit, Mails, RegistrationNotYetKnown, Registrations

log = structlog.get_logger()


@dataclass(frozen=True)
class Cause:
    event_id: str
    correlation_id: str

    @classmethod
    def of(cls, event: Event[Any]) -> Cause:
        return cls(event.event_id, event.correlation_id)


ContextFor = Callable[[RegisteredMember, str], dict[str, Any]]
CalendarFor = Callable[[RegisteredMember, str], str | None]


async def queue(mails: Mails, *queued: Mail) -> int:
    """Store mails (a trio's three in one statement); returns how many were new."""
    added = await mails.add(queued)
    for mail in queued:
        if mail.notification_id in added:
            log.info("mail_queued", notification_id=mail.notification_id, kind=mail.kind)
    return len(added)


def new_mail(
    kind: str,
    cause: Cause,
    identity: str,
    registration_id: str | None,
    recipient: str,
    language: str,
    context: dict[str, Any],
    now: datetime,
    calendar_text: str | None = None,
    attachments: list[dict[str, str]] | None = None,
) -> Mail:
    rendered = render_mail(kind, language, context)
    return Mail(
        notification_id=notification_id(identity, kind, recipient),
        kind=kind,
        caused_by=cause.event_id,
        correlation_id=cause.correlation_id,
        registration_id=registration_id,
        recipient=recipient,
        language=language,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        created_at=now,
        next_attempt_at=now,
        calendar=calendar_text,
        attachments=attachments,
    )


async def notify_trio(
    kind: str,
    cause: Cause,
    copy: RegistrationCopy,
    context: ContextFor,
    *,
    mails: Mails,
    emit: Emit,
    now: datetime,
    identity: str | None = None,
    calendar_for: CalendarFor | None = None,
) -> int:
    """One mail per member in the member's language; for a chat registration also one message to the room."""
    details = copy.details
    assert details is not None
    batch = []
    for member in details.members:
        language = mail_language(member)
        recipient = normalise_address(member.email)
        batch.append(
            new_mail(
                kind,
                cause,
                identity or cause.event_id,
                copy.registration_id,
                recipient,
                language,
                context(member, language),
                now,
                calendar_for(member, language) if calendar_for else None,
            )
        )
    queued = await queue(mails, *batch)
    if queued and details.channel == Channel.chat and details.chat_id:
        language = group_language(details.members)
        emit(
            ChatMessageRequested(
                chat_id=details.chat_id,
                registration_id=copy.registration_id,
                text=render_chat(kind, language, context(details.members[0], language)),
            )
        )
    return queued


async def known_registration(registrations: Registrations, registration_id: str) -> RegistrationCopy | None:
    """The copy to write to; None when its data was erased; RegistrationNotYetKnown when it has not arrived."""
    copy = await registrations.get(registration_id)
    if copy is None or (copy.details is None and not copy.erased):
        raise RegistrationNotYetKnown(registration_id)
    return copy if copy.reachable else None


async def known_edition(editions: Editions, slug: str, *, for_update: bool = False) -> EditionInfo:
    edition = await editions.get(slug, for_update=for_update)
    if edition is None:
        raise EditionNotYetKnown(slug)
    return edition
