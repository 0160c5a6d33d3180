"""Messages of the reporting service."""

from __future__ import annotations

from pydantic import Field

from .common import Command, CommandRejected, EventData

# Commands


class RetractReport(Command):
    """Take a published report offline: a session's summary, or (without `session_number`) the round's report.

    Its page, and for the round's report also the Markdown and PDF, then answer 410 Gone; it leaves the index
    and the Atom feed. A retracted report stays retracted.
    """

    routing_key = "reporting.RetractReport"

    edition: str = Field(max_length=64, description="Slug of the edition, e.g. `2027-najaar`.")
    session_number: int | None = Field(
        default=None, ge=1, description="The session whose summary to retract; null for the round's report."
    )


# Events


class LessonReportPublished(EventData):
    routing_key = "reporting.LessonReportPublished"

    edition: str
    session_number: int | None = None
    title: str
    url: str


class ReportingCommandRejected(CommandRejected):
    routing_key = "reporting.CommandRejected"
