"""Reporting use cases. Each takes its dependencies as arguments so tests can pass in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from shared.contract import Event, EventData
from shared.contract.reporting import LessonReportPublished
from shared.contract.scheduling import EditionScheduled, SessionCompleted

from .domain import Edition, Instrument, PlannedSession, SessionReport, anonymised, report_url

Emit = Callable[[EventData], object]


class Reports(Protocol):
    async def get(self, edition: str, session_number: int, *, for_update: bool = False) -> SessionReport | None: ...
    async def save(self, report: SessionReport) -> None: ...


class Editions(Protocol):
    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None: ...
    async def save(self, edition: Edition) -> None: ...


async def publish_session_report(event: SessionCompleted, envelope: Event[Any], *, reports: Reports, emit: Emit,
                                 public_url: str) -> None:
    """Store a held session's report (anonymised) and announce its public page.

    The page is rendered on request, so it needs nothing from the edition yet: the edition's outcome text
    joins in whenever reporting's copy of the edition arrives, before or after this event.
    """
    current = await reports.get(event.edition, event.session_number, for_update=True)
    if current is not None and current.completed_at > envelope.occurred_at:
        return  # an older version delivered late (after a retry, or by another replica) changes nothing
    notes = event.notes
    report = anonymised(SessionReport(
        edition=event.edition, session_number=event.session_number, title=event.title, starts_at=event.starts_at,
        trios=event.attendance.trios, municipalities=event.attendance.municipalities,
        lessons=list(notes.lessons), instruments=[Instrument(i.name, i.description) for i in notes.instruments],
        quotes=list(notes.quotes), next_steps=list(notes.next_steps), completed_at=envelope.occurred_at,
    ))
    await reports.save(report)
    emit(LessonReportPublished(edition=report.edition, session_number=report.session_number, title=report.title,
                               url=report_url(public_url, report.edition, report.session_number)))


async def remember_edition(event: EditionScheduled, *, editions: Editions, occurred_at: datetime) -> None:
    """Keep reporting's copy of an edition current (event-carried state)."""
    current = await editions.get(event.edition, for_update=True)
    if current is not None and current.scheduled_at > occurred_at:
        return  # an older announcement delivered late changes nothing
    await editions.save(Edition(
        slug=event.edition, title=event.title, venue=event.venue.model_dump(mode="json"),
        sessions=[PlannedSession(number=s.number, title=s.title, outcome=s.outcome, starts_at=s.starts_at)
                  for s in event.sessions],
        scheduled_at=occurred_at,
    ))
