"""What the organiser's preview of a session's summary holds, as JSON: the text as it will be published, in
pieces as written and pieces the anonymiser changed (with why), built by the same anonymiser as the public page
(views.py). Pure: no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .anonymise import RULES, Anonymiser
from .domain import Edition, RoundPublication, SessionReport, report_url, stored_segments
from .segments import Segment, joined


def segment_json(segment: Segment) -> dict[str, Any]:
    """A piece; a changed one also says by which rule (`rule`, `reason` in Dutch) and what it replaced (`original`),
    so an organiser can tell a false positive. The preview is for organisers only (api.py), never public."""
    if not segment.changed:
        return {"text": segment.text, "changed": False, "kind": None}
    rule = segment.rule or segment.kind or ""
    return {
        "text": segment.text,
        "changed": True,
        "kind": segment.kind,
        "rule": rule,
        "reason": RULES.get(rule, rule),
        "original": segment.original,
    }


def text_json(segments: list[Segment]) -> dict[str, Any]:
    return {"text": joined(segments), "segments": [segment_json(s) for s in segments]}


def report_preview(report: SessionReport, clean: Anonymiser, public_url: str) -> dict[str, Any]:
    """The summary as `GET /api/reports/{edition}/{session_number}` shows it (docs/openapi/reporting.json)."""
    pieces = {section: [clean.segments(item) for item in items] for section, items in stored_segments(report).items()}
    texts = [item for items in pieces.values() for item in items]
    return {
        **report_line(report, clean, public_url),
        "attendance": {"trios": report.trios, "municipalities": report.municipalities},
        "changes": sum(1 for item in texts for s in item if s.changed),
        "lessons": [text_json(item) for item in pieces["lessons"]],
        "instruments": [
            {"name": text_json(name), "description": text_json(description)}
            for name, description in zip(pieces["instrument_names"], pieces["instrument_descriptions"], strict=True)
        ],
        "quotes": [text_json(item) for item in pieces["quotes"]],
        "next_steps": [text_json(item) for item in pieces["next_steps"]],
        "false_positives": sorted(clean.allowed),
    }


def report_line(report: SessionReport, clean: Anonymiser, public_url: str) -> dict[str, Any]:
    """One session's summary in the edition's list: where it stands, and where it is (or will be) public."""
    return {
        "edition": report.edition,
        "session_number": report.session_number,
        "status": report.status,
        "title": clean.clean(report.title),
        "starts_at": report.starts_at.isoformat(),
        "completed_at": report.completed_at.isoformat(),
        "published_at": _moment(report.published_at),
        "retracted_at": _moment(report.retracted_at),
        "url": report_url(public_url, report.edition, report.session_number),
    }


def edition_reports(
    slug: str,
    edition: Edition | None,
    reports: list[SessionReport],
    publication: RoundPublication | None,
    clean: Anonymiser,
    public_url: str,
) -> dict[str, Any]:
    """`GET /api/reports/{edition}`: each held session's summary with its status, and the round's report."""
    return {
        "edition": slug,
        "title": edition.title if edition else None,
        "publish_reports_at_once": edition.publish_reports_at_once if edition else None,
        "reports": [report_line(r, clean, public_url) for r in sorted(reports, key=lambda r: r.session_number)],
        "round": None
        if publication is None
        else {
            "status": "retracted" if publication.retracted_at else "published",
            "published_at": publication.published_at.isoformat(),
            "retracted_at": _moment(publication.retracted_at),
            "url": report_url(public_url, slug),
        },
    }


def _moment(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
