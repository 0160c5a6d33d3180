"""Notifications' store: the tables (`tables`), the mails (`mails`), the copies of editions and registrations
(`copies`) and the reminders (`reminders`)."""

from .announcements import SqlAnnouncements
from .copies import SqlEditions, SqlRegistrations
from .mails import MAIL_FIELDS, SqlMails, due_mails, newest_mails, to_mail
from .reminders import SqlReminders
from .tables import Base, EditionRow, HandoffRow, Inbox, MailRow, Outbox, RegistrationRow, ReminderRow

__all__ = [
    "MAIL_FIELDS",
    "Base",
    "EditionRow",
    "HandoffRow",
    "Inbox",
    "MailRow",
    "Outbox",
    "RegistrationRow",
    "ReminderRow",
    "SqlAnnouncements",
    "SqlEditions",
    "SqlMails",
    "SqlRegistrations",
    "SqlReminders",
    "due_mails",
    "newest_mails",
    "to_mail",
]
