"""A mail as the server receives it, composed from its stored fields only."""

from __future__ import annotations

import base64
import email.policy
from email import headerregistry
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import cast

from ..domain import Mail


def message_id_for(mail: Mail, mail_from: str) -> str:
    # Deterministic, so a resend after an uncertain attempt carries the same Message-ID and mail clients fold it.
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "werkplaatsen.invalid"
    return f"<{mail.notification_id}@{domain}>"


class _CachingHeaderRegistry(headerregistry.HeaderRegistry):
    """The standard header classes, made once per header name.

    The standard registry builds a new class with type() every time a header is set or parsed, a dozen times
    per message; that was two thirds of the time it took to compose a mail (3.0 -> 1.0 ms measured). The
    classes it builds hold no state, so one per name behaves the same.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[headerregistry.BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[headerregistry.BaseHeader]:
        key = name.lower()
        found = self._classes.get(key)
        if found is None:
            found = self._classes[key] = super().__getitem__(name)
        return found


MAIL_POLICY = email.policy.default.clone(header_factory=_CachingHeaderRegistry())


def compose(mail: Mail, mail_from: str) -> EmailMessage:
    """The message as sent. Built only from stored fields, so a retry sends the very same message."""
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = mail_from
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at)
    message["Message-ID"] = message_id_for(mail, mail_from)
    message["Content-Language"] = mail.language
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
        message.set_boundary(f"=={mail.notification_id}==")
    if mail.calendar:
        alternative = message.get_boundary()
        message.add_attachment(
            mail.calendar.encode(),
            maintype="text",
            subtype="calendar",
            filename="werkplaatsen.ics",
            params={"method": "REQUEST", "charset": "utf-8"},
        )
        message.set_boundary(f"=={mail.notification_id}.mixed==")
        if alternative:
            cast(list[EmailMessage], message.get_payload())[0].set_boundary(alternative)
    for attachment in mail.attachments or []:
        maintype, _, subtype = attachment["content_type"].partition("/")
        message.add_attachment(
            base64.b64decode(attachment["content_base64"]),
            maintype=maintype,
            subtype=subtype,
            filename=attachment["filename"],
        )
        message.set_boundary(f"=={mail.notification_id}.mixed==")
    return message
