"""The organiser's overview and its exports, built from reporting's read model. Pure: no I/O.

Organisers may see municipality names (consent is about public reports), never anything reporting does not
keep: participants' names and addresses stay with registration (its organiser API lists them).
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from shared.formatting import AMSTERDAM

from .domain import (
    ACTIVE_STATUSES,
    DOMAINS,
    SIZE_CLASSES,
    STATUS_LABELS,
    STATUSES,
    Edition,
    EventSource,
    InvoiceCopy,
    NotificationFailure,
    Trio,
)

UNKNOWN = "onbekend"


@dataclass(frozen=True)
class SessionAttendance:
    number: int
    title: str
    starts_at: datetime
    present: int | None  # None: not recorded yet
    placed: int
    municipalities: list[str]


@dataclass(frozen=True)
class EditionOverview:
    slug: str
    title: str
    max_trios: int | None
    registrations: int
    by_status: list[tuple[str, str, int]]  # (status, Dutch label, count)
    unknown_status: int  # trios reporting knows only from an event about their place, not yet registered
    by_size_class: list[tuple[str, int]]
    by_province: list[tuple[str, int]]
    by_domain: list[tuple[str, int]]
    domain_mixes: list[tuple[str, int]]
    fysiek_and_sociaal: int
    active: int
    fees_due_cents: int
    fees_due_trios: int
    fees_waived_cents: int
    fees_waived_trios: int
    fees_open_cents: int  # what active trios not yet placed would owe when placed
    waitlist: list[Trio]
    attendance: list[SessionAttendance]
    registered_days: list[date]
    billing: BillingSummary | None = None  # None: no invoice yet


@dataclass(frozen=True)
class BillingSummary:
    """Amounts per edition, including VAT, from registration's billing events."""

    invoices: int
    invoiced_cents: int
    credited_cents: int
    paid_cents: int
    open_cents: int
    overdue_cents: int
    overdue_invoices: int


def billing_summary(invoices: list[InvoiceCopy]) -> BillingSummary | None:
    if not invoices:
        return None
    return BillingSummary(
        invoices=len(invoices),
        invoiced_cents=sum(i.total_cents for i in invoices),
        credited_cents=sum(i.total_cents for i in invoices if i.credit_note_number),
        paid_cents=sum(i.paid_cents for i in invoices),
        open_cents=sum(i.open_cents for i in invoices),
        overdue_cents=sum(i.overdue_cents for i in invoices),
        overdue_invoices=sum(1 for i in invoices if i.overdue_cents),
    )


def edition_overview(
    edition: Edition | None,
    slug: str,
    trios: list[Trio],
    attendance: dict[int, list[str]],
    invoices: list[InvoiceCopy] | None = None,
) -> EditionOverview:
    registered = [t for t in trios if t.registered]
    active = [t for t in registered if t.status in ACTIVE_STATUSES]
    placed = [t for t in registered if t.status == "placed"]
    statuses = Counter(t.status for t in trios)
    sizes = Counter(t.municipality.size_class for t in active if t.municipality)
    mixes = Counter(" + ".join(t.domains) for t in active)
    return EditionOverview(
        slug=slug,
        title=edition.title if edition else slug,
        max_trios=(edition.capacity or {}).get("max_trios") if edition else None,
        registrations=len(registered),
        by_status=[(s, STATUS_LABELS[s], statuses[s]) for s in STATUSES],
        unknown_status=sum(1 for t in trios if not t.registered),
        by_size_class=[(c, sizes[c]) for c in SIZE_CLASSES],
        by_province=sorted(Counter(t.municipality.province for t in active if t.municipality).items()),
        by_domain=[(d, n) for d in DOMAINS if (n := sum(1 for t in active if d in t.domains))],
        domain_mixes=sorted(mixes.items(), key=lambda m: (-m[1], m[0])),
        fysiek_and_sociaal=sum(1 for t in active if {"fysiek", "sociaal"} <= set(t.domains)),
        active=len(active),
        fees_due_cents=sum(t.fee_due_cents for t in placed),
        fees_due_trios=sum(1 for t in placed if t.fee_due_cents),
        fees_waived_cents=sum(t.fee_cents for t in placed if t.fee_waived),
        fees_waived_trios=sum(1 for t in placed if t.fee_waived),
        fees_open_cents=sum(t.fee_due_cents for t in active if t.status != "placed"),
        waitlist=sorted((t for t in trios if t.status == "waitlisted"), key=waitlist_order),
        attendance=_attendance(edition, trios, attendance, len(placed)),
        registered_days=sorted(t.registered_at.astimezone(AMSTERDAM).date() for t in registered if t.registered_at),
        billing=billing_summary(invoices or []),
    )


def waitlist_order(t: Trio) -> tuple[bool, int, bool, datetime | None, str]:
    """By the position scheduling announced; two trios holding one position for a moment (the event moving one of
    them still on its way) by registration time and id, not by the order their rows came in."""
    return (
        t.waitlist_position is None,
        t.waitlist_position or 0,
        t.registered_at is None,
        t.registered_at,
        t.registration_id,
    )


def _attendance(
    edition: Edition | None, trios: list[Trio], attendance: dict[int, list[str]], placed: int
) -> list[SessionAttendance]:
    by_id = {t.registration_id: t for t in trios}
    lines = []
    for session in edition.sessions if edition else []:
        present = attendance.get(session.number)
        names = sorted({m.name for r in present or [] if r in by_id and (m := by_id[r].municipality)})
        lines.append(
            SessionAttendance(
                session.number,
                session.title,
                session.starts_at,
                len(present) if present is not None else None,
                placed,
                names,
            )
        )
    return lines


@dataclass(frozen=True)
class FailureLine:
    failure: NotificationFailure
    edition: str | None
    municipality: str | None


def failure_lines(
    failures: list[NotificationFailure], sources: dict[str, EventSource], trios: dict[str, Trio]
) -> list[FailureLine]:
    lines = []
    for failure in failures:
        source = sources.get(failure.caused_by)
        trio = trios.get(source.registration_id) if source and source.registration_id else None
        edition = (source.edition if source else None) or (trio.edition if trio else None)
        municipality = trio.municipality.name if trio and trio.municipality else None
        lines.append(FailureLine(failure, edition, municipality))
    return lines


# Exports

REGISTRATION_COLUMNS = (
    "registration_id",
    "editie",
    "status",
    "wachtlijstpositie",
    "aangemeld_op",
    "gemeentecode",
    "gemeente",
    "provincie",
    "inwoners",
    "grootteklasse",
    "m50",
    "domeinen_leden",
    "fysiek_en_sociaal",
    "casus_titel",
    "casus_wijk",
    "casus_domeinen",
    "bijdrage_eur",
    "kwijtgescholden",
    "reden_kwijtschelding",
    "toestemming_gemeentenaam",
    "kanaal",
    "gegevens_gewist",
)
INVOICE_COLUMNS = (
    "factuurnummer",
    "editie",
    "registration_id",
    "debiteur",
    "kenmerk_debiteur",
    "factuurdatum",
    "vervaldatum",
    "bedrag_excl_btw_eur",
    "btw_eur",
    "totaal_eur",
    "betaald_eur",
    "openstaand_eur",
    "vervallen",
    "creditnota",
)
ATTENDANCE_COLUMNS = (
    "editie",
    "bijeenkomst",
    "thema",
    "datum",
    "registration_id",
    "gemeente",
    "provincie",
    "grootteklasse",
    "status",
    "aanwezig",
)


def registration_rows(slug: str, trios: list[Trio]) -> list[list[object]]:
    rows: list[list[object]] = []
    for t in sorted(trios, key=lambda t: (t.registered_at is None, t.registered_at, t.registration_id)):
        m, case = t.municipality, t.case
        rows.append(
            [
                t.registration_id,
                slug,
                STATUS_LABELS.get(t.status or "", UNKNOWN),
                t.waitlist_position,
                _local(t.registered_at),
                m.code if m else None,
                m.name if m else None,
                m.province if m else None,
                m.inhabitants if m else None,
                m.size_class if m else None,
                _yes(m.m50_member) if m else None,
                ", ".join(t.member_domains),
                _yes({"fysiek", "sociaal"} <= set(t.domains)),
                case.title if case else None,
                case.neighbourhood if case else None,
                ", ".join(case.domains) if case else None,
                t.fee_cents / 100 if t.registered else None,
                _yes(t.fee_waived) if t.registered else None,
                t.fee_reason,
                _yes(t.publish_municipality_name),
                t.channel,
                _yes(t.erased_at is not None),
            ]
        )
    return rows


def attendance_rows(
    edition: Edition | None, slug: str, trios: list[Trio], attendance: dict[int, list[str]]
) -> list[list[object]]:
    """One row per session and trio that was placed or present at any session."""
    present_anywhere = {rid for ids in attendance.values() for rid in ids}
    expected = sorted(
        (t for t in trios if t.status == "placed" or t.registration_id in present_anywhere),
        key=lambda t: (t.municipality.name if t.municipality else "", t.registration_id),
    )
    sessions = (
        [(s.number, s.title, s.starts_at) for s in edition.sessions]
        if edition
        else [(n, "", None) for n in sorted(attendance)]
    )
    rows = []
    for number, title, starts_at in sessions:
        present = attendance.get(number)
        for t in expected:
            m = t.municipality
            rows.append(
                [
                    slug,
                    number,
                    title,
                    starts_at.astimezone(AMSTERDAM).date().isoformat() if starts_at else None,
                    t.registration_id,
                    m.name if m else None,
                    m.province if m else None,
                    m.size_class if m else None,
                    STATUS_LABELS.get(t.status or "", UNKNOWN),
                    UNKNOWN if present is None else _yes(t.registration_id in present),
                ]
            )
    return rows


def _local(moment: datetime | None) -> str | None:
    return moment.astimezone(AMSTERDAM).isoformat(timespec="minutes") if moment else None


def _yes(value: bool) -> str:
    return "ja" if value else "nee"


def invoice_rows(invoices: list[InvoiceCopy]) -> list[list[object]]:
    """For the bookkeeping: one line per invoice, amounts in euros (numbers, so a spreadsheet can add them up)."""
    return [
        [
            i.number,
            i.edition,
            i.registration_id,
            i.buyer_name,
            i.buyer_reference,
            i.issue_date,
            i.due_date,
            i.net_cents / 100,
            i.vat_cents / 100,
            i.total_cents / 100,
            i.paid_cents / 100,
            i.open_cents / 100,
            _yes(bool(i.overdue_cents)),
            i.credit_note_number,
        ]
        for i in sorted(invoices, key=lambda i: i.number)
    ]


def as_xlsx(title: str, columns: tuple[str, ...], rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.worksheets[0]
    sheet.title = title[:31]
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([None if v is None else v for v in row])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, str) and cell.data_type == "f":
                cell.data_type = "s"  # openpyxl reads "=..." as a formula; a participant's text is never one
    sheet.freeze_panes = "A2"
    for index, name in enumerate(columns, start=1):
        width = max([len(name), *(len(str(r[index - 1])) for r in rows if r[index - 1] is not None)])
        sheet.column_dimensions[get_column_letter(index)].width = min(60, width + 2)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
