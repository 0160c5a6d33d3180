"""Reporting handlers, driven with in-memory fakes."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.reporting import handlers
from services.reporting.anonymise import NameKey, NameKind
from services.reporting.domain import (
    Attendance,
    Edition,
    EventSource,
    NotificationFailure,
    RoundPublication,
    SessionReport,
    Trio,
)
from shared.contract import Event
from shared.contract.notifications import NotificationFailed
from shared.contract.registration import (
    ApprovalRequested,
    ParticipantDataErased,
    RegistrationApproved,
    RegistrationCancelled,
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
from shared.messaging.messages import CommandRefused

PUBLIC_URL = "https://werkplaatsen.example.nl"
EDITION = "2027-najaar"
HELD = datetime(2027, 10, 15, 11, tzinfo=UTC)
COMPLETED = datetime(2027, 10, 16, 9, tzinfo=UTC)


KEY = NameKey.from_secret("test-secret")


class FakeReports:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], SessionReport] = {}

    async def get(self, edition: str, session_number: int, *, for_update: bool = False) -> SessionReport | None:
        return copy.deepcopy(self.rows.get((edition, session_number)))

    async def save(self, report: SessionReport) -> None:
        self.rows[(report.edition, report.session_number)] = copy.deepcopy(report)

    async def of_edition(self, edition: str) -> list[SessionReport]:
        return [copy.deepcopy(r) for (e, _), r in sorted(self.rows.items()) if e == edition]

    async def every(self, *, for_update: bool = False) -> list[SessionReport]:
        return [copy.deepcopy(r) for _, r in sorted(self.rows.items())]


class FakeRounds:
    def __init__(self) -> None:
        self.rows: dict[str, RoundPublication] = {}

    async def lock(self, edition: str) -> None:
        pass  # one task at a time: nothing to serialise

    async def get(self, edition: str, *, for_update: bool = False) -> RoundPublication | None:
        return copy.deepcopy(self.rows.get(edition))

    async def save(self, publication: RoundPublication) -> None:
        self.rows[publication.edition] = copy.deepcopy(publication)


class FakeTrios:
    def __init__(self) -> None:
        self.rows: dict[str, Trio] = {}

    async def get(self, registration_id: str, *, for_update: bool = False) -> Trio | None:
        return copy.deepcopy(self.rows.get(registration_id))

    async def save(self, trio: Trio) -> None:
        self.rows[trio.registration_id] = copy.deepcopy(trio)


class FakeNames:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, NameKind]] = {}

    async def add(self, registration_id: str, digests: dict[str, NameKind]) -> None:
        self.rows.setdefault(registration_id, {}).update(digests)

    async def of(self, registration_id: str) -> dict[str, NameKind]:
        return dict(self.rows.get(registration_id, {}))


class FakeAttendance:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], Attendance] = {}

    async def get(self, edition: str, session_number: int, *, for_update: bool = False) -> Attendance | None:
        return copy.deepcopy(self.rows.get((edition, session_number)))

    async def save(self, attendance: Attendance) -> None:
        self.rows[(attendance.edition, attendance.session_number)] = copy.deepcopy(attendance)


class FakeList:
    def __init__(self) -> None:
        self.items: list[Any] = []

    async def add(self, item: Any) -> None:
        self.items.append(item)


class FakeEditions:
    def __init__(self) -> None:
        self.rows: dict[str, Edition] = {}

    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None:
        return copy.deepcopy(self.rows.get(slug))

    async def save(self, edition: Edition) -> None:
        self.rows[edition.slug] = copy.deepcopy(edition)


def session_completed(number: int = 1, **notes: Any) -> SessionCompleted:
    return SessionCompleted(
        edition=EDITION,
        session_number=number,
        title="Positionering van het wijkgerichte werken in de eigen gemeente",
        starts_at=HELD,
        attendance={"trios": 7, "municipalities": 6},
        notes={
            "lessons": ["Begin bij de opgave van de wijk."],
            "instruments": [{"name": "Wijkscan", "description": "Een kaart van wat er speelt."}],
            "quotes": ["De wijk is geen project."],
            "next_steps": ["Stip op de horizon delen."],
            **notes,
        },
    )


def envelope(data: Any, occurred_at: datetime = COMPLETED) -> Event[Any]:
    return Event[type(data)](
        event_id=str(uuid.uuid4()),
        type=type(data).__name__,
        version=1,
        occurred_at=occurred_at,
        producer="scheduling",
        correlation_id="c-1",
        causation_id="m-1",
        data=data,
    )


async def publish(
    event: SessionCompleted,
    reports: FakeReports,
    emitted: list[Any],
    occurred_at: datetime = COMPLETED,
    *,
    editions: FakeEditions | None = None,
    rounds: FakeRounds | None = None,
) -> None:
    await handlers.publish_session_report(
        event,
        envelope=envelope(event, occurred_at),
        reports=reports,
        editions=editions or FakeEditions(),
        rounds=rounds or FakeRounds(),
        emit=emitted.append,
        public_url=PUBLIC_URL,
    )


async def remember(
    event: EditionScheduled,
    editions: FakeEditions,
    occurred_at: datetime = COMPLETED,
    *,
    reports: FakeReports | None = None,
    rounds: FakeRounds | None = None,
    emitted: list[Any] | None = None,
) -> None:
    await handlers.remember_edition(
        event,
        editions=editions,
        reports=reports or FakeReports(),
        rounds=rounds or FakeRounds(),
        emit=(emitted if emitted is not None else []).append,
        public_url=PUBLIC_URL,
        occurred_at=occurred_at,
    )


async def test_a_completed_session_is_stored_and_its_report_page_announced() -> None:
    reports, emitted = FakeReports(), []
    await publish(session_completed(), reports, emitted)
    assert emitted == [
        LessonReportPublished(
            edition=EDITION,
            session_number=1,
            title="Positionering van het wijkgerichte werken in de eigen gemeente",
            url=f"{PUBLIC_URL}/reports/{EDITION}/1",
        )
    ]
    stored = reports.rows[(EDITION, 1)]
    assert (stored.trios, stored.municipalities, stored.starts_at) == (7, 6, HELD)
    assert stored.lessons == ["Begin bij de opgave van de wijk."]
    assert stored.instruments[0].name == "Wijkscan"
    assert stored.completed_at == COMPLETED


async def test_contact_details_in_the_notes_are_never_stored() -> None:
    reports = FakeReports()
    await publish(
        session_completed(
            lessons=["Vraag de slides op via anna@barneveld.nl"],
            quotes=['"Bel me gerust op 06-12345678" — Anna, wijkregisseur'],
            next_steps=["Afspraak plannen: 030-1234567"],
            instruments=[{"name": "Buurtbudget", "description": "Meer weten? +31 6 12345678"}],
        ),
        reports,
        [],
    )
    stored = reports.rows[(EDITION, 1)]
    assert stored.lessons == ["Vraag de slides op via [verwijderd]"]
    assert stored.quotes == ["Bel me gerust op [verwijderd]"]
    assert stored.next_steps == ["Afspraak plannen: [verwijderd]"]
    assert stored.instruments[0].description == "Meer weten? [verwijderd]"


async def test_a_newer_version_of_a_session_updates_the_report_and_publishes_again() -> None:
    reports, emitted = FakeReports(), []
    await publish(session_completed(), reports, emitted)
    await publish(session_completed(lessons=["Nieuwe les."]), reports, emitted, COMPLETED + timedelta(hours=1))
    assert reports.rows[(EDITION, 1)].lessons == ["Nieuwe les."]
    assert [e.url for e in emitted] == [f"{PUBLIC_URL}/reports/{EDITION}/1"] * 2


async def test_an_older_version_delivered_late_changes_nothing() -> None:
    reports, emitted = FakeReports(), []
    await publish(session_completed(lessons=["Nieuwste les."]), reports, emitted)
    await publish(session_completed(lessons=["Oude les."]), reports, emitted, COMPLETED - timedelta(hours=1))
    assert reports.rows[(EDITION, 1)].lessons == ["Nieuwste les."]
    assert len(emitted) == 1


def edition_scheduled(title: str = "Werkplaatsen wijkgericht werken") -> EditionScheduled:
    return EditionScheduled(
        edition=EDITION,
        title=title,
        venue={"name": "Werkplaats", "address": "Straat 1", "city": "Utrecht"},
        capacity={"min_trios": 6, "max_trios": 8},
        registration_deadline=HELD - timedelta(days=20),
        registration_closes_at=HELD - timedelta(days=10),
        fee={"amount_cents": 20000},
        priority_size_classes=["middelgroot"],
        table_size=3,
        sessions=[
            {
                "number": 1,
                "title": "Positionering",
                "outcome": "Je kunt de stip op de horizon benoemen.",
                "starts_at": HELD,
                "ends_at": HELD + timedelta(hours=4),
            }
        ],
    )


async def test_the_edition_is_remembered_with_each_sessions_outcome() -> None:
    editions = FakeEditions()
    await remember(edition_scheduled(), editions)
    edition = editions.rows[EDITION]
    assert edition.title == "Werkplaatsen wijkgericht werken"
    assert edition.venue["city"] == "Utrecht"
    assert edition.outcome(1) == "Je kunt de stip op de horizon benoemen."
    assert edition.outcome(2) is None


async def test_an_older_edition_announcement_delivered_late_changes_nothing() -> None:
    editions = FakeEditions()
    await remember(edition_scheduled("Nieuwe titel"), editions)
    await remember(edition_scheduled("Oude titel"), editions, COMPLETED - timedelta(days=1))
    assert editions.rows[EDITION].title == "Nieuwe titel"


async def test_a_session_report_is_stored_even_before_its_edition_is_known() -> None:
    reports, editions, emitted = FakeReports(), FakeEditions(), []
    await publish(session_completed(), reports, emitted, editions=editions)
    assert (EDITION, 1) in reports.rows and len(emitted) == 1
    await remember(edition_scheduled(), editions, COMPLETED + timedelta(days=1), reports=reports)
    assert editions.rows[EDITION].outcome(1) is not None
    assert reports.rows[(EDITION, 1)].lessons == ["Begin bij de opgave van de wijk."]  # untouched by the edition


def three_sessions() -> EditionScheduled:
    event = edition_scheduled()
    sessions = [
        {
            "number": n,
            "title": f"Bijeenkomst {n}",
            "outcome": "Uitkomst.",
            "starts_at": HELD + timedelta(days=30 * (n - 1)),
            "ends_at": HELD + timedelta(days=30 * (n - 1), hours=4),
        }
        for n in (1, 2, 3)
    ]
    return EditionScheduled.model_validate({**event.model_dump(), "sessions": sessions})


async def test_the_rounds_report_is_published_once_after_the_last_session_with_a_null_session_number() -> None:
    reports, editions, rounds, emitted = FakeReports(), FakeEditions(), FakeRounds(), []
    await remember(three_sessions(), editions, HELD - timedelta(days=60), reports=reports, rounds=rounds)
    for number in (1, 2):
        await publish(session_completed(number), reports, emitted, editions=editions, rounds=rounds)
    assert [e.session_number for e in emitted] == [1, 2]
    await publish(session_completed(3), reports, emitted, editions=editions, rounds=rounds)
    await publish(
        session_completed(3, lessons=["Nieuwe les."]),
        reports,
        emitted,
        COMPLETED + timedelta(hours=1),
        editions=editions,
        rounds=rounds,
    )
    assert [e.session_number for e in emitted] == [1, 2, 3, None, 3]
    whole = emitted[3]
    assert whole.url == f"{PUBLIC_URL}/reports/{EDITION}"
    assert whole.title == "Verslag Werkplaatsen wijkgericht werken, oktober 2027 – december 2027"
    assert rounds.rows[EDITION].published_at == COMPLETED


async def test_an_edition_that_arrives_after_its_last_sessions_report_publishes_the_round() -> None:
    reports, editions, rounds, emitted = FakeReports(), FakeEditions(), FakeRounds(), []
    await publish(session_completed(3), reports, emitted, editions=editions, rounds=rounds)
    assert [e.session_number for e in emitted] == [3]
    await remember(
        three_sessions(), editions, COMPLETED + timedelta(days=1), reports=reports, rounds=rounds, emitted=emitted
    )
    assert [e.session_number for e in emitted] == [3, None]


async def test_no_rounds_report_before_the_last_session_is_held() -> None:
    reports, editions, rounds, emitted = FakeReports(), FakeEditions(), FakeRounds(), []
    await remember(three_sessions(), editions, reports=reports, rounds=rounds)
    await publish(session_completed(2), reports, emitted, editions=editions, rounds=rounds)
    assert rounds.rows == {} and [e.session_number for e in emitted] == [2]


async def test_retracting_a_session_report_marks_it_and_a_later_version_does_not_bring_it_back() -> None:
    reports, emitted = FakeReports(), []
    await publish(session_completed(), reports, emitted)
    outcome = await handlers.retract_report(
        RetractReport(edition=EDITION, session_number=1),
        reports=reports,
        rounds=FakeRounds(),
        now=COMPLETED + timedelta(days=1),
    )
    assert outcome == {"edition": EDITION, "session_number": 1}
    assert reports.rows[(EDITION, 1)].retracted_at == COMPLETED + timedelta(days=1)
    await publish(session_completed(lessons=["Later."]), reports, emitted, COMPLETED + timedelta(days=2))
    assert reports.rows[(EDITION, 1)].retracted_at is not None
    assert len(emitted) == 1


@pytest.mark.parametrize(("session_number", "field"), [(2, "session_number"), (None, "edition")])
async def test_retracting_a_report_that_was_never_published_is_refused(session_number: int | None, field: str) -> None:
    reports = FakeReports()
    await publish(session_completed(), reports, [])
    with pytest.raises(CommandRefused) as refused:
        await handlers.retract_report(
            RetractReport(edition=EDITION, session_number=session_number),
            reports=reports,
            rounds=FakeRounds(),
            now=COMPLETED,
        )
    assert [(e.field, e.code) for e in refused.value.errors] == [(field, "unknown_report")]


async def test_retracting_twice_is_refused_as_already_retracted() -> None:
    rounds = FakeRounds()
    rounds.rows[EDITION] = RoundPublication(EDITION, COMPLETED)
    command = RetractReport(edition=EDITION)
    await handlers.retract_report(command, reports=FakeReports(), rounds=rounds, now=COMPLETED)
    assert rounds.rows[EDITION].retracted_at == COMPLETED
    with pytest.raises(CommandRefused) as refused:
        await handlers.retract_report(command, reports=FakeReports(), rounds=rounds, now=COMPLETED)
    assert refused.value.errors[0].code == "already_retracted"


# Reporting's copy of the trios

REGISTRATION = "reg-1"


def trio_registered(consent: bool = False) -> TrioRegistered:
    return TrioRegistered(
        registration_id=REGISTRATION,
        edition=EDITION,
        registered_at=HELD - timedelta(days=40),
        municipality={
            "code": "GM0203",
            "name": "Barneveld",
            "province": "Gelderland",
            "inhabitants": 60000,
            "size_class": "middelgroot",
            "m50_member": True,
        },
        members=[
            {
                "member_id": "m1",
                "name": "Anna de Vries",
                "email": "anna@barneveld.example",
                "role": "wijkambtenaar",
                "domain": "sociaal",
                "language": "nl",
            },
            {
                "member_id": "m2",
                "name": "Pieter Groen",
                "email": "pieter@barneveld.example",
                "role": "sectorambtenaar",
                "domain": "fysiek",
                "language": "nl",
            },
            {
                "member_id": "m3",
                "name": "Fatima El Amrani",
                "email": "fatima@barneveld.example",
                "role": "sectorambtenaar",
                "domain": "veiligheid",
                "language": "en",
            },
        ],
        case={
            "title": "Groene pleinen",
            "neighbourhood": "De Burgt",
            "summary": "Pleinen die water bergen.",
            "domains": ["fysiek", "sociaal"],
        },
        fee={"amount_cents": 20000, "waived": True, "reason": "middelgroot"},
        priority=True,
        preferred_domain_mix=True,
        consent={"privacy": True, "publish_municipality_name": consent},
        channel="web",
    )


async def test_a_registered_trio_is_kept_without_any_name_or_address() -> None:
    trios, names = FakeTrios(), FakeNames()
    await handlers.remember_trio(trio_registered(), trios=trios, names=names, key=KEY)
    trio = trios.rows[REGISTRATION]
    assert (trio.status, trio.edition, trio.municipality.name, trio.domains) == (
        "awaiting_approval",
        EDITION,
        "Barneveld",
        ["fysiek", "sociaal", "veiligheid"],
    )
    assert (trio.fee_cents, trio.fee_waived, trio.publish_municipality_name) == (20000, True, False)
    stored = repr(trio) + repr(names.rows)
    for secret in ("Anna", "Vries", "Pieter", "Fatima", "Amrani", "@"):
        assert secret not in stored
    assert all(len(d) == 64 for d in names.rows[REGISTRATION])


async def test_the_approvers_name_is_kept_as_hashes_too() -> None:
    names = FakeNames()
    await handlers.remember_approver(
        ApprovalRequested(
            registration_id=REGISTRATION,
            approver={"name": "Hendrik Janssen", "email": "h.janssen@barneveld.example"},
            approve_url="https://x.example/a",
            expires_at=HELD,
        ),
        names=names,
        key=KEY,
    )
    assert len(names.rows[REGISTRATION]) == 3  # "hendrik janssen", "hendrik", "janssen"
    assert "Janssen" not in repr(names.rows)


async def test_a_place_that_arrives_before_the_registration_is_kept_and_the_registration_completes_it() -> None:
    trios = FakeTrios()
    await handlers.follow_placement(
        TrioPlaced(registration_id=REGISTRATION, edition=EDITION, via="allocation"), trios=trios, occurred_at=COMPLETED
    )
    await handlers.follow_decision(
        RegistrationApproved(registration_id=REGISTRATION, edition=EDITION, approved_at=HELD, by_organizer=False),
        trios=trios,
    )
    await handlers.remember_trio(trio_registered(), trios=trios, names=FakeNames(), key=KEY)
    trio = trios.rows[REGISTRATION]
    assert (trio.status, trio.municipality.code) == ("placed", "GM0203")


async def test_placements_follow_scheduling_and_cancellation_is_final() -> None:
    trios = FakeTrios()
    await handlers.remember_trio(trio_registered(), trios=trios, names=FakeNames(), key=KEY)
    waitlisted = TrioWaitlisted(registration_id=REGISTRATION, edition=EDITION, position=2)
    await handlers.follow_placement(waitlisted, trios=trios, occurred_at=COMPLETED)
    moved_up = TrioWaitlisted(registration_id=REGISTRATION, edition=EDITION, position=1, previous_position=2)
    await handlers.follow_placement(moved_up, trios=trios, occurred_at=COMPLETED + timedelta(minutes=2))
    await handlers.follow_placement(waitlisted, trios=trios, occurred_at=COMPLETED + timedelta(minutes=1))
    assert (trios.rows[REGISTRATION].status, trios.rows[REGISTRATION].waitlist_position) == ("waitlisted", 1)
    await handlers.follow_placement(
        TrioPlaced(registration_id=REGISTRATION, edition=EDITION, via="waitlist"),
        trios=trios,
        occurred_at=COMPLETED + timedelta(minutes=3),
    )
    await handlers.follow_decision(RegistrationCancelled(registration_id=REGISTRATION, edition=EDITION), trios=trios)
    await handlers.follow_placement(
        PlaceReleased(registration_id=REGISTRATION, edition=EDITION, reason="cancelled"),
        trios=trios,
        occurred_at=COMPLETED + timedelta(minutes=4),
    )
    assert trios.rows[REGISTRATION].status == "cancelled"


async def test_the_allocation_places_and_waitlists_in_order() -> None:
    trios = FakeTrios()
    await handlers.follow_allocation(
        RegistrationClosed(edition=EDITION, placed=["a", "b"], waitlisted=["c", "d"], undersubscribed=False),
        trios=trios,
        occurred_at=COMPLETED,
    )
    assert {rid: (t.status, t.waitlist_position) for rid, t in trios.rows.items()} == {
        "a": ("placed", None),
        "b": ("placed", None),
        "c": ("waitlisted", 1),
        "d": ("waitlisted", 2),
    }


async def test_an_older_attendance_list_delivered_late_changes_nothing() -> None:
    attendance = FakeAttendance()
    newer = AttendanceRecorded(edition=EDITION, session_number=1, present=["a", "b"])
    await handlers.record_attendance(newer, attendance=attendance, occurred_at=COMPLETED)
    older = AttendanceRecorded(edition=EDITION, session_number=1, present=["a"])
    await handlers.record_attendance(older, attendance=attendance, occurred_at=COMPLETED - timedelta(hours=1))
    assert attendance.rows[(EDITION, 1)].present == ["a", "b"]


async def test_erasure_forgets_the_case_and_the_erased_names_in_stored_notes_but_keeps_the_hashes() -> None:
    trios, names, reports = FakeTrios(), FakeNames(), FakeReports()
    await handlers.remember_trio(trio_registered(), trios=trios, names=names, key=KEY)
    await publish(session_completed(lessons=["Anna de Vries en Pieter vertelden over Groen en groen."]), reports, [])
    digests = dict(names.rows[REGISTRATION])
    await handlers.erase_participants(
        ParticipantDataErased(registration_id=REGISTRATION),
        trios=trios,
        names=names,
        reports=reports,
        key=KEY,
        now=COMPLETED,
    )
    trio = trios.rows[REGISTRATION]
    assert trio.case is None and trio.erased_at == COMPLETED
    assert trio.municipality is not None and trio.domains == ["fysiek", "sociaal", "veiligheid"]
    assert names.rows[REGISTRATION] == digests
    assert reports.rows[(EDITION, 1)].lessons == ["[verwijderd] en [verwijderd] vertelden over [verwijderd] en groen."]


async def test_an_erasure_that_arrives_before_the_registration_keeps_the_case_out() -> None:
    trios = FakeTrios()
    await handlers.erase_participants(
        ParticipantDataErased(registration_id=REGISTRATION),
        trios=trios,
        names=FakeNames(),
        reports=FakeReports(),
        key=KEY,
        now=COMPLETED,
    )
    await handlers.remember_trio(trio_registered(), trios=trios, names=FakeNames(), key=KEY)
    assert trios.rows[REGISTRATION].case is None and trios.rows[REGISTRATION].status == "awaiting_approval"


async def test_a_failed_notification_is_kept_without_the_address_it_quotes() -> None:
    failures = FakeList()
    await handlers.record_failure(
        NotificationFailed(
            notification_id="n-1",
            kind="approval_request",
            channel="email",
            caused_by="evt-1",
            reason="SMTP 550 5.1.1 <h.janssen@barneveld.example>: recipient address rejected",
        ),
        failures=failures,
        occurred_at=COMPLETED,
    )
    assert failures.items == [
        NotificationFailure(
            "n-1",
            "approval_request",
            "email",
            "evt-1",
            "SMTP 550 5.1.1 <[verwijderd]>: recipient address rejected",
            COMPLETED,
        )
    ]


async def test_the_source_of_an_event_is_remembered_for_failed_notifications() -> None:
    sources = FakeList()
    event = TrioPlaced(registration_id=REGISTRATION, edition=EDITION, via="direct")
    await handlers.remember_source(event, envelope=envelope(event), sources=sources)
    assert sources.items[0].registration_id == REGISTRATION and sources.items[0].edition == EDITION
    assert isinstance(sources.items[0], EventSource)
