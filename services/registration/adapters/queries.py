"""What organisers read about registrations (GET /api/registrations and /api/registrations/{id}): a filtered,
searched page of trios with their members and invoice state, and one trio's whole detail with its history.

Set-based: a page is one query for the registrations (filters and search in SQL, LIMIT/OFFSET), one count, one for
the page's members and one for its invoices, however many trios the edition has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..history import HistoryEntry
from .copies import SqlSeating
from .history import SqlHistory
from .tables import EditionRow, InvoiceRow, MemberRow, RegistrationRow


@dataclass(frozen=True)
class RegistrationQuery:
    """The filters of the organisers' list; None (or empty) means any."""

    edition: str | None = None
    statuses: tuple[str, ...] = ()
    size_classes: tuple[str, ...] = ()
    priority: bool | None = None
    paid: bool | None = None  # True: an invoice paid in full; False: an invoice still open (credited ones: neither)
    search: str | None = None  # part of the municipality's name or of a member's name, any case
    limit: int = 50
    offset: int = 0


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(q: RegistrationQuery) -> list[ColumnElement[bool]]:
    r = RegistrationRow
    conditions: list[ColumnElement[bool]] = []
    if q.edition:
        conditions.append(r.edition == q.edition)
    if q.statuses:
        conditions.append(r.status.in_(q.statuses))
    if q.size_classes:
        conditions.append(r.size_class.in_(q.size_classes))
    if q.priority is not None:
        conditions.append(r.priority == q.priority)
    if q.paid is not None:
        open_or_paid = (
            InvoiceRow.paid_cents >= InvoiceRow.total_cents
            if q.paid
            else InvoiceRow.paid_cents < InvoiceRow.total_cents
        )
        conditions.append(
            exists().where(InvoiceRow.registration_id == r.id, InvoiceRow.credit_note_number.is_(None), open_or_paid)
        )
    if q.search:
        pattern = _like(q.search)
        conditions.append(
            or_(
                func.lower(r.municipality_name).like(pattern, escape="\\"),
                exists().where(
                    MemberRow.registration_id == r.id, func.lower(MemberRow.name).like(pattern, escape="\\")
                ),
            )
        )
    return conditions


class SqlRegistrationQueries:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(self, q: RegistrationQuery) -> tuple[list[dict[str, Any]], int]:
        """The page of registrations matching `q`, oldest first, and how many match in all."""
        where = _conditions(q)
        total = int(
            (await self.session.execute(select(func.count()).select_from(RegistrationRow).where(*where))).scalar_one()
        )
        rows = list(
            (
                await self.session.execute(
                    select(RegistrationRow)
                    .where(*where)
                    .order_by(RegistrationRow.registered_at, RegistrationRow.id)
                    .limit(q.limit)
                    .offset(q.offset)
                )
            ).scalars()
        )
        ids = [row.id for row in rows]
        members = await self._members(ids)
        invoices = await self._invoices(ids)
        return [_item(row, members.get(row.id, []), invoices.get(row.id)) for row in rows], total

    async def detail(self, registration_id: str) -> dict[str, Any] | None:
        """Everything about one registration, with its placement (tables per session) and its history in order."""
        row = await self.session.get(RegistrationRow, registration_id)
        if row is None:
            return None
        edition = await self.session.get(EditionRow, row.edition)
        members = await self._members([row.id])
        invoices = await self._invoices([row.id])
        seats = await SqlSeating(self.session).tables_of(row.edition, row.id)
        tables = [{"session_number": number, "table": seats[number]} for number in sorted(seats)]
        history = await SqlHistory(self.session).of(row.id)
        return {
            **_item(row, members.get(row.id, []), invoices.get(row.id)),
            "edition_title": edition.title if edition else None,
            "consent": row.consent,
            "placement": {
                "status": row.status,
                "waitlist_position": row.waitlist_position,
                "updated_at": _iso(row.placement_updated_at),
                "tables": tables if row.status == "placed" else [],
            },
            "history": [_history(entry) for entry in history],
        }

    async def _members(self, ids: list[str]) -> dict[str, list[MemberRow]]:
        found: dict[str, list[MemberRow]] = {}
        if ids:
            rows = await self.session.execute(
                select(MemberRow).where(MemberRow.registration_id.in_(ids)).order_by(MemberRow.position)
            )
            for m in rows.scalars():
                found.setdefault(m.registration_id, []).append(m)
        return found

    async def _invoices(self, ids: list[str]) -> dict[str, InvoiceRow]:
        if not ids:
            return {}
        rows = await self.session.execute(select(InvoiceRow).where(InvoiceRow.registration_id.in_(ids)))
        return {row.registration_id: row for row in rows.scalars()}


def _item(r: RegistrationRow, members: list[MemberRow], invoice: InvoiceRow | None) -> dict[str, Any]:
    return {
        "registration_id": r.id,
        "edition": r.edition,
        "status": r.status,
        "waitlist_position": r.waitlist_position,
        "registered_at": r.registered_at.isoformat(),
        "approval_expires_at": _iso(r.approval_expires_at),
        "decided_at": _iso(r.decided_at),
        "decided_by_organizer": r.decided_by_organizer,
        "decision_reason": r.decision_reason,
        "cancelled_at": _iso(r.cancelled_at),
        "cancel_reason": r.cancel_reason,
        "erased": r.erased_at is not None,
        "invoice": r.invoice,
        "invoice_state": _invoice_state(invoice),
        "municipality": {"code": r.municipality_code, "name": r.municipality_name, "size_class": r.size_class},
        "case": r.case,
        "fee": r.fee,
        "priority": r.priority,
        "preferred_domain_mix": r.preferred_domain_mix,
        "approver": r.approver,
        "channel": r.channel,
        "members": [
            {
                "member_id": m.id,
                "position": m.position,
                "name": m.name,
                "email": m.email,
                "role": m.role,
                "domain": m.domain,
                "job_title": m.job_title,
                "language": m.language,
            }
            for m in members
        ],
    }


def _invoice_state(row: InvoiceRow | None) -> dict[str, Any] | None:
    """The issued invoice and where it stands: `open`, `overdue`, `paid` or `credited`; None before invoicing."""
    if row is None:
        return None
    if row.credit_note_number:
        state = "credited"
    elif row.paid_cents >= row.total_cents:
        state = "paid"
    else:
        state = "overdue" if row.overdue_at is not None else "open"
    return {
        "invoice_number": row.number,
        "state": state,
        "issue_date": row.issue_date.isoformat(),
        "due_date": row.due_date.isoformat(),
        "total_cents": row.total_cents,
        "paid_cents": row.paid_cents,
        "open_cents": 0 if row.credit_note_number else max(row.total_cents - row.paid_cents, 0),
        "credit_note_number": row.credit_note_number,
    }


def _history(entry: HistoryEntry) -> dict[str, Any]:
    producer, _, name = entry.event.partition(".")
    return {
        "at": entry.at.isoformat(),
        "type": name,
        "producer": producer,
        "summary": entry.summary,
        "reason": entry.reason,
        "actor": entry.actor,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
