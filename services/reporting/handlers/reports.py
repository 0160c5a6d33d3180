"""Session summaries and the round's report.

A completed session's notes become a draft summary: anonymised, stored, on no public page. An organiser reads
its preview (services/reporting/api.py), may revise it (`ReviseReport`) and publishes it (`PublishReport`);
only then is it on the public pages and announced (`LessonReportPublished`). An edition scheduled with
`publish_reports_at_once` skips the draft: its summaries are published as the session is completed, as before
drafts existed. Choices:

- A published summary is not revised: `ReviseReport` and a second `PublishReport` are refused
  (`already_published`), so what the public reads is always what an organiser published. To take it down:
  `RetractReport`, for good.
- A retracted summary stays retracted; a draft cannot be retracted (`not_published`): it is not public, and
  left unpublished it never will be.
- An edition reporting hears of only after one of its sessions' notes: the summary waits as a draft (the safe
  default); when the edition then arrives saying `publish_reports_at_once`, its drafts are published then. An
  edition whose setting changes later leaves its drafts as they are: they wait for an organiser.
- The round's report is published once the edition's last session's summary is published.

Whatever decides about an edition's publications takes the edition's lock first (`Rounds.lock`), then the rows:
a session's notes and its edition handled at the same moment by two replicas would otherwise each miss the
other's uncommitted row, leaving a draft in an edition that publishes at once. One order of locks, no deadlock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.contract import Event
from shared.contract.reporting import LessonReportPublished, PublishReport, RetractReport, ReviseReport
from shared.contract.scheduling import EditionScheduled, SessionCompleted, SessionNotes
from shared.messaging.messages import CommandRefused, NotYetKnown, not_yet_known, refuse

from ..contacts import scrub
from ..domain import Edition, Instrument, PlannedSession, RoundPublication, SessionReport, anonymised, report_url
from ..views import round_title
from .ports import Editions, Emit, Reports, Rounds


async def keep_session_report(
    event: SessionCompleted,
    *,
    envelope: Event[Any],
    reports: Reports,
    editions: Editions,
    rounds: Rounds,
    emit: Emit,
    public_url: str,
) -> None:
    """Keep a held session's summary (contact details removed) as a draft, or publish it at once if its edition
    says so; after the edition's last session, the round's report too.

    The page is rendered on request, so it needs nothing else yet: the edition's outcome text, the names to
    scrub and the numbers join in whenever those events arrive, before or after this one.
    """
    await rounds.lock(event.edition)
    current = await reports.get(event.edition, event.session_number, for_update=True)
    if current is not None and current.completed_at > envelope.occurred_at:
        return  # an older version delivered late (after a retry, or by another replica) changes nothing
    if current is not None and current.retracted_at is not None:
        return  # an organiser took it offline; a later version does not bring it back
    edition = await editions.get(event.edition)
    at_once = edition is not None and edition.publish_reports_at_once
    if current is not None and current.public and not at_once:
        return  # an organiser published what they read; a later version does not replace it unseen
    report = with_notes(
        SessionReport(
            edition=event.edition,
            session_number=event.session_number,
            title=event.title,
            starts_at=event.starts_at,
            trios=event.attendance.trios,
            municipalities=event.attendance.municipalities,
            completed_at=envelope.occurred_at,
            published_at=envelope.occurred_at if at_once else None,
        ),
        event.notes,
    )
    await reports.save(report)
    if report.public:
        await _announce(report, reports=reports, editions=editions, rounds=rounds, emit=emit, public_url=public_url)


def with_notes(report: SessionReport, notes: SessionNotes) -> SessionReport:
    """The report holding these notes, anonymised as stored."""
    return anonymised(
        replace(
            report,
            lessons=list(notes.lessons),
            instruments=[Instrument(i.name, i.description) for i in notes.instruments],
            quotes=list(notes.quotes),
            next_steps=list(notes.next_steps),
        )
    )


async def publish_report(
    cmd: PublishReport,
    *,
    reports: Reports,
    editions: Editions,
    rounds: Rounds,
    emit: Emit,
    public_url: str,
    now: datetime,
) -> dict[str, Any]:
    await rounds.lock(cmd.edition)
    found = await reports.get(cmd.edition, cmd.session_number, for_update=True)
    if found is None:
        raise await missing_report(cmd.edition, cmd.session_number, editions=editions, now=now)
    report = _draft(found)
    report.published_at = now
    await reports.save(report)
    await _announce(report, reports=reports, editions=editions, rounds=rounds, emit=emit, public_url=public_url)
    return {
        "edition": report.edition,
        "session_number": report.session_number,
        "url": report_url(public_url, report.edition, report.session_number),
    }


async def revise_report(
    cmd: ReviseReport, *, reports: Reports, editions: Editions | None = None, now: datetime | None = None
) -> dict[str, Any]:
    found = await reports.get(cmd.edition, cmd.session_number, for_update=True)
    if found is None and editions is not None and now is not None:
        raise await missing_report(cmd.edition, cmd.session_number, editions=editions, now=now)
    report = _draft(found)
    await reports.save(with_notes(report, cmd.notes))
    return {"edition": report.edition, "session_number": report.session_number}


async def missing_report(
    edition: str, session_number: int, *, editions: Editions, now: datetime
) -> CommandRefused | NotYetKnown:
    """A command names a session whose report we do not have. Scheduling may have completed it a moment ago (its
    SessionCompleted on its way): then the command waits for it. Refused at once only when it cannot come: the
    edition we know has no such session, or the session has not started (scheduling completes none before)."""
    known = await editions.get(edition)
    session = next((s for s in known.sessions if s.number == session_number), None) if known else None
    if known is not None and (session is None or session.starts_at > now):
        return refuse("session_number", "unknown_report", UNKNOWN_REPORT)
    return not_yet_known("session_number", "unknown_report", UNKNOWN_REPORT)


UNKNOWN_REPORT = "Van deze bijeenkomst is (nog) geen verslag."


def _draft(report: SessionReport | None) -> SessionReport:
    """The report, if it is a draft an organiser may still revise and publish."""
    if report is None:
        raise refuse("session_number", "unknown_report", UNKNOWN_REPORT)
    if report.status == "retracted":
        raise refuse("session_number", "already_retracted", "Dit verslag is ingetrokken.")
    if report.status == "published":
        raise refuse(
            "session_number",
            "already_published",
            "Dit verslag is al gepubliceerd en kan niet meer worden gewijzigd; trek het zo nodig in.",
        )
    return report


async def _announce(
    report: SessionReport, *, reports: Reports, editions: Editions, rounds: Rounds, emit: Emit, public_url: str
) -> None:
    assert report.published_at is not None
    emit(_published_event(report, public_url))
    await publish_round_when_complete(
        report.edition,
        reports=reports,
        editions=editions,
        rounds=rounds,
        emit=emit,
        public_url=public_url,
        now=report.published_at,
    )


async def remember_edition(
    event: EditionScheduled,
    *,
    editions: Editions,
    reports: Reports,
    rounds: Rounds,
    emit: Emit,
    public_url: str,
    occurred_at: datetime,
) -> None:
    """Keep reporting's copy of an edition current (event-carried state). The edition may arrive after its
    sessions' summaries: then, if it publishes them at once, it publishes those drafts, and it may be what
    completes the round."""
    await rounds.lock(event.edition)
    current = await editions.get(event.edition, for_update=True)
    if current is not None and current.scheduled_at > occurred_at:
        return  # an older announcement delivered late changes nothing
    await editions.save(
        Edition(
            slug=event.edition,
            title=event.title,
            venue=event.venue.model_dump(mode="json"),
            sessions=[
                PlannedSession(number=s.number, title=s.title, outcome=s.outcome, starts_at=s.starts_at)
                for s in event.sessions
            ],
            scheduled_at=occurred_at,
            capacity=event.capacity.model_dump(),
            publish_reports_at_once=event.publish_reports_at_once,
        )
    )
    if current is None and event.publish_reports_at_once:
        # Only drafts kept for want of the edition: one per held session, so a handful at most.
        for held in await reports.of_edition(event.edition):
            draft = await reports.get(held.edition, held.session_number, for_update=True)
            if draft is not None and draft.status == "draft":
                draft.published_at = occurred_at
                await reports.save(draft)
                emit(_published_event(draft, public_url))
    await publish_round_when_complete(
        event.edition,
        reports=reports,
        editions=editions,
        rounds=rounds,
        emit=emit,
        public_url=public_url,
        now=occurred_at,
    )


def _published_event(report: SessionReport, public_url: str) -> LessonReportPublished:
    return LessonReportPublished(
        edition=report.edition,
        session_number=report.session_number,
        title=scrub(report.title),
        url=report_url(public_url, report.edition, report.session_number),
    )


async def publish_round_when_complete(
    slug: str, *, reports: Reports, editions: Editions, rounds: Rounds, emit: Emit, public_url: str, now: datetime
) -> bool:
    """Publish the round's report once the edition's last session's summary is published; once per edition."""
    await rounds.lock(slug)
    edition = await editions.get(slug)
    if edition is None or await rounds.get(slug, for_update=True) is not None:
        return False
    published = [r for r in await reports.of_edition(slug) if r.published_at is not None]
    if edition.last_session not in {r.session_number for r in published}:
        return False
    await rounds.save(RoundPublication(edition=slug, published_at=now))
    emit(
        LessonReportPublished(
            edition=slug,
            session_number=None,
            title=scrub(round_title(edition, published)),
            url=report_url(public_url, slug),
        )
    )
    return True


async def retract_report(
    cmd: RetractReport, *, reports: Reports, rounds: Rounds, now: datetime, editions: Editions | None = None
) -> dict[str, Any]:
    if cmd.session_number is None:
        publication = await rounds.get(cmd.edition, for_update=True)
        if publication is None:
            raise refuse(
                "edition", "unknown_report", "Van deze editie is (nog) geen verslag van de ronde gepubliceerd."
            )
        if publication.retracted_at is not None:
            raise refuse("edition", "already_retracted", "Dit verslag is al ingetrokken.")
        publication.retracted_at = now
        await rounds.save(publication)
    else:
        report = await reports.get(cmd.edition, cmd.session_number, for_update=True)
        if report is None and editions is not None:
            raise await missing_report(cmd.edition, cmd.session_number, editions=editions, now=now)
        if report is None:
            raise refuse("session_number", "unknown_report", "Van deze bijeenkomst is (nog) geen verslag gepubliceerd.")
        if report.retracted_at is not None:
            raise refuse("session_number", "already_retracted", "Dit verslag is al ingetrokken.")
        if report.published_at is None:
            raise refuse(
                "session_number", "not_published", "Dit verslag is nog een concept: het staat nergens openbaar."
            )
        report.retracted_at = now
        await reports.save(report)
    return {"edition": cmd.edition, "session_number": cmd.session_number}
