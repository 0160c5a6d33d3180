"""Reporting's store: declarative tables and the repositories the handlers and pages use."""

from .read_model import SqlAttendance, SqlEventSources, SqlFailures, SqlInvoices, SqlNames, SqlTrios, trio_from_row
from .reports import SqlEditions, SqlReports, SqlRounds, edition_from_row, report_from_row
from .tables import (
    AttendanceRow,
    Base,
    EditionLockRow,
    EditionRow,
    EventSourceRow,
    Inbox,
    InvoiceRow,
    NameDigestRow,
    NotificationFailureRow,
    Outbox,
    RoundReportRow,
    SessionReportRow,
    TrioRow,
)

__all__ = [
    "AttendanceRow",
    "Base",
    "EditionLockRow",
    "EditionRow",
    "EventSourceRow",
    "Inbox",
    "InvoiceRow",
    "NameDigestRow",
    "NotificationFailureRow",
    "Outbox",
    "RoundReportRow",
    "SessionReportRow",
    "SqlAttendance",
    "SqlEditions",
    "SqlEventSources",
    "SqlFailures",
    "SqlInvoices",
    "SqlNames",
    "SqlReports",
    "SqlRounds",
    "SqlTrios",
    "TrioRow",
    "edition_from_row",
    "report_from_row",
    "trio_from_row",
]
