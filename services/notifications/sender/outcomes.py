"""Step 4 of the two-phase send (package docstring): what an attempt comes to, recorded on the mail's row with its
event; and the mails the server took whose outcome could not be recorded."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, cast

import structlog
from sqlalchemy import Table, bindparam, delete, insert, update

from shared.contract.notifications import NotificationFailed, NotificationSent
from shared.db import utcnow
from shared.messaging.outbox import Cause
from shared.messaging.processing import UnitOfWork

from ..delivery import message_id_for
from ..domain import FAILED, SENT, Mail, after_attempt, is_permanent
from ..store import HandoffRow, MailRow

log = structlog.get_logger()

# Mails accepted by the server whose outcome could not be recorded, remembered at most (see Unrecorded).
UNRECORDED_LIMIT = 10_000


async def record(
    uow: UnitOfWork, mail: Mail, error: str | None, *, now: datetime, mail_from: str, permanent: bool = False
) -> None:
    """The attempt's outcome on the mail's row with its handoff row gone, and NotificationSent or NotificationFailed
    in the same unit of work (caused by the event that queued the mail)."""
    outcome = after_attempt(mail, error, now, permanent=permanent)
    values: dict[str, Any] = {
        "status": outcome.status,
        "attempts": outcome.attempts,
        "next_attempt_at": outcome.next_attempt_at,
        "last_error": outcome.last_error,
        "sent_at": outcome.sent_at,
    }
    outbox = uow.outbox_for(Cause(message_id=mail.caused_by, correlation_id=mail.correlation_id))
    event: dict[str, Any] | None = None
    if outcome.status == SENT:
        values["message_id"] = message_id_for(mail, mail_from)
        event = outbox.row(
            NotificationSent(
                notification_id=mail.notification_id, kind=mail.kind, channel="email", caused_by=mail.caused_by
            )
        )
        # Debug, not info: a line per mail costs the busiest process a write per mail; the mail's row and its
        # NotificationSent are the record (failures and retries stay at warning/info level).
        log.debug("mail_sent", notification_id=mail.notification_id, kind=mail.kind, attempts=outcome.attempts)
    elif outcome.status == FAILED:
        event = outbox.row(
            NotificationFailed(
                notification_id=mail.notification_id,
                kind=mail.kind,
                channel="email",
                caused_by=mail.caused_by,
                reason=error or "unknown",
            )
        )
        log.error("mail_failed", notification_id=mail.notification_id, kind=mail.kind, attempts=outcome.attempts)
    else:
        log.info(
            "mail_retry_scheduled",
            notification_id=mail.notification_id,
            kind=mail.kind,
            attempts=outcome.attempts,
            next_attempt_at=outcome.next_attempt_at.isoformat(),
        )
    await _write(uow, mail.notification_id, values, event)


async def _write(uow: UnitOfWork, notification_id: str, values: dict[str, Any], event: dict[str, Any] | None) -> None:
    """The row's new values, the handoff row's removal and the outcome's event in the outbox: one statement on
    PostgreSQL (a DELETE and an INSERT in a WITH), where an ORM flush of the row and of the event, and a DELETE of
    its own, cost two round trips and a good part of a mail's CPU more."""
    key = uuid.UUID(notification_id)
    mails, handoffs = cast(Table, MailRow.__table__), cast(Table, HandoffRow.__table__)
    outbox = cast(Table, uow.outbox.model.__table__)
    outcome = update(mails).where(mails.c.notification_id == key).values(**values)
    forget = delete(handoffs).where(handoffs.c.notification_id == key)
    announce = None
    if event is not None:
        # Its own parameter names: the row's columns share names with the mail's (message_id, attempts).
        row = event | {"created_at": utcnow(), "next_attempt_at": utcnow(), "attempts": 0}
        announce = insert(outbox).values(
            {name: bindparam(f"event_{name}", value, type_=outbox.c[name].type) for name, value in row.items()}
        )
    if uow.session.get_bind().dialect.name == "postgresql":
        outcome = outcome.add_cte(forget.cte("forgotten"))
        if announce is not None:
            outcome = outcome.add_cte(announce.cte("announced"))
        await uow.session.execute(outcome)
        return
    for statement in (outcome, forget, announce):  # SQLite has no DELETE or INSERT inside a WITH
        if statement is not None:
            await uow.session.execute(statement)


def failure(mail: Mail, exc: Exception) -> tuple[str, bool]:
    """A failed attempt as recorded: the reason, and whether it is for good."""
    code = getattr(exc, "code", None)
    code = code if isinstance(code, int) else None
    # Logs carry no personal data: the exception's type and SMTP code, not its text (it may quote the address).
    log.warning(
        "mail_attempt_failed",
        notification_id=mail.notification_id,
        kind=mail.kind,
        error=type(exc).__name__,
        smtp_code=code,
    )
    return _reason(exc, mail.recipient), is_permanent(code)


def _reason(exc: Exception, recipient: str) -> str:
    """The failure as stored and published: the server's words, with the recipient's address blanked out."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return re.sub(re.escape(recipient), "<recipient>", text, flags=re.IGNORECASE)[:1000]


class Unrecorded:
    """Mails the server took, but whose transaction A could not record it (the database went away in the middle).

    The handoff row would tell whoever claims the mail next, but when the database is what failed, its INSERT
    may be lost as well. This process remembers the mail then, and records it as sent without sending it when
    it claims the mail again. Another replica claiming it first would still send it twice: that narrower
    window is the one left during a database outage.
    """

    def __init__(self, limit: int = UNRECORDED_LIMIT) -> None:
        self.limit = limit
        self._ids: dict[str, None] = {}  # in the order remembered

    def __contains__(self, notification_id: object) -> bool:
        return notification_id in self._ids

    def remember(self, notification_id: str) -> None:
        self._ids[notification_id] = None
        while len(self._ids) > self.limit:  # recorded by another replica meanwhile: forget the oldest
            self._ids.pop(next(iter(self._ids)))
        log.warning("mail_sent_not_recorded", notification_id=notification_id)

    def forget(self, notification_id: str) -> None:
        self._ids.pop(notification_id, None)
