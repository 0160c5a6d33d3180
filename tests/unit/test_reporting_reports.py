"""Session summaries, driven with in-memory fakes: a completed session's notes become a draft that an organiser
revises and publishes (or an edition publishes at once), the round's report after the last one, retraction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.reporting import handlers
from services.reporting.domain import RoundPublication
from shared.contract.reporting import LessonReportPublished, RetractReport, ReviseReport
from shared.contract.scheduling import SessionNotesGiven
from shared.messaging.messages import CommandRefused, NotYetKnown
from tests.unit.reporting_fakes import (
    COMPLETED,
    EDITION,
    HELD,
    PUBLIC_URL,
    FakeEditions,
    FakeReports,
    FakeRounds,
    complete,
    edition_scheduled,
    publish_command,
    remember,
    session_completed,
    three_sessions,
)

ANNOUNCED = LessonReportPublished(
    edition=EDITION,
    session_number=1,
    title="Positionering van het wijkgerichte werken in de eigen gemeente",
    url=f"{PUBLIC_URL}/reports/{EDITION}/1",
)


async def known(event: Any = None) -> FakeEditions:
    editions = FakeEditions()
    await remember(event or edition_scheduled(), editions, HELD - timedelta(days=60))
    return editions


async def revise(number: int, reports: FakeReports, **notes: Any) -> dict[str, Any]:
    return await handlers.revise_report(
        ReviseReport(edition=EDITION, session_number=number, notes=SessionNotesGiven.model_validate(notes)),
        reports=reports,
    )


async def retract(number: int | None, reports: FakeReports, rounds: FakeRounds | None = None) -> dict[str, Any]:
    return await handlers.retract_report(
        RetractReport(edition=EDITION, session_number=number),
        reports=reports,
        rounds=rounds or FakeRounds(),
        now=COMPLETED + timedelta(days=2),
    )


def codes(refused: pytest.ExceptionInfo[CommandRefused]) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in refused.value.errors]


# Drafts


async def test_a_completed_session_is_kept_as_a_draft_and_announced_to_nobody() -> None:
    reports, emitted = FakeReports(), []
    await complete(session_completed(), reports, emitted, editions=await known())
    assert emitted == []
    stored = reports.rows[(EDITION, 1)]
    assert (stored.status, stored.published_at) == ("draft", None)
    assert (stored.trios, stored.municipalities, stored.starts_at) == (7, 6, HELD)
    assert stored.lessons == ["Begin bij de opgave van de wijk."]
    assert stored.instruments[0].name == "Wijkscan"
    assert stored.completed_at == COMPLETED


async def test_contact_details_in_the_notes_are_never_stored_and_where_they_were_is_marked() -> None:
    reports = FakeReports()
    await complete(
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
    assert stored.marks["lessons"] == [[(23, 35, "email")]]
    assert stored.marks["quotes"] == [[(17, 29, "phone"), (29, 29, "attribution")]]
    assert stored.marks["instrument_names"] == [[]]
    assert stored.marks["instrument_descriptions"] == [[(12, 24, "phone")]]


async def test_an_organiser_publishes_a_draft_which_announces_its_page() -> None:
    reports, emitted = FakeReports(), []
    await complete(session_completed(), reports, emitted)
    outcome = await publish_command(1, reports, emitted)
    assert outcome == {"edition": EDITION, "session_number": 1, "url": f"{PUBLIC_URL}/reports/{EDITION}/1"}
    assert emitted == [ANNOUNCED]
    stored = reports.rows[(EDITION, 1)]
    assert (stored.status, stored.published_at) == ("published", COMPLETED + timedelta(days=1))


async def test_publishing_twice_is_refused_as_already_published_and_announces_once() -> None:
    reports, emitted = FakeReports(), []
    await complete(session_completed(), reports, emitted)
    await publish_command(1, reports, emitted)
    with pytest.raises(CommandRefused) as refused:
        await publish_command(1, reports, emitted)
    assert codes(refused) == [("session_number", "already_published")]
    assert emitted == [ANNOUNCED]


async def test_publishing_a_session_that_cannot_have_notes_is_refused_as_unknown_report() -> None:
    editions = await known(three_sessions())
    with pytest.raises(CommandRefused) as not_held:  # session 2 starts a month after the command
        await publish_command(2, FakeReports(), [], editions=editions)
    with pytest.raises(CommandRefused) as no_such_session:
        await publish_command(4, FakeReports(), [], editions=editions)
    assert codes(not_held) == codes(no_such_session) == [("session_number", "unknown_report")]


@pytest.mark.parametrize("edition_known", [True, False])
async def test_publishing_a_held_session_whose_notes_are_still_on_their_way_waits_for_them(edition_known: bool) -> None:
    editions = await known() if edition_known else FakeEditions()
    with pytest.raises(NotYetKnown) as not_yet:
        await publish_command(1, FakeReports(), [], editions=editions)
    assert [(e.field, e.code) for e in not_yet.value.errors] == [("session_number", "unknown_report")]
    with pytest.raises(NotYetKnown):
        await handlers.revise_report(
            ReviseReport(edition=EDITION, session_number=1, notes=SessionNotesGiven()),
            reports=FakeReports(),
            editions=editions,
            now=COMPLETED,
        )
    with pytest.raises(NotYetKnown):
        await handlers.retract_report(
            RetractReport(edition=EDITION, session_number=1),
            reports=FakeReports(),
            rounds=FakeRounds(),
            editions=editions,
            now=COMPLETED,
        )


async def test_a_revised_draft_holds_the_new_notes_anonymised_and_publishes_them() -> None:
    reports, emitted = FakeReports(), []
    await complete(session_completed(), reports, emitted)
    outcome = await revise(
        1, reports, lessons=["Nieuwe les; mail jan@ede.example."], quotes=['"Echt waar." — Jan, Ede'], next_steps=[]
    )
    assert outcome == {"edition": EDITION, "session_number": 1}
    draft = reports.rows[(EDITION, 1)]
    assert draft.status == "draft"
    assert (draft.lessons, draft.instruments, draft.quotes, draft.next_steps) == (
        ["Nieuwe les; mail [verwijderd]."],
        [],
        ["Echt waar."],
        [],
    )
    assert draft.marks["lessons"] == [[(17, 29, "email")]]
    assert draft.completed_at == COMPLETED and draft.title.startswith("Positionering")
    await publish_command(1, reports, emitted)
    assert reports.rows[(EDITION, 1)].lessons == ["Nieuwe les; mail [verwijderd]."]


async def test_a_published_summary_is_not_revised() -> None:
    reports = FakeReports()
    await complete(session_completed(), reports, [])
    await publish_command(1, reports, [])
    with pytest.raises(CommandRefused) as refused:
        await revise(1, reports, lessons=["Anders."])
    assert codes(refused) == [("session_number", "already_published")]
    assert reports.rows[(EDITION, 1)].lessons == ["Begin bij de opgave van de wijk."]


async def test_revising_a_retracted_or_unknown_summary_is_refused() -> None:
    reports = FakeReports()
    await complete(session_completed(), reports, [])
    await publish_command(1, reports, [])
    await retract(1, reports)
    with pytest.raises(CommandRefused) as retracted:
        await revise(1, reports, lessons=["Anders."])
    with pytest.raises(CommandRefused) as unknown:
        await revise(2, reports, lessons=["Anders."])
    assert codes(retracted) == [("session_number", "already_retracted")]
    assert codes(unknown) == [("session_number", "unknown_report")]


async def test_a_newer_version_of_the_notes_replaces_a_draft_but_not_a_published_summary() -> None:
    reports, emitted = FakeReports(), []
    await complete(session_completed(), reports, emitted)
    await complete(session_completed(lessons=["Nieuwere les."]), reports, emitted, COMPLETED + timedelta(hours=1))
    assert reports.rows[(EDITION, 1)].lessons == ["Nieuwere les."] and emitted == []
    await publish_command(1, reports, emitted)
    await complete(session_completed(lessons=["Nog later."]), reports, emitted, COMPLETED + timedelta(hours=2))
    assert reports.rows[(EDITION, 1)].lessons == ["Nieuwere les."] and len(emitted) == 1


async def test_an_older_version_delivered_late_changes_nothing() -> None:
    reports, emitted = FakeReports(), []
    await complete(session_completed(lessons=["Nieuwste les."]), reports, emitted)
    await complete(session_completed(lessons=["Oude les."]), reports, emitted, COMPLETED - timedelta(hours=1))
    assert reports.rows[(EDITION, 1)].lessons == ["Nieuwste les."]


# Editions that publish at once


async def test_an_edition_that_publishes_at_once_publishes_the_summary_as_the_session_is_completed() -> None:
    reports, emitted = FakeReports(), []
    await complete(session_completed(), reports, emitted, editions=await known(three_sessions(at_once=True)))
    assert emitted == [ANNOUNCED]
    assert reports.rows[(EDITION, 1)].published_at == COMPLETED


async def test_at_once_a_newer_version_updates_the_summary_and_announces_it_again() -> None:
    reports, emitted, editions = FakeReports(), [], await known(three_sessions(at_once=True))
    await complete(session_completed(), reports, emitted, editions=editions)
    later = COMPLETED + timedelta(hours=1)
    await complete(session_completed(lessons=["Nieuwe les."]), reports, emitted, later, editions=editions)
    assert reports.rows[(EDITION, 1)].lessons == ["Nieuwe les."]
    assert emitted == [ANNOUNCED, ANNOUNCED]


async def test_the_edition_is_remembered_with_each_sessions_outcome_and_its_setting() -> None:
    editions = FakeEditions()
    await remember(edition_scheduled(at_once=True), editions)
    edition = editions.rows[EDITION]
    assert edition.title == "Werkplaatsen wijkgericht werken"
    assert edition.venue["city"] == "Utrecht"
    assert edition.outcome(1) == "Je kunt de stip op de horizon benoemen."
    assert edition.outcome(2) is None
    assert edition.publish_reports_at_once is True


async def test_an_older_edition_announcement_delivered_late_changes_nothing() -> None:
    editions = FakeEditions()
    await remember(edition_scheduled("Nieuwe titel"), editions)
    await remember(edition_scheduled("Oude titel"), editions, COMPLETED - timedelta(days=1))
    assert editions.rows[EDITION].title == "Nieuwe titel"


async def test_a_summary_whose_edition_is_not_known_yet_waits_as_a_draft_for_an_edition_that_reviews() -> None:
    reports, editions, emitted = FakeReports(), FakeEditions(), []
    await complete(session_completed(), reports, emitted, editions=editions)
    await remember(edition_scheduled(), editions, COMPLETED + timedelta(days=1), reports=reports, emitted=emitted)
    assert editions.rows[EDITION].outcome(1) is not None
    assert reports.rows[(EDITION, 1)].status == "draft" and emitted == []


async def test_an_edition_that_publishes_at_once_arriving_after_the_notes_publishes_their_draft() -> None:
    reports, editions, emitted = FakeReports(), FakeEditions(), []
    await complete(session_completed(), reports, emitted, editions=editions)
    arrives = COMPLETED + timedelta(days=1)
    await remember(three_sessions(at_once=True), editions, arrives, reports=reports, emitted=emitted)
    assert emitted == [ANNOUNCED]
    assert reports.rows[(EDITION, 1)].published_at == arrives


async def test_an_edition_that_changes_to_publishing_at_once_leaves_its_drafts_to_the_organiser() -> None:
    reports, emitted, editions = FakeReports(), [], await known()
    await complete(session_completed(), reports, emitted, editions=editions)
    later = COMPLETED + timedelta(days=1)
    await remember(edition_scheduled(at_once=True), editions, later, reports=reports, emitted=emitted)
    assert reports.rows[(EDITION, 1)].status == "draft" and emitted == []


# The round's report


async def test_the_rounds_report_is_published_once_after_the_last_sessions_summary_is_published() -> None:
    reports, editions, rounds, emitted = FakeReports(), FakeEditions(), FakeRounds(), []
    await remember(three_sessions(), editions, HELD - timedelta(days=60), reports=reports, rounds=rounds)
    for number in (1, 2, 3):
        await complete(session_completed(number), reports, emitted, editions=editions, rounds=rounds)
    assert emitted == [] and rounds.rows == {}
    published = COMPLETED + timedelta(days=1)
    for number in (3, 1, 2):
        await publish_command(number, reports, emitted, published, editions=editions, rounds=rounds)
    assert [e.session_number for e in emitted] == [3, None, 1, 2]
    whole = emitted[1]
    assert whole.url == f"{PUBLIC_URL}/reports/{EDITION}"
    assert whole.title == "Verslag Werkplaatsen wijkgericht werken, oktober 2027 – december 2027"
    assert rounds.rows[EDITION].published_at == published


async def test_at_once_the_rounds_report_follows_the_last_completed_session() -> None:
    reports, editions, rounds, emitted = FakeReports(), FakeEditions(), FakeRounds(), []
    await remember(three_sessions(at_once=True), editions, HELD - timedelta(days=60), reports=reports, rounds=rounds)
    for number in (1, 2, 3):
        await complete(session_completed(number), reports, emitted, editions=editions, rounds=rounds)
    later = COMPLETED + timedelta(hours=1)
    await complete(session_completed(3, lessons=["Nieuw."]), reports, emitted, later, editions=editions, rounds=rounds)
    assert [e.session_number for e in emitted] == [1, 2, 3, None, 3]
    assert rounds.rows[EDITION].published_at == COMPLETED


async def test_an_edition_that_arrives_after_its_last_sessions_summary_was_published_publishes_the_round() -> None:
    reports, editions, rounds, emitted = FakeReports(), FakeEditions(), FakeRounds(), []
    await complete(session_completed(3), reports, emitted, editions=editions, rounds=rounds)
    await publish_command(3, reports, emitted, editions=editions, rounds=rounds)
    assert [e.session_number for e in emitted] == [3]
    await remember(
        three_sessions(), editions, COMPLETED + timedelta(days=2), reports=reports, rounds=rounds, emitted=emitted
    )
    assert [e.session_number for e in emitted] == [3, None]


async def test_no_rounds_report_before_the_last_session_is_published() -> None:
    reports, editions, rounds, emitted = FakeReports(), FakeEditions(), FakeRounds(), []
    await remember(three_sessions(), editions, reports=reports, rounds=rounds)
    await complete(session_completed(2), reports, emitted, editions=editions, rounds=rounds)
    await publish_command(2, reports, emitted, editions=editions, rounds=rounds)
    await complete(session_completed(3), reports, emitted, editions=editions, rounds=rounds)
    assert rounds.rows == {} and [e.session_number for e in emitted] == [2]


# Retraction


async def test_retracting_a_published_summary_marks_it_and_a_later_version_does_not_bring_it_back() -> None:
    reports, emitted = FakeReports(), []
    await complete(session_completed(), reports, emitted)
    await publish_command(1, reports, emitted)
    assert await retract(1, reports) == {"edition": EDITION, "session_number": 1}
    assert reports.rows[(EDITION, 1)].retracted_at == COMPLETED + timedelta(days=2)
    assert reports.rows[(EDITION, 1)].status == "retracted"
    await complete(session_completed(lessons=["Later."]), reports, emitted, COMPLETED + timedelta(days=3))
    assert reports.rows[(EDITION, 1)].status == "retracted" and len(emitted) == 1
    with pytest.raises(CommandRefused) as refused:
        await publish_command(1, reports, emitted)
    assert codes(refused) == [("session_number", "already_retracted")]


async def test_a_draft_is_not_retracted_it_is_not_public() -> None:
    reports = FakeReports()
    await complete(session_completed(), reports, [])
    with pytest.raises(CommandRefused) as refused:
        await retract(1, reports)
    assert codes(refused) == [("session_number", "not_published")]
    assert reports.rows[(EDITION, 1)].status == "draft"


@pytest.mark.parametrize(("session_number", "field"), [(2, "session_number"), (None, "edition")])
async def test_retracting_a_report_that_does_not_exist_is_refused(session_number: int | None, field: str) -> None:
    reports = FakeReports()
    await complete(session_completed(), reports, [])
    with pytest.raises(CommandRefused) as refused:
        await retract(session_number, reports)
    assert codes(refused) == [(field, "unknown_report")]


async def test_retracting_twice_is_refused_as_already_retracted() -> None:
    rounds = FakeRounds()
    rounds.rows[EDITION] = RoundPublication(EDITION, COMPLETED)
    await retract(None, FakeReports(), rounds)
    assert rounds.rows[EDITION].retracted_at == COMPLETED + timedelta(days=2)
    with pytest.raises(CommandRefused) as refused:
        await retract(None, FakeReports(), rounds)
    assert codes(refused) == [("edition", "already_retracted")]
