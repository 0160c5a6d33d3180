"""Registration's adapters, one job a module: the tables (tables.py), the message store (store.py), the copies of
scheduling's facts (copies.py), the registrations repository (registrations.py), the registrations' history
(history.py), the organisers' reads (queries.py), the billing store (billing_store.py) and the municipality files
(municipalities.py). The names other modules use are re-exported."""

from .approval_requests import SqlApprovalRequests
from .billing_store import SqlBilling
from .copies import SqlEditions, SqlSeating
from .history import SqlHistory
from .municipalities import load_municipalities
from .queries import RegistrationQuery, SqlRegistrationQueries
from .registrations import SqlRegistrations
from .store import RegistrationStore
from .tables import (
    ApprovalRequestRow,
    Base,
    CreditNoteRow,
    EditionRow,
    HistoryRow,
    Inbox,
    InvoiceCounterRow,
    InvoiceRow,
    MemberRow,
    Outbox,
    PaymentRow,
    RegistrationRow,
    SeatingPlanRow,
    SeatRow,
)

__all__ = [
    "ApprovalRequestRow",
    "Base",
    "CreditNoteRow",
    "EditionRow",
    "HistoryRow",
    "Inbox",
    "InvoiceCounterRow",
    "InvoiceRow",
    "MemberRow",
    "Outbox",
    "PaymentRow",
    "RegistrationQuery",
    "RegistrationRow",
    "RegistrationStore",
    "SeatRow",
    "SeatingPlanRow",
    "SqlApprovalRequests",
    "SqlBilling",
    "SqlEditions",
    "SqlHistory",
    "SqlRegistrationQueries",
    "SqlRegistrations",
    "SqlSeating",
    "load_municipalities",
]
