"""Notification use cases. Each takes its dependencies as arguments so tests can pass in-memory fakes."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import structlog

from shared.contract import Event
from shared.contract.registration import TrioRegistered
from shared.contract.scheduling import EditionScheduled

from .domain import (
    ACKNOWLEDGEMENT,
    EditionInfo,
    Mail,
    SessionInfo,
    acknowledgement_context,
    mail_language,
    notification_id,
)
from .rendering import render_mail

log = structlog.get_logger()


class Editions(Protocol):
    async def get(self, slug: str) -> EditionInfo | None: ...
    async def save(self, edition: EditionInfo) -> None: ...


class Mails(Protocol):
    async def add(self, mail: Mail) -> bool:
        """Store a pending mail; False (and nothing stored) if one with its (caused_by, kind, recipient) exists."""
        ...


async def acknowledge_registration(event: Event[TrioRegistered], *, editions: Editions, mails: Mails,
                                   now: datetime) -> None:
    """Queue an acknowledgement for each member of the trio; the sender delivers them after the commit."""
    registration = event.data
    edition = await editions.get(registration.edition)
    for member in registration.members:
        language = mail_language(member)
        recipient = member.email.strip().lower()
        rendered = render_mail(ACKNOWLEDGEMENT, language,
                               acknowledgement_context(registration, member, edition, language))
        mail = Mail(
            notification_id=notification_id(event.event_id, ACKNOWLEDGEMENT, recipient),
            kind=ACKNOWLEDGEMENT, caused_by=event.event_id, correlation_id=event.correlation_id,
            registration_id=registration.registration_id, recipient=recipient, language=language,
            subject=rendered.subject, text=rendered.text, html=rendered.html, created_at=now, next_attempt_at=now,
        )
        if await mails.add(mail):
            log.info("mail_queued", notification_id=mail.notification_id, kind=mail.kind)


async def remember_edition(event: Event[EditionScheduled], *, editions: Editions) -> None:
    """Keep the newest copy of the edition; an update overtaken by a later one is ignored."""
    data = event.data
    existing = await editions.get(data.edition)
    if existing is not None and existing.scheduled_at > event.occurred_at:
        return
    await editions.save(EditionInfo(
        slug=data.edition, title=data.title, venue=data.venue.model_dump(),
        registration_deadline=data.registration_deadline,
        sessions=[SessionInfo(s.number, s.title, s.starts_at, s.ends_at) for s in data.sessions],
        scheduled_at=event.occurred_at,
    ))
