"""A session's notes and its report: the notes form (lessons, instruments, quotes, next steps), kept as a draft in
the console's store and sent with "Afronden en naar voorbeeld" (CompleteSession, or ReviseReport while the report
is still a draft: sessions_api.send_notes); the preview of the public summary as reporting will publish it, with
every place the anonymiser changed highlighted and listed (what was there, by which rule), so an organiser can
mark a word that is no name as a false positive of the edition (MarkFalsePositive) or take that back; and
publishing or retracting it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from shared.contract import ErrorItem
from shared.contract.reporting import MarkFalsePositive
from shared.contract.scheduling import SessionNotesGiven
from shared.formatting import dutch_datetime
from shared.messaging.errors import validation_errors

from ..domain import may
from ..drafts import session_subject
from ..store import repositories
from .access import Caller, database, require
from .acting import Outcome, perform
from .session_reads import CHANGE_TEXTS, report_of, session_number, session_of
from .session_render import after, no_such, posted, session_page, session_path, when
from .sessions_api import keep_draft, send_notes, settle_report

LISTS: Final = ("lessons", "quotes", "next_steps")
# The form's fields stay within rendering.read_form's 20: csrf, action, three lists and seven instruments' two.
MAX_INSTRUMENT_ROWS: Final = 7
STATUS_TEXTS: Final = {"draft": "Concept: nog niet openbaar", "published": "Gepubliceerd", "retracted": "Ingetrokken"}
SECTIONS: Final = (
    ("lessons", "Lessen"),
    ("instruments", "Instrumenten"),
    ("quotes", "Citaten"),
    ("next_steps", "Volgende stappen"),
)

REPORT_WAIT_SECONDS = 8.0
# The kinds of change a false positive can undo: names and places. Contact details and numbers always go.
WORD_KINDS: Final = frozenset({"name", "municipality", "neighbourhood"})
REMOVED: Final = "[verwijderd]"


def changes_of(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every change in the preview, in reading order: what was there, what is published, by which rule, and
    whether it may be marked as no name (a word rule, and a word to mark)."""
    texts = []
    for key, _ in SECTIONS:
        for item in report.get(key) or []:
            texts += [item["name"], item["description"]] if key == "instruments" else [item]
    changes = []
    for text in texts:
        for piece in text.get("segments", []):
            if not piece.get("changed"):
                continue
            original = piece.get("original")
            words = bool(original) and original != REMOVED and any(c.isalpha() for c in original or "")
            changes.append(
                {
                    "original": original if original and original != piece["text"] else None,
                    "text": piece["text"],
                    "reason": piece.get("reason") or CHANGE_TEXTS.get(piece.get("kind") or "", "aangepast"),
                    "markable": words and piece.get("kind") in WORD_KINDS,
                }
            )
    return changes


def form_of(notes: Mapping[str, Any]) -> dict[str, Any]:
    """The form's values for NOTES (SessionNotes as JSON): a list one item a line, and the instruments' rows with
    room for two more."""
    instruments = [dict(i) for i in notes.get("instruments", [])]
    rows = min(MAX_INSTRUMENT_ROWS, max(3, len(instruments) + 2))
    instruments += [{"name": "", "description": ""}] * (rows - len(instruments))
    return {**{key: "\n".join(notes.get(key, [])) for key in LISTS}, "instruments": instruments[:rows]}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def notes_from(form: Mapping[str, str]) -> tuple[dict[str, Any], SessionNotesGiven | list[ErrorItem]]:
    """The posted form's values (to show again) and its notes, or the reasons, each with the form field's name."""
    rows: list[dict[str, str]] = []
    for i in range(1, MAX_INSTRUMENT_ROWS + 1):
        row = {part: form.get(f"instrument_{i}_{part}", "").strip() for part in ("name", "description")}
        rows.append(row)
    texts = {key: form.get(key, "") for key in LISTS}
    values: dict[str, Any] = {**texts, "instruments": rows}
    errors: list[ErrorItem] = []
    used = []  # the row number of each instrument that is filled in
    for number, row in enumerate(rows, start=1):
        if not row["name"] and not row["description"]:
            continue
        used.append(number)
        for part, missing in (("name", "Geef het instrument een naam."), ("description", "Beschrijf het instrument.")):
            if not row[part]:
                errors.append(ErrorItem(field=f"instrument_{number}_{part}", code="required", message=missing))
    body = {key: _lines(texts[key]) for key in LISTS} | {"instruments": [rows[n - 1] for n in used]}
    try:
        notes = SessionNotesGiven.model_validate(body)
    except ValidationError as exc:
        errors += [_on_form(e, used) for e in validation_errors(exc)]
    else:
        if not errors:
            return values, notes
    shown = dict(values)
    shown["instruments"] = rows[: max(3, (used[-1] if used else 0) + 2)]
    return shown, errors


def _on_form(error: ErrorItem, used: Sequence[int]) -> ErrorItem:
    """An error of SessionNotes (e.g. `instruments[1].name`, `lessons[0]`) on the form field it came from."""
    field = error.field
    if field.startswith("instruments["):
        index, _, part = field.removeprefix("instruments[").partition("].")
        field = f"instrument_{used[int(index)]}_{part or 'name'}"
    else:
        field = field.split("[")[0]
    return ErrorItem(field=field, code=error.code, message=error.message)


async def notes_form(request: Request) -> Response:
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "notes.write", slug)
    if number is None:
        return no_such()
    session = await session_of(request, slug, number)
    if session is None:
        return no_such()
    async with repositories(database(request)) as repos:
        draft = await repos.notes.get(slug, number)
    notes = draft.notes if draft is not None else session.get("notes") or {}
    saved_at = dutch_datetime(draft.updated_at) if draft is not None else ""
    return _form_page(request, caller, slug, number, session, form_of(notes), saved_at=saved_at)


def _form_page(
    request: Request,
    caller: Caller,
    slug: str,
    number: int,
    session: Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    status: int = 200,
    errors: Sequence[ErrorItem] = (),
    saved_at: str = "",
) -> Response:
    field_ids = {e.field: e.field for e in errors if e.field in LISTS or e.field.startswith("instrument_")}
    return session_page(
        request,
        caller,
        "session_notes.html",
        status,
        slug=slug,
        number=number,
        errors=errors,
        field_ids=field_ids,
        session=session,
        when=when(session),
        form=values,
        field_errors={e.field: e.message for e in errors if e.field in field_ids},
        saved_at=saved_at,
    )


async def save_notes_form(request: Request) -> Response:
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "notes.write", slug)
    form = await posted(request)
    if not isinstance(form, dict):
        return form
    session = await session_of(request, slug, number) if number is not None else None
    if session is None or number is None:
        return no_such()
    values, notes = notes_from(form)
    if not isinstance(notes, SessionNotesGiven):
        return _form_page(request, caller, slug, number, session, values, status=422, errors=notes)
    await keep_draft(request, caller, slug, number, notes)
    if form.get("action") != "finish":
        return RedirectResponse(f"{session_path(slug, number, '/notes')}?gedaan=opgeslagen", 303)
    outcome = await send_notes(request, caller, slug, number, notes)
    done = after(outcome, session_path(slug, number, "/report"), "afgerond")
    if done is not None:
        return done
    status = outcome.http_status()
    return _form_page(request, caller, slug, number, session, values, status=status, errors=outcome.errors)


async def preview(request: Request) -> Response:
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "read", slug)
    return await _preview(request, caller, slug, number)


async def _preview(
    request: Request,
    caller: Caller,
    slug: str,
    number: int | None,
    *,
    status: int = 200,
    errors: Sequence[ErrorItem] = (),
) -> Response:
    if number is None:
        return no_such()
    report = await report_of(request, slug, number)
    # Just completed: reporting makes the draft from scheduling's SessionCompleted, a moment later. Wait for it
    # (bounded) rather than show "no summary yet"; past the wait the page refreshes itself until it is there.
    pending = request.query_params.get("gedaan") == "afgerond"
    deadline = time.monotonic() + REPORT_WAIT_SECONDS
    while report is None and pending and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        report = await report_of(request, slug, number)
    return session_page(
        request,
        caller,
        "session_report.html",
        status,
        slug=slug,
        number=number,
        errors=errors,
        report=report,
        pending=pending and report is None,
        may={
            "notes": may(caller.principal, "notes.write", slug),
            "publish": may(caller.principal, "reports.publish", slug),
        },
        STATUS_TEXTS=STATUS_TEXTS,
        SECTIONS=SECTIONS,
        # What was written is for those who write or publish the notes, not for viewers.
        changes=changes_of(report) if report and may(caller.principal, "notes.write", slug) else [],
        change_text=lambda kind: CHANGE_TEXTS.get(kind, "aangepast"),
    )


async def _report_action(request: Request, retract: bool) -> Response:
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "reports.publish", slug)
    form = await posted(request)
    if not isinstance(form, dict):
        return form
    if number is None:
        return no_such()
    outcome: Outcome = await settle_report(request, caller, slug, number, retract=retract)
    done = after(outcome, session_path(slug, number, "/report"), "ingetrokken" if retract else "gepubliceerd")
    if done is not None:
        return done
    return await _preview(request, caller, slug, number, status=outcome.http_status(), errors=outcome.errors)


async def mark_false_positive(request: Request) -> Response:
    """ "Is geen naam" on a change of the preview, or "Toch weghalen" on the edition's list."""
    slug, number = request.path_params["slug"], session_number(request)
    caller = await require(request, "reports.publish", slug)
    form = await posted(request)
    if not isinstance(form, dict):
        return form
    if number is None:
        return no_such()
    phrase = form.get("phrase", "").strip()
    if not phrase:
        error = ErrorItem(field="phrase", code="required", message="Kies het woord dat geen naam is.")
        return await _preview(request, caller, slug, number, status=422, errors=[error])
    command = MarkFalsePositive(edition=slug, phrase=phrase[:200], false_positive=form.get("action") != "remove")
    outcome: Outcome = await perform(request, caller, command, subject=session_subject(slug, number))
    done = after(outcome, session_path(slug, number, "/report"), "gemarkeerd")
    if done is not None:
        return done
    return await _preview(request, caller, slug, number, status=outcome.http_status(), errors=outcome.errors)


async def publish(request: Request) -> Response:
    return await _report_action(request, retract=False)


async def retract(request: Request) -> Response:
    return await _report_action(request, retract=True)


ROUTES: Final = (
    ("/notes", notes_form, "GET"),
    ("/notes", save_notes_form, "POST"),
    ("/report", preview, "GET"),
    ("/report/publish", publish, "POST"),
    ("/report/retract", retract, "POST"),
    ("/report/false-positive", mark_false_positive, "POST"),
)
