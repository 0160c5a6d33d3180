"""The ways a mail leaves: composed (`composition`, or directly as bytes: `wire`), then through SMTP (`smtp`) or,
without a server, into .eml files (`eml`); both in two steps (`ports`), so the sender can record the handoff
before the last one."""

from .composition import MAIL_POLICY, compose, message_id_for
from .eml import EmlCopies, EmlDelivery, EmlHandoff, NoCopies
from .ports import Delivery, Handoff
from .smtp import SmtpDelivery, SmtpHandoff
from .wire import RawMessage, wire

__all__ = [
    "MAIL_POLICY",
    "Delivery",
    "EmlCopies",
    "EmlDelivery",
    "EmlHandoff",
    "Handoff",
    "NoCopies",
    "RawMessage",
    "SmtpDelivery",
    "SmtpHandoff",
    "compose",
    "message_id_for",
    "wire",
]
