"""Reporting use cases. Each takes its dependencies as arguments so tests can pass in-memory fakes.

Events may arrive in any order and more than once (the inbox stops the second time). Nothing is dropped for
arriving early: an event about a trio reporting has not seen registered yet creates the trio's record, which
TrioRegistered completes later; pages are rendered on request from whatever has arrived by then.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

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
from shared.contract.reporting import LessonReportPublished, RetractReport
from shared.contract.scheduling import (
    AttendanceRecorded,
    EditionScheduled,
    PlaceReleased,
    RegistrationClosed,
    SessionCompleted,
    TrioPlaced,
    TrioWaitlisted,
)
from shared.messaging.messages import refuse

from . import domain
from .anonymise import Anonymiser, NameKey, NameKind, name_digests
from .domain import (
    Attendance,
    Case,
    Edition,
    EventSource,
    Instrument,
    Municipality,
    NotificationFailure,
    PlannedSession,
    RoundPublication,
    SessionReport,
    Trio,
    anonymised,
    report_url,
    scrub,
)
from .views import round_title

Emit = Callable[[EventData], object]


class Reports(Protocol):
    async def get(self, edition: str, session_number: int, *, for_update: bool = False) -> SessionReport | None: ...
    async def save(self, report: SessionReport) -> None: ...
    async def of_edition(self, edition: str) -> list[SessionReport]: ...
    async def every(self, *, for_update: bool = False) -> list[SessionReport]: ...


class Editions(Protocol):
    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None: ...
    async def save(self, edition: Edition) -> None: ...


class Rounds(Protocol):
    async def lock(self, edition: str) -> None: ...
    async def get(self, edition: str, *, for_update: bool = False) -> RoundPublication | None: ...
    async def save(self, publication: RoundPublication) -> None: ...


class Trios(Protocol):
    async def get(self, registration_id: str, *, for_update: bool = False) -> Trio | None: ...
    async def save(self, trio: Trio) -> None: ...


class Names(Protocol):
    async def add(self, registration_id: str, digests: dict[str, NameKind]) -> None: ...
    async def of(self, registration_id: str) -> dict[str, NameKind]: ...


class AttendanceLists(Protocol):
    async def get(self, edition: str, session_number: int, *, for_update: bool = False) -> Attendance | None: ...
    async def save(self, attendance: Attendance) -> None: ...


class Invoices(Protocol):
    async def get(self, number: str, *, for_update: bool = False) -> domain.InvoiceCopy | None: ...
    async def save(self, invoice: domain.InvoiceCopy) -> None: ...


class Failures(Protocol):
    async def add(self, failure: NotificationFailure) -> None: ...


class Sources(Protocol):
    async def add(self, source: EventSource) -> None: ...


# Public reports


async def publish_session_report(
    event: SessionCompleted,
    *,
    envelope: Event[Any],
    reports: Reports,
    editions: Editions,
    rounds: Rounds,
    emit: Emit,
    public_url: str,
) -> None:
    """Store a held session's report (contact details removed) and announce its public page; after the
    edition's last session, the round's report too.

    The page is rendered on request, so it needs nothing else yet: the edition's outcome text, the names to
    scrub and the numbers join in whenever those events arrive, before or after this one.
    """
    current = await reports.get(event.edition, event.session_number, for_update=True)
    if current is not None and current.completed_at > envelope.occurred_at:
        return  # an older version delivered late (after a retry, or by another replica) changes nothing
    if current is not None and current.retracted_at is not None:
        return  # an organiser took it offline; a later version does not bring it back
    notes = event.notes
    report = anonymised(
        SessionReport(
            edition=event.edition,
            session_number=event.session_number,
            title=event.title,
            starts_at=event.starts_at,
            trios=event.attendance.trios,
            municipalities=event.attendance.municipalities,
            lessons=list(notes.lessons),
            instruments=[Instrument(i.name, i.description) for i in notes.instruments],
            quotes=list(notes.quotes),
            next_steps=list(notes.next_steps),
            completed_at=envelope.occurred_at,
        )
    )
    await reports.save(report)
    emit(
        LessonReportPublished(
            edition=report.edition,
            session_number=report.session_number,
            title=scrub(report.title),
            url=report_url(public_url, report.edition, report.session_number),
        )
    )
    await publish_round_when_complete(
        event.edition,
        reports=reports,
        editions=editions,
        rounds=rounds,
        emit=emit,
        public_url=public_url,
        now=envelope.occurred_at,
    )


async def remember_edition(
    event: EditionScheduled,
    *,
    editions: Editions,
    reports: Reports,
    rounds: Rounds,
    emit: Emit,
    public_url: str,
    occurred_at: datetime,
) -> None:
    """Keep reporting's copy of an edition current (event-carried state). The edition may arrive after its
    last session's report: then it is what completes the round."""
    current = await editions.get(event.edition, for_update=True)
    if current is not None and current.scheduled_at > occurred_at:
        return  # an older announcement delivered late changes nothing
    await editions.save(
        Edition(
            slug=event.edition,
            title=event.title,
            venue=event.venue.model_dump(mode="json"),
            sessions=[
                PlannedSession(number=s.number, title=s.title, outcome=s.outcome, starts_at=s.starts_at)
                for s in event.sessions
            ],
            scheduled_at=occurred_at,
            capacity=event.capacity.model_dump(),
        )
    )
    await publish_round_when_complete(
        event.edition,
        reports=reports,
        editions=editions,
        rounds=rounds,
        emit=emit,
        public_url=public_url,
        now=occurred_at,
    )


async def publish_round_when_complete(
    slug: str, *, reports: Reports, editions: Editions, rounds: Rounds, emit: Emit, public_url: str, now: datetime
) -> bool:
    """Publish the round's report once the edition's last session has its report; once per edition."""
    await rounds.lock(slug)
    edition = await editions.get(slug)
    if edition is None or await rounds.get(slug, for_update=True) is not None:
        return False
    held = await reports.of_edition(slug)
    if edition.last_session not in {r.session_number for r in held}:
        return False
    await rounds.save(RoundPublication(edition=slug, published_at=now))
    emit(
        LessonReportPublished(
            edition=slug, session_number=None, title=scrub(round_title(edition, held)), url=report_url(public_url, slug)
        )
    )
    return True


async def retract_report(cmd: RetractReport, *, reports: Reports, rounds: Rounds, now: datetime) -> dict[str, Any]:
    if cmd.session_number is None:
        publication = await rounds.get(cmd.edition, for_update=True)
        if publication is None:
            raise refuse(
                "edition", "unknown_report", "Van deze editie is (nog) geen verslag van de ronde gepubliceerd."
            )
        if publication.retracted_at is not None:
            raise refuse("edition", "already_retracted", "Dit verslag is al ingetrokken.")
        publication.retracted_at = now
        await rounds.save(publication)
    else:
        report = await reports.get(cmd.edition, cmd.session_number, for_update=True)
        if report is None:
            raise refuse("session_number", "unknown_report", "Van deze bijeenkomst is (nog) geen verslag gepubliceerd.")
        if report.retracted_at is not None:
            raise refuse("session_number", "already_retracted", "Dit verslag is al ingetrokken.")
        report.retracted_at = now
        await reports.save(report)
    return {"edition": cmd.edition, "session_number": cmd.session_number}


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
    await names.add(event.registration_id, _digests(key, (member.name for member in event.members)))


async def remember_approver(event: ApprovalRequested, *, names: Names, key: NameKey) -> None:
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
    """Forget the trio's case text, and the erased names in reporting's copy of every session's notes; the name
    hashes stay, so the names can never be published later (see anonymise.py)."""
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


def _cleaned(report: SessionReport, clean: Anonymiser) -> SessionReport:
    return SessionReport(
        edition=report.edition,
        session_number=report.session_number,
        title=clean.clean(report.title),
        starts_at=report.starts_at,
        trios=report.trios,
        municipalities=report.municipalities,
        completed_at=report.completed_at,
        lessons=[clean.clean(t) for t in report.lessons],
        instruments=[Instrument(clean.clean(i.name), clean.clean(i.description)) for i in report.instruments],
        quotes=[clean.clean(t) for t in report.quotes],
        next_steps=[clean.clean(t) for t in report.next_steps],
        retracted_at=report.retracted_at,
    )


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
