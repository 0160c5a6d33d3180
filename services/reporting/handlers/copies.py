"""Reporting's copies of other services' facts: trios, names (as keyed hashes), attendance, erasure, failed
notifications and billing. Each takes its dependencies as arguments so tests can pass in-memory fakes.

Events may arrive in any order and more than once (the inbox stops the second time). Nothing is dropped for
arriving early: an event about a trio reporting has not seen registered yet creates the trio's record, which
TrioRegistered completes later; pages are rendered on request from whatever has arrived by then.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.contract import Event, EventData
from shared.contract.notifications import NotificationFailed
from shared.contract.registration import (
    ApprovalRequested,
    CreditNoteIssued,
    InvoiceIssued,
    InvoiceOverdue,
    ParticipantDataErased,
    PaymentRegistered,
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.scheduling import AttendanceRecorded, PlaceReleased, RegistrationClosed, TrioPlaced, TrioWaitlisted

from .. import domain
from ..anonymise import Anonymiser, NameKey, NameKind, name_digests
from ..contacts import scrub
from ..domain import (
    Attendance,
    Case,
    EventSource,
    Municipality,
    NotificationFailure,
    SessionReport,
    Trio,
    stored_segments,
    with_segments,
)
from .ports import AttendanceLists, Failures, Invoices, Names, Reports, Sources, Trios

# Reporting's copy of the trios


async def _trio(trios: Trios, registration_id: str, edition: str | None = None) -> Trio:
    trio = await trios.get(registration_id, for_update=True)
    if trio is None:
        trio = Trio(registration_id=registration_id)
    if edition and not trio.edition:
        trio.edition = edition
    return trio


async def remember_trio(event: TrioRegistered, *, trios: Trios, names: Names, key: NameKey) -> None:
    """Keep what the public numbers and the organiser's overview need; the members' names only as hashes."""
    trio = await _trio(trios, event.registration_id, event.edition)
    m = event.municipality
    trio.registered_at = event.registered_at
    trio.municipality = Municipality(m.code, m.name, m.province, m.inhabitants, m.size_class, m.m50_member)
    trio.member_domains = [str(member.domain) for member in event.members]
    trio.member_roles = [str(member.role) for member in event.members]
    if trio.erased_at is None:  # ParticipantDataErased may have come first
        trio.case = Case(
            event.case.title, event.case.neighbourhood, event.case.summary, [str(d) for d in event.case.domains]
        )
    trio.fee_cents, trio.fee_waived, trio.fee_reason = event.fee.amount_cents, event.fee.waived, event.fee.reason
    trio.publish_municipality_name = event.consent.publish_municipality_name
    trio.channel = str(event.channel)
    domain.note_registered(trio)
    await trios.save(trio)
    if trio.erased_at is None:
        await names.add(event.registration_id, _digests(key, (member.name for member in event.members)))


async def remember_approver(event: ApprovalRequested, *, trios: Trios, names: Names, key: NameKey) -> None:
    trio = await trios.get(event.registration_id, for_update=True)
    if trio is None or trio.erased_at is None:  # after an erasure its names are not kept again
        await names.add(event.registration_id, _digests(key, [event.approver.name]))


def _digests(key: NameKey, people: Any) -> dict[str, NameKind]:
    digests: dict[str, NameKind] = {}
    for name in people:
        for digest, kind in name_digests(key, name).items():
            if digests.get(digest) != "always":
                digests[digest] = kind
    return digests


async def follow_decision(
    event: RegistrationApproved | RegistrationDeclined | RegistrationCancelled, *, trios: Trios
) -> None:
    trio = await _trio(trios, event.registration_id, event.edition)
    if isinstance(event, RegistrationApproved):
        domain.approved(trio)
    else:
        domain.ended(trio, "declined" if isinstance(event, RegistrationDeclined) else "cancelled")
    await trios.save(trio)


async def follow_placement(
    event: TrioPlaced | TrioWaitlisted | PlaceReleased, *, trios: Trios, occurred_at: datetime
) -> None:
    trio = await _trio(trios, event.registration_id, event.edition)
    if isinstance(event, TrioPlaced):
        domain.placement(trio, "placed", occurred_at)
    elif isinstance(event, TrioWaitlisted):
        domain.placement(trio, "waitlisted", occurred_at, event.position)
    else:
        domain.placement(trio, "released", occurred_at)
    await trios.save(trio)


async def follow_allocation(event: RegistrationClosed, *, trios: Trios, occurred_at: datetime) -> None:
    """The allocation's outcome in one event: the same as its TrioPlaced and TrioWaitlisted, whichever comes first."""
    for registration_id in event.placed:
        trio = await _trio(trios, registration_id, event.edition)
        domain.placement(trio, "placed", occurred_at)
        await trios.save(trio)
    for position, registration_id in enumerate(event.waitlisted, start=1):
        trio = await _trio(trios, registration_id, event.edition)
        domain.placement(trio, "waitlisted", occurred_at, position)
        await trios.save(trio)


async def record_attendance(event: AttendanceRecorded, *, attendance: AttendanceLists, occurred_at: datetime) -> None:
    current = await attendance.get(event.edition, event.session_number, for_update=True)
    if current is not None and current.recorded_at > occurred_at:
        return
    await attendance.save(Attendance(event.edition, event.session_number, list(event.present), occurred_at))


async def erase_participants(
    event: ParticipantDataErased, *, trios: Trios, names: Names, reports: Reports, key: NameKey, now: datetime
) -> None:
    """Forget the trio's case text, the erased names in reporting's copy of every session's notes, and then the
    names' hashes too: keyed with a key in this same database they could be guessed back (see anonymise.py)."""
    trio = await _trio(trios, event.registration_id)
    domain.erase(trio, now)
    await trios.save(trio)
    digests = await names.of(event.registration_id)
    if not digests:
        return
    clean = Anonymiser(key, digests)
    for report in await reports.every(for_update=True):
        cleaned = _cleaned(report, clean)
        if cleaned != report:
            await reports.save(cleaned)
    await names.forget(event.registration_id)


def _cleaned(report: SessionReport, clean: Anonymiser) -> SessionReport:
    """The report without the erased names; where they were is marked, as for names removed on every page."""
    pieces = {section: [clean.segments(item) for item in items] for section, items in stored_segments(report).items()}
    return replace(with_segments(report, pieces), title=clean.clean(report.title))


# The organiser's overview


async def record_failure(event: NotificationFailed, *, failures: Failures, occurred_at: datetime) -> None:
    # The reason may quote the refused address; organisers find it in notifications' own log.
    await failures.add(
        NotificationFailure(
            event.notification_id, event.kind, event.channel, event.caused_by, scrub(event.reason)[:1000], occurred_at
        )
    )


async def remember_source(event: EventData, *, envelope: Event[Any], sources: Sources) -> None:
    """Which registration and edition an event that notifications may answer concerned, by its id: a failed
    notification names only the event that caused it."""
    await sources.add(
        EventSource(envelope.event_id, getattr(event, "registration_id", None), getattr(event, "edition", None))
    )


# registration's billing


async def follow_billing(
    event: InvoiceIssued | CreditNoteIssued | PaymentRegistered | InvoiceOverdue, *, invoices: Invoices
) -> None:
    """Keep the amounts per invoice; each event sets only what it knows, so any order of arrival adds up."""
    invoice = await invoices.get(event.invoice_number, for_update=True) or domain.InvoiceCopy(
        number=event.invoice_number, registration_id=event.registration_id, edition=event.edition
    )
    if isinstance(event, InvoiceIssued):
        invoice.buyer_name, invoice.buyer_reference = event.buyer_name, event.buyer_reference
        invoice.issue_date, invoice.due_date = event.issue_date, event.due_date
        invoice.net_cents, invoice.vat_cents, invoice.total_cents = (
            event.amount_cents,
            event.vat_cents,
            event.total_cents,
        )
    elif isinstance(event, CreditNoteIssued):
        invoice.credit_note_number = event.credit_note_number
    elif isinstance(event, PaymentRegistered):
        domain.record_payment(invoice, event.paid_cents)
    else:
        invoice.overdue = True
    await invoices.save(invoice)
