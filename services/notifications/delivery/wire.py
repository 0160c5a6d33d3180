"""A mail's bytes made directly, for the mails the standard library's email package need not make.

Composing with `email.message.EmailMessage` and flattening it again was the largest part of a mail's CPU in the
sender (header objects parsed and refolded, a dozen times per message, quoted-printable in pure Python). The
mails notifications sends have one fixed shape: plain text, HTML, the invitation and attachments. `wire` writes
that shape itself, in 7-bit (quoted-printable through binascii, base64 for attachments), from the same stored
fields, so a retry sends the very same bytes. Anything outside what it writes safely (a header that is not plain
ASCII or too long for one line, an attachment name that would need encoding) is left to `compose`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from email.utils import format_datetime, parseaddr

from ..domain import Mail
from .composition import message_id_for

# RFC 5322: header lines of at most 78 characters (folded at spaces), and no line at all beyond 998.
MAX_HEADER_LINE = 78
MAX_LINE = 998
_UNSAFE_IN_PARAMETER = frozenset('"\\\r\n')


@dataclass(frozen=True)
class RawMessage:
    """A message as the server receives it (LF line ends: the delivery writes CRLF), with its envelope."""

    sender: str
    recipients: list[str]
    data: bytes


def wire(mail: Mail, mail_from: str) -> RawMessage | None:
    """The message `compose` would make, as bytes; None when it is one `compose` must make."""
    sender = parseaddr(mail_from)[1]
    headers = [
        ("From", mail_from),
        ("To", mail.recipient),
        ("Subject", mail.subject),
        ("Date", format_datetime(mail.created_at)),
        ("Message-ID", message_id_for(mail, mail_from)),
        ("Content-Language", mail.language),
        ("Auto-Submitted", "auto-generated"),
        ("MIME-Version", "1.0"),
    ]
    lines = [_header(name, value) for name, value in headers]
    if not sender or any(line is None for line in lines):
        return None
    attachments = [_calendar(mail.calendar)] if mail.calendar else []
    for attachment in mail.attachments or []:
        made = _attachment(attachment)
        if made is None:
            return None
        attachments.append(made)
    body = _text("plain", mail.text)
    if mail.html:
        body = _multipart("alternative", f"=={mail.notification_id}==", [body, _text("html", mail.html)])
    if attachments:
        body = _multipart("mixed", f"=={mail.notification_id}.mixed==", [body, *attachments])
    head = "".join(line or "" for line in lines).encode("ascii")
    return RawMessage(sender=sender, recipients=[mail.recipient], data=head + body)


def _header(name: str, value: str) -> str | None:
    """The header folded at spaces into lines of MAX_HEADER_LINE; None when it is not plain printable ASCII or
    has a word too long for a line (the email package encodes or folds those)."""
    if not value.isascii() or not value.isprintable():
        return None
    lines = [f"{name}:"]
    for word in value.split(" "):
        if not word:
            return None  # runs of spaces would not survive unfolding as they were
        if len(lines[-1]) + 1 + len(word) > MAX_HEADER_LINE and lines[-1] != f"{name}:":
            lines.append("")
        lines[-1] += f" {word}"
    if any(len(line) > MAX_HEADER_LINE for line in lines):
        return None
    return "\n".join(lines) + "\n"


def _text(subtype: str, text: str) -> bytes:
    encoded = text.encode()
    if encoded.isascii() and all(len(line) <= MAX_LINE for line in encoded.split(b"\n")):
        return f'Content-Type: text/{subtype}; charset="utf-8"\nContent-Transfer-Encoding: 7bit\n\n'.encode() + (
            encoded if encoded.endswith(b"\n") else encoded + b"\n"
        )
    quoted = binascii.b2a_qp(encoded, istext=True)
    head = f'Content-Type: text/{subtype}; charset="utf-8"\nContent-Transfer-Encoding: quoted-printable\n\n'
    return head.encode() + (quoted if quoted.endswith(b"\n") else quoted + b"\n")


def _calendar(calendar: str) -> bytes:
    return (
        b'Content-Type: text/calendar; charset="utf-8"; method="REQUEST"\n'
        b'Content-Disposition: attachment; filename="werkplaatsen.ics"\n'
        b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(calendar.encode())
    )


def _attachment(attachment: dict[str, str]) -> bytes | None:
    content_type, filename = attachment["content_type"], attachment["filename"]
    maintype, _, subtype = content_type.partition("/")
    plain = all(
        value.isascii() and value.isprintable() and not _UNSAFE_IN_PARAMETER & set(value)
        for value in (maintype, subtype, filename)
    )
    if not plain or not maintype or not subtype or len(filename) > 60:
        return None
    content = base64.b64decode(attachment["content_base64"])
    return (
        f"Content-Type: {maintype}/{subtype}\n"
        f'Content-Disposition: attachment; filename="{filename}"\n'
        "Content-Transfer-Encoding: base64\n\n"
    ).encode() + base64.encodebytes(content)


def _multipart(subtype: str, boundary: str, parts: list[bytes]) -> bytes:
    delimiter = f"--{boundary}\n".encode()
    return (
        f'Content-Type: multipart/{subtype};\n boundary="{boundary}"\n\n'.encode()
        + b"".join(delimiter + part + b"\n" for part in parts)
        + f"--{boundary}--\n".encode()
    )
