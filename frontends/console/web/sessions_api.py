"""The console's API for sessions: read one, record its attendance, send its notes, reschedule it, and preview,
publish or retract its report. Read from scheduling's and reporting's APIs; acted on by publishing their commands
(RecordAttendance, CompleteSession, RescheduleSession; PublishReport, ReviseReport, RetractReport), each with the
caller as its actor and in the audit log. The pages (session_pages, checkin, notes_pages) act through the same
functions."""

from __future__ import annotations

from typing import Final

from pydantic import AwareDatetime, BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.contract.reporting import MarkFalsePositive, PublishReport, RetractReport, ReviseReport
from shared.contract.scheduling import CompleteSession, RecordAttendance, RescheduleSession, SessionNotesGiven

from ..domain import Action, may
from ..drafts import save_notes, session_subject
from ..store import repositories
from .access import Caller, address, console, database, require
from .acting import BadBody, Outcome, answer, parse_body, perform
from .openapi import Operation, command_body
from .rendering import api_errors
from .session_reads import report_of, session_number, session_of, without_originals

# The session commands the API takes as a body plus the path's edition and number.
SessionCommand = RecordAttendance | RescheduleSession


class PresentTrios(BaseModel):
    present: list[str] = Field(description="registration_ids of the trios present; the others were not.")


class NewTimes(BaseModel):
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class SessionAccepted(BaseModel):
    status: str = Field(description="`accepted`, or `pending` when the service has not answered yet (202).")
    edition: str
    session_number: int


# The body of report/false-positives, for the document; the edition comes from the path.
FalsePositive: Final = command_body(MarkFalsePositive, "FalsePositive")


def no_session() -> JSONResponse:
    return api_errors("unknown_session", "Deze editie heeft geen bijeenkomst met dit nummer.", 404, field="number")


async def send_notes(request: Request, caller: Caller, slug: str, number: int, notes: SessionNotesGiven) -> Outcome:
    """The session's notes to where they belong now: with CompleteSession while the session is not completed,
    as a revision of the report while that is still a draft. Otherwise CompleteSession all the same, which
    scheduling refuses with its reason (already completed: the report was published or retracted)."""
    session = await session_of(request, slug, number)
    if session is not None and session.get("completed"):
        report = await report_of(request, slug, number)
        if report is not None and report.get("status") == "draft":
            revise = ReviseReport(edition=slug, session_number=number, notes=notes)
            return await perform(request, caller, revise, subject=session_subject(slug, number))
    complete = CompleteSession(edition=slug, session_number=number, notes=notes)
    return await perform(request, caller, complete, subject=session_subject(slug, number))


async def keep_draft(request: Request, caller: Caller, slug: str, number: int, notes: SessionNotesGiven) -> None:
    async with repositories(database(request)) as repos:
        await save_notes(
            repos.notes,
            repos.audit,
            notes.model_dump(mode="json"),
            edition=slug,
            session_number=number,
            account_id=caller.principal.account_id,
            address=address(request),
            now=console(request).clock(),
        )


async def show_session(request: Request) -> Response:
    slug, number = request.path_params["slug"], session_number(request)
    await require(request, "read", slug)
    session = await session_of(request, slug, number) if number is not None else None
    if session is None or number is None:
        return no_session()
    async with repositories(database(request)) as repos:
        draft = await repos.checkin.present(slug, number)
    return JSONResponse({**session, "checkin_present": draft}, headers={"Cache-Control": "no-store"})


async def _session_command(request: Request, action: Action, model: type[SessionCommand]) -> Response:
    """A scheduling command about the session in the path: the body's fields, the edition and number from the path."""
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, action, slug)
    if number is None:
        return no_session()
    try:
        command = await parse_body(request, model, edition=slug, session_number=number)
    except BadBody as bad:
        return bad.response
    outcome = await perform(request, caller, command, subject=session_subject(slug, number))
    return answer(outcome, edition=slug, session_number=number)


async def record_attendance(request: Request) -> Response:
    return await _session_command(request, "attendance.record", RecordAttendance)


async def write_notes(request: Request) -> Response:
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "notes.write", slug)
    if number is None:
        return no_session()
    try:
        notes = await parse_body(request, SessionNotesGiven)
    except BadBody as bad:
        return bad.response
    await keep_draft(request, caller, slug, number, notes)
    outcome = await send_notes(request, caller, slug, number, notes)
    return answer(outcome, edition=slug, session_number=number)


async def reschedule(request: Request) -> Response:
    return await _session_command(request, "editions.write", RescheduleSession)


async def show_report(request: Request) -> Response:
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "read", slug)
    report = await report_of(request, slug, number) if number is not None else None
    if report is None:
        return api_errors("unknown_report", "Van deze bijeenkomst is (nog) geen verslag.", 404, field="number")
    if not may(caller.principal, "notes.write", slug):
        report = without_originals(report)
    return JSONResponse(report, headers={"Cache-Control": "no-store"})


async def settle_report(request: Request, caller: Caller, slug: str, number: int, *, retract: bool) -> Outcome:
    """Publish or retract the session's summary. Once either is accepted the notes can no longer be revised, so
    the console's draft of them (which may name people) is dropped: reporting keeps the anonymised copy."""
    command = (
        RetractReport(edition=slug, session_number=number)
        if retract
        else PublishReport(edition=slug, session_number=number)
    )
    outcome = await perform(request, caller, command, subject=session_subject(slug, number))
    if outcome.status == "accepted":
        async with repositories(database(request)) as repos:
            await repos.notes.forget(slug, number)
    return outcome


async def publish_report(request: Request) -> Response:
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "reports.publish", slug)
    if number is None:
        return no_session()
    outcome = await settle_report(request, caller, slug, number, retract=False)
    return answer(outcome, edition=slug, session_number=number)


async def retract_report(request: Request) -> Response:
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "reports.publish", slug)
    if number is None:
        return no_session()
    outcome = await settle_report(request, caller, slug, number, retract=True)
    return answer(outcome, edition=slug, session_number=number)


async def mark_false_positive(request: Request) -> Response:
    """A word the anonymiser removed from the edition's reports that is no name there (or is one again)."""
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "reports.publish", slug)
    if number is None:
        return no_session()
    try:
        command = await parse_body(request, MarkFalsePositive, edition=slug)
    except BadBody as bad:
        return bad.response
    outcome = await perform(request, caller, command, subject=session_subject(slug, number))
    return answer(outcome, edition=slug, session_number=number)


SESSION: Final = "/api/editions/{slug}/sessions/{number}"
ACTED: Final = {
    200: "Gedaan.",
    202: "Verstuurd; de dienst heeft nog niet geantwoord.",
    404: "Deze editie of bijeenkomst bestaat niet.",
    409: "Kan niet in deze stand (met de reden), bijvoorbeeld: de bijeenkomst is al afgerond.",
    422: "De gegevens kloppen niet (met per veld de reden).",
}

OPERATIONS: Final = (
    Operation(
        "GET",
        SESSION,
        show_session,
        "Eén bijeenkomst: tijden, afgerond, aanwezigheid, tafelindeling en de aanmelding bij de deur",
        "read",
        "bijeenkomsten",
        answers={200: "De bijeenkomst.", 404: "Deze editie of bijeenkomst bestaat niet."},
    ),
    Operation(
        "POST",
        f"{SESSION}/attendance",
        record_attendance,
        "De aanwezigheid vastleggen (de trio's die er waren)",
        "attendance.record",
        "bijeenkomsten",
        body=PresentTrios,
        answer=SessionAccepted,
        answers=ACTED,
        idempotent_key=True,
    ),
    Operation(
        "POST",
        f"{SESSION}/notes",
        write_notes,
        "Het verslag van de bijeenkomst: rondt de bijeenkomst af, of herziet het concept van het verslag",
        "notes.write",
        "bijeenkomsten",
        body=SessionNotesGiven,
        answer=SessionAccepted,
        answers=ACTED,
        idempotent_key=True,
    ),
    Operation(
        "POST",
        f"{SESSION}/reschedule",
        reschedule,
        "De bijeenkomst verzetten (de trio's krijgen een bijgewerkte uitnodiging)",
        "editions.write",
        "bijeenkomsten",
        body=NewTimes,
        answer=SessionAccepted,
        answers=ACTED,
        idempotent_key=True,
    ),
    Operation(
        "GET",
        f"{SESSION}/report",
        show_report,
        "Het verslag zoals het gepubliceerd wordt, met elke plek die de anonimisering veranderde",
        "read",
        "verslagen",
        answers={200: "Het verslag (concept, gepubliceerd of ingetrokken).", 404: "Nog geen verslag."},
    ),
    Operation(
        "POST",
        f"{SESSION}/report/publish",
        publish_report,
        "Het verslag publiceren",
        "reports.publish",
        "verslagen",
        answer=SessionAccepted,
        answers={**ACTED, 409: "Al gepubliceerd of ingetrokken."},
        idempotent_key=True,
    ),
    Operation(
        "POST",
        f"{SESSION}/report/false-positives",
        mark_false_positive,
        "Een weggehaald woord is geen naam in deze editie (`false_positive` false: het is er toch een)",
        "reports.publish",
        "verslagen",
        body=FalsePositive,
        answer=SessionAccepted,
        answers={**ACTED, 422: "Geen woord (cijfers of @) of meer dan zes woorden."},
        idempotent_key=True,
    ),
    Operation(
        "POST",
        f"{SESSION}/report/retract",
        retract_report,
        "Het verslag intrekken (de pagina verdwijnt)",
        "reports.publish",
        "verslagen",
        answer=SessionAccepted,
        answers={**ACTED, 409: "Al ingetrokken."},
        idempotent_key=True,
    ),
)
