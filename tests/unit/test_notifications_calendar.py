"""Calendar invitations, parsed back with icalendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar

from services.notifications.calendar import invitation, invitations, session_uid
from services.notifications.domain import EditionInfo, SessionInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
STAMP = datetime(2027, 10, 1, 8, tzinfo=UTC)


def edition(sequence: int = 0) -> EditionInfo:
    return EditionInfo(
        slug="2027-najaar",
        title="Werkplaatsen wijkgericht werken",
        venue={"name": "Stadskantoor", "address": "Stadsplateau 1", "city": "Utrecht"},
        registration_deadline=datetime(2027, 9, 24, 10, tzinfo=UTC),
        sessions=[
            SessionInfo(
                1,
                "Positionering",
                datetime(2027, 10, 15, 11, tzinfo=UTC),
                datetime(2027, 10, 15, 15, tzinfo=UTC),
                "Een stip op de horizon.",
                sequence,
            ),
            SessionInfo(
                2, "Lokale agenda", datetime(2027, 11, 7, 12, tzinfo=UTC), datetime(2027, 11, 7, 16, tzinfo=UTC)
            ),
            SessionInfo(
                3,
                "Wat en wie heb je nodig?",
                datetime(2028, 1, 14, 12, tzinfo=UTC),
                datetime(2028, 1, 14, 16, tzinfo=UTC),
            ),
        ],
        scheduled_at=STAMP,
    )


def parsed(ed: EditionInfo, sessions: list[SessionInfo] | None = None, language: str = "nl") -> Calendar:
    text = invitation(
        ed,
        sessions or ed.sessions,
        organizer=("Werkplaatsen", "werkplaatsen@platform31.nl"),
        attendee=("Anna de Vries", "anna@barneveld.nl"),
        stamp=STAMP,
        language=language,
    )
    return Calendar.from_ical(text)


def test_invitation_is_a_request_with_one_event_per_session_in_amsterdam_time() -> None:
    calendar = parsed(edition())

    assert str(calendar["METHOD"]) == "REQUEST" and str(calendar["VERSION"]) == "2.0"
    events = sorted(calendar.walk("VEVENT"), key=lambda e: e.decoded("dtstart"))
    assert len(events) == 3
    first = events[0]
    # 11:00 UTC in October is 13:00 in Amsterdam (summer time); 12:00 UTC in November is 13:00 (winter time).
    assert first.decoded("dtstart") == datetime(2027, 10, 15, 13, tzinfo=AMSTERDAM)
    assert first["DTSTART"].params["TZID"] == "Europe/Amsterdam"
    assert events[1].decoded("dtstart") == datetime(2027, 11, 7, 13, tzinfo=AMSTERDAM)
    assert events[1].decoded("dtend") == datetime(2027, 11, 7, 17, tzinfo=AMSTERDAM)
    assert str(first["SUMMARY"]) == "Bijeenkomst 1: Positionering (Werkplaatsen wijkgericht werken)"
    assert str(first["LOCATION"]) == "Stadskantoor, Stadsplateau 1, Utrecht"
    assert str(first["DESCRIPTION"]) == "Een stip op de horizon."
    assert str(first["ORGANIZER"]) == "mailto:werkplaatsen@platform31.nl"
    assert str(first["ATTENDEE"]) == "mailto:anna@barneveld.nl"


def test_invitation_includes_the_amsterdam_time_zone_with_summer_and_winter_time() -> None:
    (zone,) = parsed(edition()).walk("VTIMEZONE")

    assert str(zone["TZID"]) == "Europe/Amsterdam"
    assert {c.name for c in zone.subcomponents} == {"STANDARD", "DAYLIGHT"}


def test_uids_are_stable_per_edition_and_session_and_an_update_raises_the_sequence() -> None:
    before = {str(e["UID"]): int(e["SEQUENCE"]) for e in parsed(edition()).walk("VEVENT")}
    moved = edition(sequence=1)
    (update,) = parsed(moved, [moved.sessions[0]]).walk("VEVENT")

    assert set(before) == {session_uid("2027-najaar", n) for n in (1, 2, 3)}
    assert str(update["UID"]) == session_uid("2027-najaar", 1)
    assert int(update["SEQUENCE"]) == before[str(update["UID"])] + 1


def test_invitation_is_the_same_text_every_time_it_is_made() -> None:
    ed = edition()

    def make() -> bytes:
        return invitation(
            ed, ed.sessions, organizer=("W", "w@platform31.nl"), attendee=("A", "a@b.nl"), stamp=STAMP, language="en"
        )

    assert make() == make()
    (first, *_) = sorted(Calendar.from_ical(make()).walk("VEVENT"), key=lambda e: e.decoded("dtstart"))
    assert str(first["SUMMARY"]).startswith("Session 1: Positionering")
    assert first.decoded("dtend") - first.decoded("dtstart") == timedelta(hours=4)


def test_a_trios_invitations_made_once_are_the_very_ones_made_for_each_member_alone() -> None:
    ed = edition()
    organizer = ("Werkplaatsen", "werkplaatsen@platform31.nl")
    attendees = [
        ("Anna de Vries", "anna@barneveld.nl"),
        ("", "zonder.naam@barneveld.nl"),
        (
            'Jan-Willem "JW" van den Berg-Oosterhuis; wijk, Zuid ë',
            "jan.willem.van.den.berg.oosterhuis@een-lange-naam.nl",
        ),
        ("Ünïcødé ☃ " * 8, "sneeuw@barneveld.nl"),  # folded over several lines
    ]
    for language in ("nl", "en"):
        # A later trio of the same edition, another moment: the same calendar but for its stamp.
        for stamp in (STAMP, STAMP + timedelta(hours=5, seconds=7)):
            for_trio = invitations(ed, ed.sessions, organizer=organizer, stamp=stamp, language=language)
            for attendee in attendees:
                alone = invitation(
                    ed, ed.sessions, organizer=organizer, attendee=attendee, stamp=stamp, language=language
                )
                assert for_trio(attendee) == alone


def test_a_rescheduled_session_gets_a_calendar_of_its_own_not_the_one_made_before() -> None:
    organizer = ("Werkplaatsen", "werkplaatsen@platform31.nl")
    attendee = ("Anna de Vries", "anna@barneveld.nl")
    before, after = edition(), edition(sequence=1)
    after.sessions[0].starts_at += timedelta(days=7)
    after.sessions[0].ends_at += timedelta(days=7)
    invitations(before, before.sessions, organizer=organizer, stamp=STAMP, language="nl")(attendee)

    made = invitations(after, after.sessions, organizer=organizer, stamp=STAMP, language="nl")(attendee)

    assert made == invitation(after, after.sessions, organizer=organizer, attendee=attendee, stamp=STAMP, language="nl")
    assert "SEQUENCE:1" in made
