"""Reporting's copies of other services' facts (trios, names, attendance, erasure, failures), driven with in-memory
fakes; the session summaries' handlers are in test_reporting_reports.py."""

from __future__ import annotations

from datetime import timedelta

from services.reporting import handlers
from services.reporting.domain import EventSource, NotificationFailure
from shared.contract.notifications import NotificationFailed
from shared.contract.registration import (
    ApprovalRequested,
    ParticipantDataErased,
    RegistrationApproved,
    RegistrationCancelled,
    TrioRegistered,
)
from shared.contract.scheduling import AttendanceRecorded, PlaceReleased, RegistrationClosed, TrioPlaced, TrioWaitlisted
from tests.unit.reporting_fakes import (
    COMPLETED,
    EDITION,
    HELD,
    KEY,
    FakeAttendance,
    FakeList,
    FakeNames,
    FakeReports,
    FakeTrios,
    complete,
    envelope,
    session_completed,
)

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
        trios=FakeTrios(),
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


async def test_erasure_forgets_the_case_the_erased_names_in_stored_notes_and_then_their_hashes() -> None:
    trios, names, reports = FakeTrios(), FakeNames(), FakeReports()
    await handlers.remember_trio(trio_registered(), trios=trios, names=names, key=KEY)
    await complete(session_completed(lessons=["Anna de Vries en Pieter vertelden over Groen en groen."]), reports, [])
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
    assert REGISTRATION not in names.rows
    assert reports.rows[(EDITION, 1)].lessons == ["[verwijderd] en [verwijderd] vertelden over [verwijderd] en groen."]
    assert [kind for *_, kind in reports.rows[(EDITION, 1)].marks["lessons"][0]] == ["name"] * 3  # for the preview


async def test_an_erasure_that_arrives_before_the_registration_keeps_the_case_and_the_names_out() -> None:
    trios = FakeTrios()
    await handlers.erase_participants(
        ParticipantDataErased(registration_id=REGISTRATION),
        trios=trios,
        names=FakeNames(),
        reports=FakeReports(),
        key=KEY,
        now=COMPLETED,
    )
    names = FakeNames()
    await handlers.remember_trio(trio_registered(), trios=trios, names=names, key=KEY)
    await handlers.remember_approver(
        ApprovalRequested(
            registration_id=REGISTRATION,
            approver={"name": "Hendrik Janssen", "email": "h.janssen@barneveld.example"},
            approve_url="https://x.example/a",
            expires_at=HELD,
        ),
        trios=trios,
        names=names,
        key=KEY,
    )
    assert trios.rows[REGISTRATION].case is None and trios.rows[REGISTRATION].status == "awaiting_approval"
    assert names.rows == {}  # nor its names' hashes


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
