"""Notifications handlers and rules, driven with in-memory fakes."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog.testing

from services.notifications import handlers
from services.notifications.adapters import compose
from services.notifications.domain import (
    ACKNOWLEDGEMENT,
    FAILED,
    MAX_ATTEMPTS,
    PENDING,
    SENT,
    EditionInfo,
    Mail,
    SessionInfo,
    after_attempt,
    fee_text,
)
from shared.contract import Event
from shared.contract.registration import Fee, TrioRegistered
from shared.contract.scheduling import EditionScheduled

NOW = datetime(2027, 9, 1, 12, tzinfo=UTC)
EDITION = "2027-najaar"
TITLE = "Werkplaatsen wijkgericht werken"
CASE = "Groene bewonersinitiatieven in Kanaleneiland"


class FakeEditions:
    def __init__(self, *editions: EditionInfo) -> None:
        self.rows = {e.slug: copy.deepcopy(e) for e in editions}

    async def get(self, slug: str) -> EditionInfo | None:
        return copy.deepcopy(self.rows.get(slug))

    async def save(self, edition: EditionInfo) -> None:
        self.rows[edition.slug] = copy.deepcopy(edition)


class FakeMails:
    """Keeps mails unique on (caused_by, kind, recipient), like the database's constraint."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], Mail] = {}

    async def add(self, mail: Mail) -> bool:
        key = (mail.caused_by, mail.kind, mail.recipient)
        if key in self.rows:
            return False
        self.rows[key] = copy.deepcopy(mail)
        return True

    def to(self, recipient: str) -> Mail:
        return next(m for m in self.rows.values() if m.recipient == recipient)


def edition() -> EditionInfo:
    return EditionInfo(
        slug=EDITION, title=TITLE, venue={"name": "Stadskantoor", "address": "Stadsplateau 1", "city": "Utrecht"},
        registration_deadline=datetime(2027, 9, 24, 10, tzinfo=UTC),
        sessions=[
            SessionInfo(2, "Lokale agenda", datetime(2027, 11, 4, 12, tzinfo=UTC),
                        datetime(2027, 11, 4, 16, tzinfo=UTC)),
            SessionInfo(1, "Positionering van het wijkgerichte werken in de eigen gemeente",
                        datetime(2027, 10, 12, 11, tzinfo=UTC), datetime(2027, 10, 12, 15, tzinfo=UTC)),
        ],
        scheduled_at=NOW - timedelta(days=30),
    )


def trio_registered(*, waived: bool = True, languages: tuple[str, str, str] = ("nl", "nl", "nl"),
                    case_title: str = CASE, edition_slug: str = EDITION, event_id: str | None = None) -> Event[Any]:
    names = ("Anna de Vries", "Bram Jansen", "Chantal Bakker")
    data = TrioRegistered(
        registration_id="reg-1", edition=edition_slug, registered_at=NOW,
        municipality={"code": "GM0203", "name": "Barneveld", "province": "Gelderland", "inhabitants": 63927,
                      "size_class": "middelgroot" if waived else "groot", "m50_member": True},
        members=[
            {"member_id": f"m{i}", "name": name, "email": f"{name.split()[0].lower()}@Barneveld.nl",
             "role": "wijkambtenaar" if i == 0 else "sectorambtenaar", "domain": ("sociaal", "fysiek", "bestuur")[i],
             "language": languages[i]}
            for i, name in enumerate(names)
        ],
        case={"title": case_title, "neighbourhood": "Kanaleneiland", "summary": "Bewoners willen vergroenen.",
              "domains": ["fysiek", "sociaal"]},
        fee={"amount_cents": 0, "waived": True, "reason": "middelgroot"} if waived
        else {"amount_cents": 20000, "waived": False},
        priority=waived, preferred_domain_mix=True,
        consent={"privacy": True, "publish_municipality_name": False}, channel="web",
    )
    return Event[TrioRegistered](
        event_id=event_id or str(uuid.uuid4()), type="TrioRegistered", version=1, occurred_at=NOW,
        producer="registration", correlation_id="corr-1", causation_id="cmd-1", data=data,
    )


async def acknowledge(event: Event[Any], *editions: EditionInfo, mails: FakeMails | None = None) -> FakeMails:
    mails = mails if mails is not None else FakeMails()
    await handlers.acknowledge_registration(event, editions=FakeEditions(*editions), mails=mails, now=NOW)
    return mails


async def test_acknowledgement_goes_to_each_of_the_three_members_once() -> None:
    event = trio_registered()
    mails = await acknowledge(event, edition())

    assert sorted(m.recipient for m in mails.rows.values()) == [
        "anna@barneveld.nl", "bram@barneveld.nl", "chantal@barneveld.nl"]
    for mail in mails.rows.values():
        assert mail.kind == ACKNOWLEDGEMENT
        assert mail.status == PENDING and mail.attempts == 0
        assert mail.next_attempt_at == NOW and mail.created_at == NOW
        assert mail.caused_by == event.event_id
        assert mail.correlation_id == "corr-1"
        assert mail.registration_id == "reg-1"
    assert len({m.notification_id for m in mails.rows.values()}) == 3


async def test_acknowledgement_names_edition_and_case_title_in_dutch() -> None:
    mails = await acknowledge(trio_registered(), edition())
    mail = mails.to("anna@barneveld.nl")

    assert mail.language == "nl"
    assert mail.subject == f"Aanmelding ontvangen: {TITLE} ({EDITION})"
    assert "Beste Anna de Vries," in mail.text
    assert f"{TITLE} (editie {EDITION})" in mail.text
    assert CASE in mail.text
    assert "Hoe gaat het verder?" in mail.text


async def test_acknowledgement_names_the_other_two_members_but_not_the_recipient_as_partner() -> None:
    mails = await acknowledge(trio_registered(), edition())

    assert "samen met Bram Jansen en Chantal Bakker" in mails.to("anna@barneveld.nl").text
    assert "samen met Anna de Vries en Chantal Bakker" in mails.to("bram@barneveld.nl").text
    assert "samen met Anna de Vries en Bram Jansen" in mails.to("chantal@barneveld.nl").text


async def test_acknowledgement_explains_approval_and_allocation_at_the_deadline() -> None:
    mail = (await acknowledge(trio_registered(), edition())).to("anna@barneveld.nl")

    assert "bestuurder of leidinggevende" in mail.text
    # 10:00 UTC on 24 September is 12:00 in Amsterdam (summer time).
    assert "Op vrijdag 24 september 2027 om 12.00 uur verdelen we de plaatsen" in mail.text
    assert "1. dinsdag 12 oktober 2027, 13.00-17.00 uur: Positionering" in mail.text
    assert mail.text.index("1. dinsdag 12 oktober") < mail.text.index("2. donderdag 4 november")
    assert "(Stadskantoor, Utrecht)" in mail.text


async def test_acknowledgement_is_in_english_for_a_member_who_chose_english() -> None:
    mails = await acknowledge(trio_registered(languages=("nl", "en", "nl")), edition())
    english = mails.to("bram@barneveld.nl")

    assert english.language == "en"
    assert english.subject == f"Registration received: {TITLE} ({EDITION})"
    assert "Dear Bram Jansen," in english.text
    assert "together with Anna de Vries and Chantal Bakker" in english.text
    assert "On Friday 24 September 2027 at 12:00 we allocate the places" in english.text
    assert "free of charge, medium-sized municipality" in english.text
    assert mails.to("anna@barneveld.nl").language == "nl"


async def test_fee_is_free_for_a_medium_sized_municipality() -> None:
    mail = (await acknowledge(trio_registered(waived=True), edition())).to("anna@barneveld.nl")

    assert "Deelnamekosten voor jullie trio: kosteloos, middelgrote gemeente" in mail.text
    assert "Jullie gemeente heeft die voorrang." in mail.text


async def test_fee_is_200_euro_otherwise() -> None:
    mail = (await acknowledge(trio_registered(waived=False), edition())).to("anna@barneveld.nl")

    assert "Deelnamekosten voor jullie trio: 200 euro" in mail.text
    assert "Jullie gemeente heeft die voorrang." not in mail.text


def test_fee_text_writes_cents_the_local_way() -> None:
    assert fee_text(Fee(amount_cents=12550, waived=False), "nl") == "125,50 euro"
    assert fee_text(Fee(amount_cents=12550, waived=False), "en") == "125.50 euro"
    assert fee_text(Fee(amount_cents=0, waived=True, reason=None), "nl") == "kosteloos"


async def test_unknown_edition_is_named_by_its_slug() -> None:
    mails = await acknowledge(trio_registered(edition_slug="2028-voorjaar"))
    mail = mails.to("anna@barneveld.nl")

    assert len(mails.rows) == 3
    assert "2028-voorjaar" in mail.subject
    assert "de werkplaatsen, editie 2028-voorjaar" in mail.text
    assert "Bij de sluiting van de aanmelding verdelen we de plaatsen" in mail.text
    assert CASE in mail.text


async def test_replayed_event_queues_no_extra_mails() -> None:
    event = trio_registered()
    mails = await acknowledge(event, edition())
    first = copy.deepcopy(mails.rows)

    await acknowledge(event, edition(), mails=mails)

    assert mails.rows == first


async def test_the_same_event_always_yields_the_same_notification_ids() -> None:
    event = trio_registered()
    once = await acknowledge(event, edition())
    again = await acknowledge(event, edition())

    assert {m.notification_id for m in once.rows.values()} == {m.notification_id for m in again.rows.values()}


async def test_html_escapes_what_participants_typed_and_plain_text_does_not() -> None:
    mail = (await acknowledge(trio_registered(case_title="Wonen & zorg <script>x</script>"), edition())
            ).to("anna@barneveld.nl")

    assert mail.html is not None
    assert "<script>" not in mail.html
    assert "Wonen &amp; zorg &lt;script&gt;" in mail.html
    assert "Wonen & zorg <script>x</script>" in mail.text
    assert 'lang="nl"' in mail.html


async def test_remember_edition_keeps_the_newest_update() -> None:
    editions = FakeEditions()
    newer = scheduled(title="Nieuwe titel", occurred_at=NOW)
    older = scheduled(title="Oude titel", occurred_at=NOW - timedelta(minutes=5))

    await handlers.remember_edition(newer, editions=editions)
    await handlers.remember_edition(older, editions=editions)

    kept = await editions.get(EDITION)
    assert kept is not None and kept.title == "Nieuwe titel"
    assert [s.number for s in kept.sessions] == [1]
    assert kept.venue["city"] == "Utrecht"


def scheduled(*, title: str, occurred_at: datetime) -> Event[Any]:
    starts = datetime(2027, 10, 12, 11, tzinfo=UTC)
    data = EditionScheduled(
        edition=EDITION, title=title, venue={"name": "Stadskantoor", "address": "Stadsplateau 1", "city": "Utrecht"},
        capacity={"min_trios": 6, "max_trios": 8}, registration_deadline=NOW + timedelta(days=20),
        registration_closes_at=NOW + timedelta(days=20), fee={"amount_cents": 20000},
        priority_size_classes=["middelgroot"], table_size=3,
        sessions=[{"number": 1, "title": "Positionering", "outcome": "Inzicht", "starts_at": starts,
                   "ends_at": starts + timedelta(hours=4)}],
    )
    return Event[EditionScheduled](
        event_id=str(uuid.uuid4()), type="EditionScheduled", version=1, occurred_at=occurred_at,
        producer="scheduling", correlation_id="c", causation_id="c", data=data,
    )


def pending_mail(attempts: int = 0) -> Mail:
    return Mail(notification_id=str(uuid.uuid4()), kind=ACKNOWLEDGEMENT, caused_by="e", correlation_id="c",
                registration_id="r", recipient="anna@barneveld.nl", language="nl", subject="Onderwerp",
                text="Tekst", html="<p>Tekst</p>", created_at=NOW, next_attempt_at=NOW, attempts=attempts)


def test_a_failed_attempt_is_retried_later_and_later() -> None:
    first = after_attempt(pending_mail(0), "451 try later", NOW)
    second = after_attempt(pending_mail(1), "451 try later", NOW)

    assert (first.status, first.attempts, first.next_attempt_at) == (PENDING, 1, NOW + timedelta(seconds=5))
    assert (second.status, second.attempts, second.next_attempt_at) == (PENDING, 2, NOW + timedelta(seconds=30))
    assert first.last_error == "451 try later"


def test_a_mail_is_given_up_after_the_last_attempt() -> None:
    outcome = after_attempt(pending_mail(MAX_ATTEMPTS - 1), "451 try later", NOW)

    assert (outcome.status, outcome.attempts) == (FAILED, MAX_ATTEMPTS)


def test_a_successful_attempt_marks_the_mail_sent() -> None:
    outcome = after_attempt(pending_mail(2), None, NOW)

    assert (outcome.status, outcome.attempts, outcome.sent_at, outcome.last_error) == (SENT, 3, NOW, None)


def test_composed_message_has_a_message_id_derived_from_the_notification() -> None:
    mail = pending_mail()
    message = compose(mail, "Werkplaatsen <werkplaatsen@platform31.nl>")

    assert message["Message-ID"] == f"<{mail.notification_id}@platform31.nl>"
    assert message["To"] == "anna@barneveld.nl"
    assert message["From"] == "Werkplaatsen <werkplaatsen@platform31.nl>"
    assert message.get_body(("plain",)).get_content().strip() == "Tekst"
    assert message.get_body(("html",)).get_content().strip() == "<p>Tekst</p>"
    # A retry sends byte for byte the same message (boundary included).
    assert compose(mail, "wp@platform31.nl").as_bytes() == compose(mail, "wp@platform31.nl").as_bytes()


async def test_queueing_mails_logs_no_names_or_addresses() -> None:
    with structlog.testing.capture_logs() as logs:
        await acknowledge(trio_registered(), edition())

    assert [entry["event"] for entry in logs] == ["mail_queued"] * 3
    assert all(set(entry) == {"event", "log_level", "notification_id", "kind"} for entry in logs)
