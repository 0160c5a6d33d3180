"""Notification use cases: plain async functions, the message first and every dependency by name (consumes.py
wires them; tests pass in-memory fakes).

A handler runs in the transaction that records its event in the inbox: the mails it queues (and the chat
messages it emits) are committed with that claim, and the sender delivers them afterwards.

- `acknowledgements`: a registration's acknowledgements and its approver's request
- `attempts`: members already registered told of another registration that named them
- `decisions`: approved, declined, cancelled (and the place released by it)
- `placement`: a place with its calendar invitations, waitlist positions, an undersubscribed round, a moved session
- `members`: a member replaced: the new one welcomed (with the invitation once placed), the old one's data gone
- `reminders`: planned from the seating (a whole plan, or one trio seated later), moved with their session,
  queued when due
- `reports`, `billing`: the public lesson reports; invoices, credit notes and payment reminders
- `announcements`: an organiser's mail to an edition's placed or waitlisted members; one mail sent again
- `editions`, `erasure`: the copy of an edition; a privacy request
- `notify` (rendering, queueing, a trio's mails and chat message) and `ports` (what the handlers need)
"""

from .acknowledgements import acknowledge_registration, request_approval
from .announcements import resend_notification, send_announcement
from .attempts import tell_of_registration_attempt
from .billing import remind_payment, send_invoice
from .decisions import announce_approval, announce_decline, confirm_cancellation
from .editions import remember_edition
from .erasure import erase_participant_data
from .members import welcome_member
from .notify import Cause
from .placement import announce_reschedule, announce_waitlist, confirm_placement, warn_undersubscribed
from .ports import (
    Addresses,
    EditionNotYetKnown,
    Editions,
    Emit,
    Mails,
    RegistrationNotYetKnown,
    Registrations,
    Reminders,
)
from .reminders import plan_reminders, plan_trio_reminders, queue_due_reminders, reminder_offset
from .reports import announce_report

__all__ = [
    "Addresses",
    "Cause",
    "EditionNotYetKnown",
    "Editions",
    "Emit",
    "Mails",
    "RegistrationNotYetKnown",
    "Registrations",
    "Reminders",
    "acknowledge_registration",
    "announce_approval",
    "announce_decline",
    "announce_report",
    "announce_reschedule",
    "announce_waitlist",
    "confirm_cancellation",
    "confirm_placement",
    "erase_participant_data",
    "plan_reminders",
    "plan_trio_reminders",
    "queue_due_reminders",
    "remember_edition",
    "remind_payment",
    "reminder_offset",
    "request_approval",
    "resend_notification",
    "send_announcement",
    "send_invoice",
    "tell_of_registration_attempt",
    "warn_undersubscribed",
    "welcome_member",
]
