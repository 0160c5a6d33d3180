"""An organiser's announcement queued as one mail per member of an edition's audience, in one INSERT ... SELECT
over notifications' copies of the registrations (no loop over the trios), and one mail queued again."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import UtcDateTime

from ..domain import NAME_PLACEHOLDER, PENDING, Mail
from ..rendering import Rendered
from .mails import MAIL_FIELDS, SqlMails, to_mail
from .tables import MailRow

COLUMNS = ", ".join(("notification_id", *MAIL_FIELDS))

# The member's values from the JSON copy of TrioRegistered, per dialect; `m` is one element of its members.
SQLITE = {
    "id": "printf('%s%08x%08x', :prefix, r.rowid, m.key)",
    "field": "json_extract(m.value, '$.{0}')",
    "from": "registrations AS r, json_each(r.details, '$.members') AS m",
    "now": ":now",
}
POSTGRESQL = {
    # Deterministic, like domain.notification_id: the same announcement cannot queue a member's mail twice.
    "id": "CAST(md5(CAST(:prefix AS text) || r.registration_id || (m.value ->> 'member_id')) AS uuid)",
    "field": "(m.value ->> '{0}')",
    "from": "registrations AS r CROSS JOIN LATERAL json_array_elements(r.details -> 'members') AS m(value)",
    "now": "CAST(:now AS timestamp with time zone)",
}


def _insert(dialect: str) -> str:
    d = POSTGRESQL if dialect == "postgresql" else SQLITE
    field = d["field"].format
    english = f"{field('language')} = 'en'"
    name = field("name")
    escaped = name
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("''", "&#39;")):  # SQL-quoted
        escaped = f"replace({escaped}, '{char}', '{entity}')"
    return f"""
        INSERT INTO mails ({COLUMNS})
        SELECT {d["id"]}, :kind, :caused_by, :correlation_id, r.registration_id,
            lower(trim({field("email")})),
            CASE WHEN {english} THEN 'en' ELSE 'nl' END,
            CASE WHEN {english} THEN :subject_en ELSE :subject_nl END,
            replace(CASE WHEN {english} THEN :text_en ELSE :text_nl END, :name, {name}),
            replace(CASE WHEN {english} THEN :html_en ELSE :html_nl END, :name, {escaped}),
            NULL, '{PENDING}', 0, {d["now"]}, NULL, {d["now"]}, NULL, NULL, NULL
        FROM {d["from"]}
        WHERE r.edition = :edition AND r.status = :status AND NOT r.erased AND r.details IS NOT NULL
        ON CONFLICT (notification_id) DO NOTHING
    """  # nosec B608  # only this module's constants are interpolated; every value is a bind parameter


class SqlAnnouncements:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def queue(
        self,
        *,
        announcement_id: str,
        edition: str,
        status: str,
        kind: str,
        texts: dict[str, Rendered],
        caused_by: str,
        correlation_id: str,
        now: datetime,
    ) -> int:
        """One pending mail per member of the edition's trios in `status`; `texts` per language with NAME in them.
        Returns how many were queued."""
        dialect = self.session.get_bind().dialect.name
        prefix = hashlib.sha256(announcement_id.encode()).hexdigest()[:16]
        statement = text(_insert(dialect)).bindparams(bindparam("now", type_=UtcDateTime()))
        values: dict[str, Any] = {
            "prefix": prefix,
            "kind": kind,
            "caused_by": caused_by,
            "correlation_id": correlation_id,
            "name": NAME_PLACEHOLDER,
            "edition": edition,
            "status": status,
            "now": now,
        }
        for language, rendered in texts.items():
            values |= {
                f"subject_{language}": rendered.subject,
                f"text_{language}": rendered.text,
                f"html_{language}": rendered.html,
            }
        result = await self.session.execute(statement, values)
        return int(cast(CursorResult[Any], result).rowcount or 0)

    async def get(self, notification_id: str) -> Mail | None:
        try:
            key = uuid.UUID(notification_id)
        except ValueError:
            return None
        row = (await self.session.execute(select(MailRow).where(MailRow.notification_id == key))).scalar_one_or_none()
        return to_mail(row) if row is not None else None

    async def add(self, mail: Mail) -> bool:
        return bool(await SqlMails(self.session).add([mail]))
