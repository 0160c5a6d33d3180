"""Registration's use cases as plain async functions; each takes its dependencies as arguments so tests can pass
in-memory fakes. One job a module: what they are given (ports.py), the registration's own use cases
(registrations.py; attempts.py tells members a refused registration named), what organisers change afterwards
(amendments.py), its copies of scheduling's facts (copies.py)
and billing (invoicing.py); every event about a registration also goes into its history (journal.py). consumes.py
and entrypoints.py use them through this package."""

from .amendments import correct_registration, replace_member
from .copies import follow_reschedule, follow_seating, follow_trio_seats, remember_edition
from .invoicing import credit_invoice, flag_overdue, issue_credit_note, issue_invoice, register_payment, resend_invoice
from .ports import ApprovalRequests, Billing, Editions, Emit, History, Invoicing, Municipalities, Registrations, Seating
from .registrations import (
    already_decided,
    cancel,
    decide,
    erase_after_retention,
    erase_on_request,
    erase_participant_data,
    existing,
    follow_placement,
    new_registration,
    register_trio,
    request_approval_again,
    trio_registered,
)

__all__ = [
    "ApprovalRequests",
    "Billing",
    "Editions",
    "Emit",
    "History",
    "Invoicing",
    "Municipalities",
    "Registrations",
    "Seating",
    "already_decided",
    "cancel",
    "correct_registration",
    "credit_invoice",
    "decide",
    "erase_after_retention",
    "erase_on_request",
    "erase_participant_data",
    "existing",
    "flag_overdue",
    "follow_placement",
    "follow_reschedule",
    "follow_seating",
    "follow_trio_seats",
    "issue_credit_note",
    "issue_invoice",
    "new_registration",
    "register_payment",
    "register_trio",
    "remember_edition",
    "replace_member",
    "request_approval_again",
    "resend_invoice",
    "trio_registered",
]
