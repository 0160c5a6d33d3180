"""A mail's bytes made directly (delivery/wire.py) say what the email package's composition says: parsed back, the
same headers, texts, invitation and attachments; and the mails it cannot make safely are left to `compose`."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

import pytest

from services.notifications.delivery import compose, wire
from services.notifications.domain import Mail

NOW = datetime(2027, 10, 1, 8, 30, tzinfo=UTC)
MAIL_FROM = "Werkplaatsen <werkplaatsen@platform31.nl>"
CALENDAR = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nSUMMARY:Bijeenkomst 1: Positionering \u00e9\r\nEND:VCALENDAR\r\n"
PDF = base64.b64encode(b"%PDF-1.7 " + bytes(range(256)) * 20).decode()
LONG_TEXT = (
    "Beste Anna,\n\nJullie trio uit 's-Hertogenbosch heeft een plaats in de Werkplaatsen wijkgericht werken; "
    "de bijeenkomsten staan in de bijlage (\u20ac 0,00 = kosteloos). \n.\n.begint met een punt\n\nGroet,\n"
)
HTML = '<!doctype html>\n<html lang="nl"><body style="font-family: Arial; color: #333">' + "<p>Caf\u00e9 =</p>" * 40


def mail(**changes: Any) -> Mail:
    base = Mail(
        notification_id=str(uuid.uuid4()),
        kind="placed",
        caused_by="e",
        correlation_id="c",
        registration_id="r",
        recipient="anna@barneveld.nl",
        language="nl",
        subject="Plaats bevestigd: Werkplaatsen wijkgericht werken (2027-najaar)",
        text=LONG_TEXT,
        html=HTML,
        created_at=NOW,
        next_attempt_at=NOW,
    )
    return dataclasses.replace(base, **changes)


def parsed(data: bytes) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(data, policy=policy.default))


def described(message: EmailMessage) -> dict[str, Any]:
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    return {
        "headers": {h: str(message[h]) for h in ("From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted")},
        "plain": cast(EmailMessage, plain).get_content() if plain else None,
        "html": cast(EmailMessage, html).get_content() if html else None,
        "attachments": [
            (part.get_content_type(), part.get_filename(), part.get_param("method"), part.get_payload(decode=True))
            for part in message.iter_attachments()
        ],
    }


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"html": None},
        {"calendar": CALENDAR},
        {"calendar": CALENDAR, "html": None},
        {
            "attachments": [
                {"filename": "factuur-2027-0001.pdf", "content_type": "application/pdf", "content_base64": PDF}
            ]
        },
        {"text": "Kort.", "html": "<p>Kort.</p>", "subject": "Aanmelding ontvangen"},
        {
            "subject": "Een onderwerp dat zo lang is dat het over meer dan een regel gevouwen moet worden, "
            "netjes op de spaties ertussen"
        },
    ],
    ids=["html", "text-only", "invitation", "invitation-without-html", "invoice", "short-ascii", "folded-subject"],
)
def test_a_mail_made_as_bytes_reads_back_as_the_mail_the_email_package_composes(changes: dict[str, Any]) -> None:
    sent = mail(**changes)
    raw = wire(sent, MAIL_FROM)

    assert raw is not None
    assert (raw.sender, raw.recipients) == ("werkplaatsen@platform31.nl", ["anna@barneveld.nl"])
    assert described(parsed(raw.data)) == described(compose(sent, MAIL_FROM))
    assert parsed(raw.data)["Content-Language"] == "nl"
    assert all(len(line) <= 998 for line in raw.data.split(b"\n"))
    assert raw.data.isascii()  # 7-bit: any server takes it as it is
    assert wire(sent, MAIL_FROM) == raw  # a retry sends the very same bytes


@pytest.mark.parametrize(
    ("changes", "mail_from"),
    [
        ({"subject": "Caf\u00e9 bevestigd"}, MAIL_FROM),
        ({"recipient": "jos\u00e9@barneveld.nl"}, MAIL_FROM),
        ({}, "Werkpl\u00e4tsen <werkplaatsen@platform31.nl>"),
        ({"subject": "Regel\r\nBcc: iemand@example.org"}, MAIL_FROM),
        (
            {
                "attachments": [
                    {"filename": "f\u00e4ctuur.pdf", "content_type": "application/pdf", "content_base64": PDF}
                ]
            },
            MAIL_FROM,
        ),
    ],
    ids=["non-ascii-subject", "non-ascii-address", "non-ascii-sender", "line-break-in-subject", "non-ascii-filename"],
)
def test_a_mail_that_needs_encoded_headers_is_left_to_the_email_package(
    changes: dict[str, Any], mail_from: str
) -> None:
    assert wire(mail(**changes), mail_from) is None
