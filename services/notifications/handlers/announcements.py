"""An organiser's announcement (notifications.SendAnnouncement): one mail per member of an edition's placed or
waitlisted trios, queued in one statement; and one mail sent again (notifications.ResendNotification)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Protocol

from shared.contract.notifications import AnnouncementQueued, NotificationResent, ResendNotification, SendAnnouncement
from shared.messaging.messages import not_yet_known, refuse
from shared.messaging.outbox import Outbox

from ..domain import ANNOUNCEMENT, ERASED, NAME_PLACEHOLDER, PENDING, Mail, notification_id
from ..rendering import Rendered, render_mail
from ..wording import edition_context
from .ports import Editions


class Announcements(Protocol):
    async def queue(
        self,
        *,
        announcement_id: str,
        edition: str,
        status: str,
        kind: str,
        texts: dict[str, Rendered],
        caused_by: str,
        correlation_id: str,
        now: datetime,
    ) -> int: ...

    async def get(self, notification_id: str) -> Mail | None: ...
    async def add(self, mail: Mail) -> bool: ...


def announcement_texts(command: SendAnnouncement, edition_title: str | None) -> dict[str, Rendered]:
    """The mail in each language, NAME where the greeting names the member."""
    texts = {}
    for language, body in (("nl", command.text), ("en", command.text_en or command.text)):
        clean = body.replace("\ue000", "").replace("\r\n", "\n").strip()
        paragraphs = [p.split("\n") for p in clean.split("\n\n") if p.strip()]
        context = {
            "name": NAME_PLACEHOLDER,
            "subject": command.subject,
            "text": clean,
            "paragraphs": paragraphs,
            "audience": command.audience,
            "edition_title": edition_title,
        }
        texts[language] = render_mail(ANNOUNCEMENT, language, context)
    return texts


async def send_announcement(
    command: SendAnnouncement, *, outbox: Outbox, editions: Editions, announcements: Announcements, now: datetime
) -> dict[str, str]:
    edition = await editions.get(command.edition)
    if edition is None:
        # Our copy of an edition scheduling announced a moment ago may still be on its way: wait (bounded) for it.
        raise not_yet_known("edition", "unknown_edition", "Deze editie bestaat niet.")
    title = edition_context(edition.slug, edition, "nl")["edition_title"]
    announcement_id = outbox.cause.message_id
    recipients = await announcements.queue(
        announcement_id=announcement_id,
        edition=command.edition,
        status=command.audience,
        kind=ANNOUNCEMENT,
        texts=announcement_texts(command, title),
        caused_by=announcement_id,
        correlation_id=outbox.cause.correlation_id,
        now=now,
    )
    outbox.emit(
        AnnouncementQueued(
            announcement_id=announcement_id, edition=command.edition, audience=command.audience, recipients=recipients
        )
    )
    return {"announcement_id": announcement_id, "recipients": str(recipients)}


async def resend_notification(
    command: ResendNotification, *, outbox: Outbox, announcements: Announcements, now: datetime
) -> dict[str, str]:
    """The same mail as a new notification (its own attempts); the old one keeps its record."""
    mail = await announcements.get(command.notification_id)
    if mail is None:
        raise refuse("notification_id", "unknown_notification", "Deze e-mail bestaat niet.")
    if mail.status == ERASED or not mail.recipient:
        raise refuse(
            "notification_id", "erased", "De gegevens van deze e-mail zijn verwijderd; opnieuw sturen kan niet."
        )
    if mail.status == PENDING:
        raise refuse(
            "notification_id", "not_sent_yet", "Deze e-mail wordt nog verstuurd; opnieuw sturen is niet nodig."
        )
    resent = replace(
        mail,
        notification_id=notification_id(outbox.cause.message_id, mail.kind, mail.recipient),
        caused_by=outbox.cause.message_id,
        correlation_id=outbox.cause.correlation_id,
        status=PENDING,
        attempts=0,
        last_error=None,
        sent_at=None,
        message_id=None,
        created_at=now,
        next_attempt_at=now,
    )
    await announcements.add(resent)
    outbox.emit(NotificationResent(notification_id=resent.notification_id, resent=mail.notification_id))
    return {"notification_id": resent.notification_id}
