"""Messages of the reporting service."""

from __future__ import annotations

from .common import EventData


class LessonReportPublished(EventData):
    routing_key = "reporting.LessonReportPublished"

    edition: str
    session_number: int | None = None
    title: str
    url: str
