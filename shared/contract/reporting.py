"""Messages of the reporting service."""

from __future__ import annotations

from pydantic import Field

from .common import Command, CommandRejected, EventData
from .scheduling import SessionNotesGiven

# Commands


class PublishReport(Command):
    """Put a session's summary, waiting as a draft since `scheduling.SessionCompleted`, on the public pages.

    Reporting publishes `reporting.LessonReportPublished`, and after the edition's last session also the round's
    report. A report that is already public is refused (`already_published`): nothing can have changed since.
    """

    routing_key = "reporting.PublishReport"

    edition: str = Field(max_length=64, description="Slug of the edition, e.g. `2027-najaar`.")
    session_number: int = Field(ge=1, le=999_999, description="The session whose summary to publish.")


class ReviseReport(Command):
    """Replace a draft summary's notes (anonymised again, as the notes of `SessionCompleted` are) before it is
    published. A published or retracted summary is not revised (`already_published`, `already_retracted`)."""

    routing_key = "reporting.ReviseReport"

    edition: str = Field(max_length=64, description="Slug of the edition, e.g. `2027-najaar`.")
    session_number: int = Field(ge=1, le=999_999, description="The session whose draft summary to revise.")
    notes: SessionNotesGiven = Field(description="The whole new notes; they replace the draft's, nothing is merged.")


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


class MarkFalsePositive(Command):
    """Tell the anonymiser that a word or phrase it removed from an edition's reports is no name there (the
    organiser's preview shows each removal and by which rule), or with `false_positive` false that it is one
    again. From then on that exact word or phrase is left as written in the edition's summaries and round's
    report, wherever a name rule alone removed it; a longer name around it still goes ("Bakker" is kept, "Wil
    Bakker" is not). Contact details and numbers are never kept: a phrase with a digit or "@" is refused
    (`not_a_word`), as is one of more than six words (`too_long`)."""

    routing_key = "reporting.MarkFalsePositive"

    edition: str = Field(max_length=64, description="Slug of the edition, e.g. `2027-najaar`.")
    phrase: str = Field(min_length=1, max_length=200, description='The word or phrase as removed, e.g. "Bakker".')
    false_positive: bool = Field(default=True, description="False: remove the phrase from the edition's list.")


# Events


class LessonReportPublished(EventData):
    routing_key = "reporting.LessonReportPublished"

    edition: str
    session_number: int | None = None
    title: str
    url: str


class ReportingCommandRejected(CommandRejected):
    routing_key = "reporting.CommandRejected"
