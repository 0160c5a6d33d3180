"""reporting.LessonReportPublished: the placed trios get the link to the public summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.contract import Event
from shared.contract.registration import RegisteredMember, TrioRegistered
from shared.contract.reporting import LessonReportPublished

from ..domain import LESSON_REPORT
from ..wording import member_context
from .notify import Cause, notify_trio
from .ports import Editions, Emit, Mails, Registrations


async def announce_report(
    published: LessonReportPublished,
    *,
    envelope: Event[Any],
    editions: Editions,
    registrations: Registrations,
    mails: Mails,
    emit: Emit,
    now: datetime,
) -> None:
    """The public summary of a session (or of the round) is online: the placed trios get the link."""
    edition = await editions.get(published.edition)
    for copy in await registrations.placed_in(published.edition):
        assert copy.details is not None
        details = copy.details

        def context(member: RegisteredMember, language: str, details: TrioRegistered = details) -> dict[str, Any]:
            return member_context(details, member, edition, language) | {
                "report_title": published.title,
                "report_url": published.url,
                "session_number": published.session_number,
            }

        await notify_trio(LESSON_REPORT, Cause.of(envelope), copy, context, mails=mails, emit=emit, now=now)
