"""Reporting's use cases: plain async functions taking the message first and their dependencies by name
(the lines of consumes.py hand them over)."""

from .copies import (
    erase_participants,
    follow_allocation,
    follow_billing,
    follow_decision,
    follow_placement,
    record_attendance,
    record_failure,
    remember_approver,
    remember_source,
    remember_trio,
)
from .false_positives import mark_false_positive
from .reports import (
    keep_session_report,
    publish_report,
    publish_round_when_complete,
    remember_edition,
    retract_report,
    revise_report,
)

__all__ = [
    "erase_participants",
    "follow_allocation",
    "follow_billing",
    "follow_decision",
    "follow_placement",
    "keep_session_report",
    "mark_false_positive",
    "publish_report",
    "publish_round_when_complete",
    "record_attendance",
    "record_failure",
    "remember_approver",
    "remember_edition",
    "remember_source",
    "remember_trio",
    "retract_report",
    "revise_report",
]
