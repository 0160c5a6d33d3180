"""Notifications handlers and rules, driven with in-memory fakes."""

from __future__ import annotations

import copy
import inspect
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog.testing
from icalendar import Calendar

from services.notifications import handlers
from services.notifications.delivery import NoCopies, compose
from services.notifications.domain import (
    ACKNOWLEDGEMENT,
    APPROVAL_REQUEST,
    ERASED,
    FAILED,
    KINDS,
    MAX_ATTEMPTS,
    MEMBER_KINDS,
    PENDING,
    REMINDER,
    SENT,
    SUPERSEDED,
    ApprovalCopy,
    EditionInfo,
    Mail,
    RegistrationCopy,
    Reminder,
    SessionInfo,
    after_attempt,
    parse_offsets,
)
from services.notifications.rendering import TEMPLATES
from services.notifications.wording import fee_text
from shared.contract import Event, EventData
from shared.contract.registration import (
    ApprovalRequested,
    Fee,
    MemberReplaced,
    ParticipantDataErased,
    RegistrationApproved,
    RegistrationAttemptRefused,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.reporting import LessonReportPublished
from shared.contract.scheduling import (
    EditionScheduled,
    PlaceReleased,
    RegistrationClosed,
    SeatingPlanned,
    SessionRescheduled,
    TrioPlaced,
    TrioSeated,
    TrioWaitlisted,
)

NOW = datetime(2027, 9, 1, 12, tzinfo=UTC)
EDITION = "2027-najaar"
TITLE = "Werkplaatsen wijkgericht werken"
CASE = "Groene bewonersinitiatieven in Kanaleneiland"
SESSION_1 = datetime(2027, 10, 12, 11, tzinfo=UTC)
ADDRESSES = handlers.Addresses(
    sender_name="Werkplaatsen wijkgericht werken",
    sender_email="werkplaatsen@platform31.nl",
    organizer_email="Organisatie@Platform31.nl",
    status_url=lambda registration_id: f"https://werkplaatsen.example/registrations/{registration_id}?token=t",
)
OFFSETS = parse_offsets("7d,1d")


class FakeEditions:
    def __init__(self, *editions: EditionInfo) -> None:
        self.rows = {e.slug: copy.deepcopy(e) for e in editions}

    async def get(self, slug: str, *, for_update: bool = False) -> EditionInfo | None:
        return copy.deepcopy(self.rows.get(slug))

    async def save(self, edition: EditionInfo) -> None:
        self.rows[edition.slug] = copy.deepcopy(edition)


class FakeMails:
    """Keeps mails unique on notification_id, like the database's primary key."""

    def __init__(self) -> None:
        self.rows: dict[str, Mail] = {}

    async def add(self, mails: Sequence[Mail]) -> set[str]:
        added = set()
        for mail in mails:
            if mail.notification_id not in self.rows:
                self.rows[mail.notification_id] = copy.deepcopy(mail)
                added.add(mail.notification_id)
        return added

    async def erase(self, registration_id: str) -> list[str]:
        erased = [m for m in self.rows.values() if m.registration_id == registration_id]
        for mail in erased:
            mail.status = ERASED if mail.status == PENDING else mail.status
            mail.recipient, mail.subject, mail.text, mail.html, mail.calendar = "", "", "", None, None
        return [m.notification_id for m in erased]

    async def erase_recipient(self, registration_id: str, recipient: str) -> list[str]:
        erased = [m for m in self.rows.values() if m.registration_id == registration_id and m.recipient == recipient]
        for mail in erased:
            mail.status = ERASED if mail.status == PENDING else mail.status
            mail.recipient, mail.subject, mail.text, mail.html, mail.calendar = "", "", "", None, None
        return [m.notification_id for m in erased]

    async def supersede(self, registration_id: str, kind: str) -> int:
        stale = [
            m
            for m in self.rows.values()
            if m.registration_id == registration_id and m.kind == kind and m.status == PENDING
        ]
        for mail in stale:
            mail.status = SUPERSEDED
        return len(stale)

    def send_all(self) -> None:
        """What the sender does: every pending mail leaves."""
        for mail in self.rows.values():
            mail.status = SENT if mail.status == PENDING else mail.status

    def to(self, recipient: str, kind: str | None = None) -> Mail:
        (found,) = self.all(recipient, kind)
        return found

    def all(self, recipient: str | None = None, kind: str | None = None) -> list[Mail]:
        return [
            m
            for m in self.rows.values()
            if (recipient is None or m.recipient == recipient) and (kind is None or m.kind == kind)
        ]


class FakeRegistrations:
    def __init__(self) -> None:
        self.rows: dict[str, RegistrationCopy] = {}

    async def get(self, registration_id: str) -> RegistrationCopy | None:
        return copy.deepcopy(self.rows.get(registration_id))

    async def merge_details(self, details: TrioRegistered) -> RegistrationCopy:
        row = self.rows.setdefault(details.registration_id, RegistrationCopy(details.registration_id))
        if not row.erased:
            row.details = copy.deepcopy(details)
        return copy.deepcopy(row)

    async def merge_approval(self, registration_id: str, approval: ApprovalCopy) -> RegistrationCopy:
        row = self.rows.setdefault(registration_id, RegistrationCopy(registration_id))
        if not row.erased:
            row.approval = copy.deepcopy(approval)
        return copy.deepcopy(row)

    async def save(self, registration: RegistrationCopy) -> None:
        self.rows[registration.registration_id] = copy.deepcopy(registration)

    async def placed_in(self, edition: str) -> list[RegistrationCopy]:
        return [
            copy.deepcopy(r)
            for r in self.rows.values()
            if r.edition == edition and r.status == "placed" and r.reachable
        ]


class FakeReminders:
    def __init__(self) -> None:
        self.rows: dict[str, Reminder] = {}

    async def get(self, key: str) -> Reminder | None:
        return copy.deepcopy(self.rows.get(key))

    async def save(self, reminder: Reminder) -> None:
        self.rows[reminder.key] = copy.deepcopy(reminder)

    async def plan(self, reminders: Sequence[Reminder]) -> None:
        for reminder in reminders:
            planned = self.rows.get(reminder.key)
            if planned is None:
                self.rows[reminder.key] = copy.deepcopy(reminder)
            elif planned.seated_at is None or (
                reminder.seated_at is not None and planned.seated_at < reminder.seated_at
            ):
                planned.table, planned.seated_at = reminder.table, reminder.seated_at

    async def of_session(self, edition: str, session_number: int) -> list[Reminder]:
        return [
            copy.deepcopy(r) for r in self.rows.values() if r.edition == edition and r.session_number == session_number
        ]

    async def due(self, now: datetime, limit: int = 100) -> list[Reminder]:
        return [
            copy.deepcopy(r) for r in self.rows.values() if r.queued_at is None and not r.skipped and r.due_at <= now
        ][:limit]


class World:
    """Everything the handlers need, in memory."""

    def __init__(self, *editions: EditionInfo) -> None:
        self.editions = FakeEditions(*editions)
        self.mails = FakeMails()
        self.registrations = FakeRegistrations()
        self.reminders = FakeReminders()
        self.emitted: list[EventData] = []

    @property
    def trio(self) -> dict[str, Any]:
        return {
            "editions": self.editions,
            "registrations": self.registrations,
            "mails": self.mails,
            "emit": self.emitted.append,
        }

    async def register(self, event: Event[Any], now: datetime = NOW) -> None:
        await deliver(handlers.acknowledge_registration, event, **self.trio, addresses=ADDRESSES, now=now)

    async def approval_requested(self, event: Event[Any]) -> None:
        await deliver(
            handlers.request_approval,
            event,
            editions=self.editions,
            registrations=self.registrations,
            mails=self.mails,
            now=NOW,
        )

    async def placed(self, event: Event[Any]) -> None:
        await deliver(handlers.confirm_placement, event, **self.trio, addresses=ADDRESSES, now=NOW)

    async def member_replaced(self, event: Event[Any], now: datetime = NOW) -> None:
        await deliver(
            handlers.welcome_member,
            event,
            editions=self.editions,
            registrations=self.registrations,
            mails=self.mails,
            mail_copies=NoCopies(),
            addresses=ADDRESSES,
            now=now,
        )

    async def seating(self, event: Event[Any], offsets: list[tuple[str, timedelta]] = OFFSETS) -> None:
        await deliver(handlers.plan_reminders, event, editions=self.editions, reminders=self.reminders, offsets=offsets)

    async def seated(self, event: Event[Any], offsets: list[tuple[str, timedelta]] = OFFSETS) -> None:
        await deliver(
            handlers.plan_trio_reminders, event, editions=self.editions, reminders=self.reminders, offsets=offsets
        )

    async def rescheduled(self, event: Event[Any], now: datetime = NOW) -> None:
        await deliver(
            handlers.announce_reschedule, event, **self.trio, reminders=self.reminders, addresses=ADDRESSES, now=now
        )

    async def remind(self, now: datetime) -> int:
        return await handlers.queue_due_reminders(
            reminders=self.reminders,
            registrations=self.registrations,
            editions=self.editions,
            mails=self.mails,
            emit_for=lambda _reminder: self.emitted.append,
            now=now,
        )


def edition() -> EditionInfo:
    return EditionInfo(
        slug=EDITION,
        title=TITLE,
        venue={"name": "Stadskantoor", "address": "Stadsplateau 1", "city": "Utrecht"},
        registration_deadline=datetime(2027, 9, 24, 10, tzinfo=UTC),
        sessions=[
            SessionInfo(
                2,
                "Lokale agenda",
                datetime(2027, 11, 4, 12, tzinfo=UTC),
                datetime(2027, 11, 4, 16, tzinfo=UTC),
                "Prioriteiten bepaald.",
            ),
            SessionInfo(
                1,
                "Positionering van het wijkgerichte werken in de eigen gemeente",
                SESSION_1,
                SESSION_1 + timedelta(hours=4),
                "Een gedeelde stip op de horizon.",
            ),
            SessionInfo(
                3,
                "Wat en wie heb je nodig?",
                datetime(2028, 1, 14, 12, tzinfo=UTC),
                datetime(2028, 1, 14, 16, tzinfo=UTC),
            ),
        ],
        scheduled_at=NOW - timedelta(days=30),
        capacity={"min_trios": 6, "max_trios": 8},
    )


def envelope(
    data: EventData, *, event_id: str | None = None, occurred_at: datetime = NOW, correlation_id: str = "corr-1"
) -> Event[Any]:
    name = data.routing_key.split(".", 1)[1]
    return Event[type(data)](  # type: ignore[misc]
        event_id=event_id or str(uuid.uuid4()),
        type=name,
        version=1,
        occurred_at=occurred_at,
        producer=data.routing_key.split(".", 1)[0],
        correlation_id=correlation_id,
        causation_id="cmd-1",
        data=data,
    )


async def deliver(handler: Callable[..., Awaitable[Any]], event: Event[Any], **dependencies: Any) -> Any:
    """Call a handler as the wiring does: the event's data first; its envelope and time by name, if it asks."""
    wants = inspect.signature(handler).parameters
    given = {"envelope": event, "occurred_at": event.occurred_at}
    return await handler(event.data, **{name: value for name, value in given.items() if name in wants}, **dependencies)


def trio_registered(
    *,
    waived: bool = True,
    languages: tuple[str, str, str] = ("nl", "nl", "nl"),
    case_title: str = CASE,
    edition_slug: str = EDITION,
    event_id: str | None = None,
    registration_id: str = "reg-1",
    domain_mix: bool = True,
    channel: str = "web",
    prefix: str = "",
) -> Event[Any]:
    names = ("Anna de Vries", "Bram Jansen", "Chantal Bakker")
    data = TrioRegistered(
        registration_id=registration_id,
        edition=edition_slug,
        registered_at=NOW,
        municipality={
            "code": "GM0203",
            "name": "Barneveld",
            "province": "Gelderland",
            "inhabitants": 63927,
            "size_class": "middelgroot" if waived else "groot",
            "m50_member": True,
        },
        members=[
            {
                "member_id": f"m{i}",
                "name": name,
                "email": f"{prefix}{name.split()[0].lower()}@Barneveld.nl",
                "role": "wijkambtenaar" if i == 0 else "sectorambtenaar",
                "domain": ("sociaal", "fysiek", "bestuur")[i],
                "language": languages[i],
            }
            for i, name in enumerate(names)
        ],
        case={
            "title": case_title,
            "neighbourhood": "Kanaleneiland",
            "summary": "Bewoners willen hun straat vergroenen; hoe helpen wijkteam en openbare ruimte samen?",
            "domains": ["fysiek", "sociaal"],
        },
        fee={"amount_cents": 0, "waived": True, "reason": "middelgroot"}
        if waived
        else {"amount_cents": 20000, "waived": False},
        priority=waived,
        preferred_domain_mix=domain_mix,
        consent={"privacy": True, "publish_municipality_name": False},
        channel=channel,
        chat_id="room-42" if channel == "chat" else None,
    )
    return envelope(data, event_id=event_id)


def member_replaced(
    position: int = 1,
    *,
    replaced: str | None = None,
    new_id: str = "m-new",
    name: str = "Noor El Amrani",
    email: str = "Noor.ElAmrani@Barneveld.nl",
    language: str = "nl",
    registration_id: str = "reg-1",
    event_id: str | None = None,
) -> Event[Any]:
    """registration.MemberReplaced: by default Bram (m1, position 1) makes way for Noor."""
    return envelope(
        MemberReplaced(
            registration_id=registration_id,
            edition=EDITION,
            replaced_at=NOW,
            position=position,
            replaced_member_id=replaced or f"m{position}",
            member={
                "member_id": new_id,
                "name": name,
                "email": email,
                "role": "sectorambtenaar",
                "domain": "fysiek",
                "language": language,
            },
            preferred_domain_mix=True,
            reason="Bram is van functie gewisseld.",
        ),
        event_id=event_id,
    )


def approval_requested(
    registration_id: str = "reg-1", *, event_id: str | None = None, held: bool = False
) -> Event[Any]:
    return envelope(
        ApprovalRequested(
            registration_id=registration_id,
            approver={"name": "Dirk Visser", "email": "Dirk.Visser@Barneveld.nl"},
            approve_url=f"https://werkplaatsen.example/registrations/{registration_id}/approval?token=abc",
            # 07:14 UTC in September is 09:14 in Amsterdam.
            expires_at=datetime(2027, 9, 16, 7, 14, tzinfo=UTC),
            held=held,
        ),
        event_id=event_id,
        correlation_id="corr-approval",
    )


async def acknowledge(event: Event[Any], *editions: EditionInfo, world: World | None = None) -> FakeMails:
    world = world or World(*editions)
    await world.register(event)
    return world.mails


MEMBERS = ("anna@barneveld.nl", "bram@barneveld.nl", "chantal@barneveld.nl")


# registration.TrioRegistered: the acknowledgement


async def test_acknowledgement_goes_to_each_of_the_three_members_once() -> None:
    event = trio_registered()
    mails = await acknowledge(event, edition())

    assert sorted(m.recipient for m in mails.rows.values()) == list(MEMBERS)
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


async def test_acknowledgement_links_to_the_registration_status_page() -> None:
    mail = (await acknowledge(trio_registered(), edition())).to("anna@barneveld.nl")

    assert (
        "De stand van jullie aanmelding lees je op:\nhttps://werkplaatsen.example/registrations/reg-1?token=t"
        in mail.text
    )
    assert mail.html is not None and 'href="https://werkplaatsen.example/registrations/reg-1?token=t"' in mail.html


async def test_acknowledgement_notes_when_the_trio_does_not_cover_fysiek_and_sociaal() -> None:
    without = (await acknowledge(trio_registered(domain_mix=False), edition())).to("anna@barneveld.nl")
    with_both = (await acknowledge(trio_registered(domain_mix=True), edition())).to("anna@barneveld.nl")

    assert "dekt niet zowel het fysieke als het sociale domein" in without.text
    assert "dekt niet" not in with_both.text


async def test_acknowledgement_is_in_english_for_a_member_who_chose_english() -> None:
    mails = await acknowledge(trio_registered(languages=("nl", "en", "nl")), edition())
    english = mails.to("bram@barneveld.nl")

    assert english.language == "en"
    assert english.subject == f"Registration received: {TITLE} ({EDITION})"
    assert "Dear Bram Jansen," in english.text
    assert "together with Anna de Vries and Chantal Bakker" in english.text
    assert "On Friday 24 September 2027 at 12:00 we allocate the places" in english.text
    assert "free of charge, medium-sized municipality" in english.text
    assert "You can follow the status of your registration at:" in english.text
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
    world = World(edition())
    await world.register(event)
    first = copy.deepcopy(world.mails.rows)

    await world.register(event)

    assert world.mails.rows == first


async def test_the_same_event_always_yields_the_same_notification_ids() -> None:
    event = trio_registered()
    once = await acknowledge(event, edition())
    again = await acknowledge(event, edition())

    assert set(once.rows) == set(again.rows)


async def test_html_escapes_what_participants_typed_and_plain_text_does_not() -> None:
    mail = (await acknowledge(trio_registered(case_title="Wonen & zorg <script>x</script>"), edition())).to(
        "anna@barneveld.nl"
    )

    assert mail.html is not None
    assert "<script>" not in mail.html
    assert "Wonen &amp; zorg &lt;script&gt;" in mail.html
    assert "Wonen & zorg <script>x</script>" in mail.text
    assert 'lang="nl"' in mail.html


async def test_registration_is_kept_as_a_copy_for_later_notifications() -> None:
    world = World(edition())
    await world.register(trio_registered())

    kept = world.registrations.rows["reg-1"]
    assert kept.details is not None and kept.details.case.title == CASE
    assert [m.language for m in kept.details.members] == ["nl", "nl", "nl"]
    assert kept.status == "registered"


# registration.ApprovalRequested: the approver


async def test_approver_gets_fixed_text_with_the_municipality_fee_and_the_link_with_its_expiry_in_dutch() -> None:
    world = World(edition())
    await world.register(trio_registered())
    request = approval_requested()
    await world.approval_requested(request)

    mail = world.mails.to("dirk.visser@barneveld.nl")
    assert (mail.kind, mail.language, mail.registration_id) == (APPROVAL_REQUEST, "nl", "reg-1")
    assert (mail.caused_by, mail.correlation_id) == (request.event_id, "corr-approval")
    assert mail.subject == f"Goedkeuring gevraagd: deelname van Barneveld aan {TITLE}"
    assert "Een trio van de gemeente Barneveld heeft zich aangemeld voor" in mail.text
    assert "Deelnamekosten voor het trio: kosteloos, middelgrote gemeente" in mail.text
    assert "https://werkplaatsen.example/registrations/reg-1/approval?token=abc" in mail.text
    assert "De link is geldig tot donderdag 16 september 2027 om 09.14 uur." in mail.text
    assert (
        mail.html is not None
        and 'href="https://werkplaatsen.example/registrations/reg-1/approval?token=abc"' in mail.html
    )


async def test_approver_mail_carries_no_text_the_registrant_wrote() -> None:
    # Anyone can name any address as the approver: what they wrote must not reach it (an open relay otherwise).
    world = World(edition())
    await world.register(trio_registered())
    await world.approval_requested(approval_requested())

    mail = world.mails.to("dirk.visser@barneveld.nl")
    assert mail.html is not None
    for written in ("Dirk Visser", "Anna de Vries", "Bram Jansen", "Chantal Bakker", CASE, "Kanaleneiland", "wijkteam"):
        assert written not in mail.subject and written not in mail.text and written not in mail.html


async def test_approval_request_that_arrives_before_the_registration_is_mailed_once_it_arrives() -> None:
    world = World(edition())
    request = approval_requested()
    await world.approval_requested(request)
    assert world.mails.rows == {}

    await world.register(trio_registered())

    mail = world.mails.to("dirk.visser@barneveld.nl")
    assert mail.caused_by == request.event_id and mail.correlation_id == "corr-approval"
    assert "De link is geldig tot donderdag 16 september 2027" in mail.text
    assert len(world.mails.all(kind=ACKNOWLEDGEMENT)) == 3


async def test_a_held_approval_request_is_not_mailed_whichever_arrives_first() -> None:
    after = World(edition())
    await after.register(trio_registered())
    await after.approval_requested(approval_requested(held=True))
    before = World(edition())
    await before.approval_requested(approval_requested(held=True))
    await before.register(trio_registered())

    assert after.mails.all(kind=APPROVAL_REQUEST) == before.mails.all(kind=APPROVAL_REQUEST) == []
    assert len(before.mails.all(kind=ACKNOWLEDGEMENT)) == 3


async def test_an_organisers_request_after_a_held_one_is_mailed() -> None:
    world = World(edition())
    await world.register(trio_registered())
    await world.approval_requested(approval_requested(held=True))
    await world.approval_requested(approval_requested(event_id="evt-organiser"))

    (mail,) = world.mails.all(kind=APPROVAL_REQUEST)
    assert mail.caused_by == "evt-organiser"


async def test_replayed_approval_request_mails_the_approver_once() -> None:
    world = World(edition())
    await world.register(trio_registered())
    request = approval_requested()
    await world.approval_requested(request)
    await world.approval_requested(request)

    assert len(world.mails.all(kind=APPROVAL_REQUEST)) == 1


async def test_approver_reads_english_only_when_every_member_chose_english() -> None:
    world = World(edition())
    await world.register(trio_registered(languages=("en", "en", "en")))
    await world.approval_requested(approval_requested())

    mail = world.mails.to("dirk.visser@barneveld.nl")
    assert mail.language == "en"
    assert "The link is valid until Thursday 16 September 2027 at 09:14." in mail.text
    assert "A trio of the municipality of Barneveld has registered for" in mail.text


# registration.RegistrationApproved / Declined / Cancelled and scheduling.PlaceReleased


async def registered_world(**trio: Any) -> World:
    world = World(edition())
    await world.register(trio_registered(**trio))
    return world


async def test_approval_is_announced_to_the_three_members() -> None:
    world = await registered_world(languages=("nl", "nl", "en"))
    await deliver(
        handlers.announce_approval,
        envelope(RegistrationApproved(registration_id="reg-1", edition=EDITION, approved_at=NOW, by_organizer=False)),
        **world.trio,
        now=NOW,
    )

    mails = world.mails.all(kind="approved")
    assert sorted(m.recipient for m in mails) == list(MEMBERS)
    anna = world.mails.to("anna@barneveld.nl", "approved")
    assert anna.subject == f"Deelname goedgekeurd: {TITLE} ({EDITION})"
    assert "jullie bestuurder of leidinggevende heeft de deelname" in anna.text
    assert "Op vrijdag 24 september 2027 om 12.00 uur verdelen we de plaatsen" in anna.text
    assert (
        "Good news: your administrator or manager has approved"
        in world.mails.to("chantal@barneveld.nl", "approved").text
    )
    assert world.registrations.rows["reg-1"].status == "approved"


async def test_decline_is_announced_with_its_reason() -> None:
    world = await registered_world()
    await deliver(
        handlers.announce_decline,
        envelope(
            RegistrationDeclined(
                registration_id="reg-1",
                edition=EDITION,
                declined_at=NOW,
                by_organizer=True,
                reason="De casus is dit najaar nog niet rijp.",
            )
        ),
        **world.trio,
        now=NOW,
    )

    mail = world.mails.to("bram@barneveld.nl", "declined")
    assert "niet goedgekeurd door de organisatie" in mail.text
    assert "Toelichting: De casus is dit najaar nog niet rijp." in mail.text
    assert len(world.mails.all(kind="declined")) == 3


async def test_cancellation_and_the_place_it_releases_make_one_mail_per_member() -> None:
    world = await registered_world()
    await deliver(
        handlers.confirm_cancellation,
        envelope(
            RegistrationCancelled(
                registration_id="reg-1", edition=EDITION, reason="Twee leden zijn van functie gewisseld."
            )
        ),
        **world.trio,
        now=NOW,
    )
    await deliver(
        handlers.confirm_cancellation,
        envelope(PlaceReleased(registration_id="reg-1", edition=EDITION, reason="cancelled")),
        **world.trio,
        now=NOW,
    )

    mails = world.mails.all(kind="cancelled")
    assert sorted(m.recipient for m in mails) == list(MEMBERS)
    assert (
        "Opgegeven reden: Twee leden zijn van functie gewisseld."
        in world.mails.to("anna@barneveld.nl", "cancelled").text
    )
    assert world.registrations.rows["reg-1"].status == "cancelled"


async def test_place_released_before_the_cancellation_still_makes_one_mail_per_member() -> None:
    world = await registered_world()
    await deliver(
        handlers.confirm_cancellation,
        envelope(PlaceReleased(registration_id="reg-1", edition=EDITION, reason="cancelled")),
        **world.trio,
        now=NOW,
    )
    await deliver(
        handlers.confirm_cancellation,
        envelope(RegistrationCancelled(registration_id="reg-1", edition=EDITION)),
        **world.trio,
        now=NOW,
    )

    assert len(world.mails.all(kind="cancelled")) == 3
    assert world.registrations.rows["reg-1"].status == "cancelled"


async def test_an_event_about_a_registration_not_yet_received_is_retried_later() -> None:
    world = World(edition())
    with pytest.raises(handlers.RegistrationNotYetKnown):
        await deliver(
            handlers.announce_approval,
            envelope(
                RegistrationApproved(registration_id="reg-1", edition=EDITION, approved_at=NOW, by_organizer=False)
            ),
            **world.trio,
            now=NOW,
        )


# scheduling.TrioPlaced: confirmation with calendar invitations


def placed(registration_id: str = "reg-1", via: str = "allocation") -> Event[Any]:
    return envelope(TrioPlaced(registration_id=registration_id, edition=EDITION, via=via))


async def test_placed_trio_gets_the_sessions_venue_fee_and_an_invitation_with_one_event_per_session() -> None:
    world = await registered_world()
    await world.placed(placed())

    mail = world.mails.to("anna@barneveld.nl", "placed")
    assert mail.subject == f"Plaats bevestigd: {TITLE} ({EDITION})"
    assert "De bijeenkomsten, in Stadskantoor, Stadsplateau 1, Utrecht:" in mail.text
    assert "1. dinsdag 12 oktober 2027, 13.00-17.00 uur: Positionering" in mail.text
    assert "3. vrijdag 14 januari 2028, 13.00-17.00 uur: Wat en wie heb je nodig?" in mail.text
    assert "Deelnamekosten: kosteloos, middelgrote gemeente." in mail.text
    assert "Jullie ontvangen geen factuur." in mail.text
    assert mail.calendar is not None
    calendar = Calendar.from_ical(mail.calendar)
    assert str(calendar["METHOD"]) == "REQUEST"
    events = list(calendar.walk("VEVENT"))
    assert min(e.decoded("dtstart") for e in events) == SESSION_1
    assert len(events) == 3
    assert world.registrations.rows["reg-1"].status == "placed"


async def test_paying_trio_is_told_how_the_fee_is_invoiced() -> None:
    world = await registered_world(waived=False, languages=("nl", "en", "nl"))
    await world.placed(placed())

    assert "Deelnamekosten: 200 euro." in world.mails.to("anna@barneveld.nl", "placed").text
    assert "factuur naar de gemeente Barneveld" in world.mails.to("anna@barneveld.nl", "placed").text
    english = world.mails.to("bram@barneveld.nl", "placed")
    assert "Fee: 200 euro." in english.text and "sends an invoice to the municipality of Barneveld" in english.text


async def test_placement_from_the_waitlist_says_so() -> None:
    world = await registered_world()
    await world.placed(placed(via="waitlist"))

    assert "jullie stonden als eerste op de wachtlijst" in world.mails.to("anna@barneveld.nl", "placed").text


async def test_placement_of_a_cancelled_trio_sends_nothing() -> None:
    world = await registered_world()
    await deliver(
        handlers.confirm_cancellation,
        envelope(RegistrationCancelled(registration_id="reg-1", edition=EDITION)),
        **world.trio,
        now=NOW,
    )
    await world.placed(placed())

    assert world.mails.all(kind="placed") == []


# scheduling.TrioWaitlisted


async def test_waitlist_position_is_mailed_and_again_only_when_it_changes() -> None:
    world = await registered_world()

    async def waitlisted(position: int, minute: int) -> None:
        await deliver(
            handlers.announce_waitlist,
            envelope(
                TrioWaitlisted(registration_id="reg-1", edition=EDITION, position=position),
                occurred_at=NOW + timedelta(minutes=minute),
            ),
            **world.trio,
            now=NOW,
        )

    await waitlisted(3, 1)
    await waitlisted(3, 2)
    world.mails.send_all()
    await waitlisted(2, 3)

    subjects = sorted(m.subject for m in world.mails.all("anna@barneveld.nl", "waitlisted"))
    assert subjects == [f"Wachtlijst, plaats 2: {TITLE} ({EDITION})", f"Wachtlijst, plaats 3: {TITLE} ({EDITION})"]
    assert "op de wachtlijst, op plaats 2" in next(
        m.text for m in world.mails.all("anna@barneveld.nl", "waitlisted") if "plaats 2" in m.subject
    )


async def test_a_waitlist_position_overtaken_by_a_newer_one_is_not_mailed() -> None:
    world = await registered_world()
    newer = envelope(
        TrioWaitlisted(registration_id="reg-1", edition=EDITION, position=1), occurred_at=NOW + timedelta(minutes=2)
    )
    older = envelope(
        TrioWaitlisted(registration_id="reg-1", edition=EDITION, position=2), occurred_at=NOW + timedelta(minutes=1)
    )
    for event in (newer, older):
        await deliver(handlers.announce_waitlist, event, **world.trio, now=NOW)

    assert {m.subject for m in world.mails.all(kind="waitlisted")} == {f"Wachtlijst, plaats 1: {TITLE} ({EDITION})"}
    assert world.registrations.rows["reg-1"].waitlist_position == 1


async def test_a_waitlist_position_not_yet_mailed_is_superseded_by_the_newer_one() -> None:
    world = await registered_world()
    for position, minute in ((5, 1), (4, 2), (2, 3)):
        await deliver(
            handlers.announce_waitlist,
            envelope(
                TrioWaitlisted(registration_id="reg-1", edition=EDITION, position=position),
                occurred_at=NOW + timedelta(minutes=minute),
            ),
            **world.trio,
            now=NOW,
        )

    statuses = {(m.subject, m.status) for m in world.mails.all("anna@barneveld.nl", "waitlisted")}
    assert statuses == {
        (f"Wachtlijst, plaats 5: {TITLE} ({EDITION})", SUPERSEDED),
        (f"Wachtlijst, plaats 4: {TITLE} ({EDITION})", SUPERSEDED),
        (f"Wachtlijst, plaats 2: {TITLE} ({EDITION})", PENDING),
    }
    assert {m.recipient for m in world.mails.all(kind="waitlisted") if m.status == PENDING} == {
        "anna@barneveld.nl",
        "bram@barneveld.nl",
        "chantal@barneveld.nl",
    }


async def test_placement_supersedes_a_waitlist_position_not_yet_mailed() -> None:
    world = await registered_world()
    await deliver(
        handlers.announce_waitlist,
        envelope(TrioWaitlisted(registration_id="reg-1", edition=EDITION, position=1)),
        **world.trio,
        now=NOW,
    )
    await world.placed(placed(via="waitlist"))

    assert {m.status for m in world.mails.all(kind="waitlisted")} == {SUPERSEDED}
    assert {m.status for m in world.mails.all(kind="placed")} == {PENDING}


# scheduling.RegistrationClosed


async def test_undersubscribed_close_warns_the_organisers_with_the_numbers() -> None:
    world = World(edition())
    closed = envelope(
        RegistrationClosed(edition=EDITION, placed=["a", "b", "c", "d"], waitlisted=[], undersubscribed=True)
    )
    await deliver(
        handlers.warn_undersubscribed, closed, editions=world.editions, mails=world.mails, addresses=ADDRESSES, now=NOW
    )

    mail = world.mails.to("organisatie@platform31.nl")
    assert (mail.kind, mail.language, mail.registration_id, mail.caused_by) == (
        "undersubscribed",
        "nl",
        None,
        closed.event_id,
    )
    assert "Geplaatst: 4 trio('s) (minimum 6, maximum 8)" in mail.text
    assert "Op de wachtlijst: 0" in mail.text
    assert "Eerste bijeenkomst: dinsdag 12 oktober 2027, 13.00-17.00 uur" in mail.text


async def test_a_full_close_warns_nobody() -> None:
    world = World(edition())
    await deliver(
        handlers.warn_undersubscribed,
        envelope(RegistrationClosed(edition=EDITION, placed=["a"] * 8, waitlisted=["b"], undersubscribed=False)),
        editions=world.editions,
        mails=world.mails,
        addresses=ADDRESSES,
        now=NOW,
    )

    assert world.mails.rows == {}


# scheduling.SessionRescheduled


def moved(sequence: int = 1, hours: int = 48) -> Event[Any]:
    return envelope(
        SessionRescheduled(
            edition=EDITION,
            session_number=1,
            starts_at=SESSION_1 + timedelta(hours=hours),
            ends_at=SESSION_1 + timedelta(hours=hours + 4),
            sequence=sequence,
        )
    )


async def test_reschedule_sends_placed_trios_an_update_with_the_same_uid_and_a_higher_sequence() -> None:
    world = await registered_world()
    await world.register(trio_registered(registration_id="reg-2", prefix="w."))  # registered, not placed
    await world.placed(placed())
    original = Calendar.from_ical(world.mails.to("anna@barneveld.nl", "placed").calendar)
    await world.rescheduled(moved())

    mails = world.mails.all(kind="rescheduled")
    assert sorted(m.recipient for m in mails) == list(MEMBERS)
    mail = world.mails.to("anna@barneveld.nl", "rescheduled")
    assert "Nieuw: donderdag 14 oktober 2027, 13.00-17.00 uur" in mail.text
    assert "Was: dinsdag 12 oktober 2027, 13.00-17.00 uur" in mail.text
    (update,) = Calendar.from_ical(mail.calendar).walk("VEVENT")
    (before,) = [e for e in original.walk("VEVENT") if str(e["UID"]) == str(update["UID"])]
    assert int(update["SEQUENCE"]) == 1 > int(before["SEQUENCE"]) == 0
    assert update.decoded("dtstart") == SESSION_1 + timedelta(hours=48)


async def test_a_replayed_or_older_reschedule_changes_nothing() -> None:
    world = await registered_world()
    await world.placed(placed())
    await world.rescheduled(moved(sequence=2, hours=48))
    await world.rescheduled(moved(sequence=1, hours=24))
    await world.rescheduled(moved(sequence=2, hours=48))

    assert len(world.mails.all(kind="rescheduled")) == 3
    kept = world.editions.rows[EDITION].session(1)
    assert kept is not None and kept.sequence == 2 and kept.starts_at == SESSION_1 + timedelta(hours=48)


# scheduling.SeatingPlanned and reminders


def seating(*tables: list[str], session_number: int = 1, occurred_at: datetime = NOW) -> Event[Any]:
    return envelope(
        SeatingPlanned(
            edition=EDITION,
            session_number=session_number,
            tables=[{"table": i + 1, "registration_ids": ids} for i, ids in enumerate(tables)],
        ),
        occurred_at=occurred_at,
    )


def trio_seated(registration_id: str, *tables: tuple[int, int], occurred_at: datetime = NOW) -> Event[Any]:
    """TrioSeated with (session number, table) per session."""
    return envelope(
        TrioSeated(
            edition=EDITION,
            registration_id=registration_id,
            seats=[{"session_number": number, "table": table} for number, table in tables],
        ),
        occurred_at=occurred_at,
    )


def tables_of(world: World, registration_id: str) -> dict[tuple[int, str], int | None]:
    return {
        (r.session_number, r.offset): r.table
        for r in world.reminders.rows.values()
        if r.registration_id == registration_id
    }


async def placed_world() -> World:
    world = await registered_world(languages=("nl", "en", "nl"))
    await world.placed(placed())
    return world


async def test_seating_plans_a_reminder_per_trio_and_offset_before_the_session() -> None:
    world = await placed_world()
    await world.seating(seating(["reg-0", "reg-1"], ["reg-2"]))

    mine = sorted((r.offset, r.due_at, r.table) for r in world.reminders.rows.values() if r.registration_id == "reg-1")
    assert mine == [("1d", SESSION_1 - timedelta(days=1), 1), ("7d", SESSION_1 - timedelta(days=7), 1)]
    assert len(world.reminders.rows) == 6


async def test_a_trio_seated_later_gets_its_reminders_at_its_table_and_the_others_keep_theirs() -> None:
    world = await placed_world()
    await world.seating(seating(["reg-0", "reg-2"]))
    before = copy.deepcopy(world.reminders.rows)

    await world.seated(trio_seated("reg-1", (1, 1), (2, 3), occurred_at=NOW + timedelta(minutes=1)))

    assert tables_of(world, "reg-1") == {(1, "7d"): 1, (1, "1d"): 1, (2, "7d"): 3, (2, "1d"): 3}
    mine = sorted((r.session_number, r.due_at) for r in world.reminders.rows.values() if r.registration_id == "reg-1")
    assert mine[:2] == [(1, SESSION_1 - timedelta(days=7)), (1, SESSION_1 - timedelta(days=1))]
    assert {k: r for k, r in world.reminders.rows.items() if r.registration_id != "reg-1"} == before


async def test_a_trio_seated_again_keeps_its_reminders_due_time_and_state_and_takes_the_new_table() -> None:
    world = await placed_world()
    await world.seated(trio_seated("reg-1", (1, 2)))
    assert await world.remind(SESSION_1 - timedelta(days=7)) == 1

    await world.seated(trio_seated("reg-1", (1, 4), occurred_at=NOW + timedelta(minutes=1)))

    assert tables_of(world, "reg-1") == {(1, "7d"): 4, (1, "1d"): 4}
    assert await world.remind(SESSION_1 - timedelta(days=7)) == 0  # the 7d reminder was sent, not planned anew
    assert await world.remind(SESSION_1 - timedelta(days=1)) == 1
    assert "Jullie trio zit aan tafel 4." in world.mails.all("anna@barneveld.nl", REMINDER)[-1].text


@pytest.mark.parametrize("plan_first", [True, False])
async def test_the_newer_of_a_trios_seats_and_a_whole_plan_gives_its_reminders_their_table(plan_first: bool) -> None:
    world = await placed_world()
    await world.seating(seating(["reg-1"], occurred_at=NOW))
    seat = trio_seated("reg-1", (1, 5), occurred_at=NOW + timedelta(minutes=1))
    newer_plan = seating(["reg-0"], ["reg-1"], occurred_at=NOW + timedelta(minutes=2))

    if plan_first:
        await world.seating(newer_plan)
        await world.seated(seat)  # delivered late
    else:
        await world.seated(seat)
        await world.seating(newer_plan)
    assert tables_of(world, "reg-1") == {(1, "7d"): 2, (1, "1d"): 2}

    await world.seated(trio_seated("reg-1", (1, 6), occurred_at=NOW + timedelta(minutes=3)))
    assert tables_of(world, "reg-1") == {(1, "7d"): 6, (1, "1d"): 6}


async def test_a_trio_seated_for_a_session_the_edition_does_not_have_plans_only_the_sessions_it_has() -> None:
    world = await placed_world()
    await world.seated(trio_seated("reg-1", (3, 1), (9, 2)))
    assert tables_of(world, "reg-1") == {(3, "7d"): 1, (3, "1d"): 1}


async def test_a_due_reminder_becomes_one_mail_per_member_with_table_venue_and_theme_once() -> None:
    world = await placed_world()
    await world.seating(seating(["reg-0"], ["reg-1"]))

    assert await world.remind(SESSION_1 - timedelta(days=8)) == 0
    assert await world.remind(SESSION_1 - timedelta(days=7)) == 1
    assert await world.remind(SESSION_1 - timedelta(days=7)) == 0

    mail = world.mails.to("anna@barneveld.nl", REMINDER)
    assert mail.subject == "Herinnering: bijeenkomst 1 op dinsdag 12 oktober 2027, 13.00-17.00 uur"
    assert "Jullie trio zit aan tafel 2." in mail.text
    assert "Stadskantoor, Stadsplateau 1, Utrecht" in mail.text
    assert "Positionering van het wijkgerichte werken in de eigen gemeente" in mail.text
    assert "Your trio sits at table 2." in world.mails.to("bram@barneveld.nl", REMINDER).text

    assert await world.remind(SESSION_1 - timedelta(days=1)) == 1
    assert len(world.mails.all("anna@barneveld.nl", REMINDER)) == 2


async def test_of_several_reminders_due_at_once_only_the_latest_is_sent() -> None:
    world = await placed_world()
    await world.seating(seating(["reg-1"]))

    assert await world.remind(SESSION_1 - timedelta(hours=12)) == 1
    assert len(world.mails.all("anna@barneveld.nl", REMINDER)) == 1
    assert await world.remind(SESSION_1 - timedelta(hours=11)) == 0


async def test_no_reminder_after_the_session_started_or_for_a_trio_without_a_place() -> None:
    world = await placed_world()
    await world.register(trio_registered(registration_id="reg-2", prefix="w."))
    await world.seating(seating(["reg-1", "reg-2"]))

    assert await world.remind(SESSION_1 - timedelta(days=7)) == 1
    assert world.mails.all("w.anna@barneveld.nl", REMINDER) == []
    assert await world.remind(SESSION_1 + timedelta(minutes=1)) == 0
    assert len(world.mails.all("anna@barneveld.nl", REMINDER)) == 1


async def test_a_reminder_follows_a_rescheduled_session_and_is_sent_again_for_the_new_date() -> None:
    world = await placed_world()
    await world.seating(seating(["reg-1"]))
    assert await world.remind(SESSION_1 - timedelta(days=1)) == 1  # the 1d reminder for the old date

    await world.rescheduled(moved(hours=24 * 14), now=SESSION_1 - timedelta(days=1))

    new_start = SESSION_1 + timedelta(days=14)
    assert await world.remind(new_start - timedelta(days=8)) == 0
    assert await world.remind(new_start - timedelta(days=7)) == 1
    assert await world.remind(new_start - timedelta(days=1)) == 1
    reminders = world.mails.all("anna@barneveld.nl", REMINDER)
    assert len(reminders) == 3
    assert sum("dinsdag 26 oktober 2027" in m.subject for m in reminders) == 2


# reporting.LessonReportPublished


async def test_lesson_report_link_goes_to_the_members_of_placed_trios_only() -> None:
    world = await placed_world()
    await world.register(trio_registered(registration_id="reg-2", prefix="w."))
    await deliver(
        handlers.announce_report,
        envelope(
            LessonReportPublished(
                edition=EDITION,
                session_number=1,
                title="Positionering",
                url="https://werkplaatsen.example/reports/2027-najaar/1",
            )
        ),
        **world.trio,
        now=NOW,
    )

    mails = world.mails.all(kind="lesson_report")
    assert sorted(m.recipient for m in mails) == list(MEMBERS)
    assert "https://werkplaatsen.example/reports/2027-najaar/1" in mails[0].text
    assert world.mails.to("anna@barneveld.nl", "lesson_report").subject == "Verslag online: Positionering"


# Chat


async def test_a_chat_registration_also_gets_one_chat_message_per_notification() -> None:
    world = await registered_world(channel="chat")
    await world.placed(placed())
    await deliver(
        handlers.confirm_cancellation,
        envelope(RegistrationCancelled(registration_id="reg-1", edition=EDITION)),
        **world.trio,
        now=NOW,
    )
    await deliver(
        handlers.confirm_cancellation,
        envelope(PlaceReleased(registration_id="reg-1", edition=EDITION)),
        **world.trio,
        now=NOW,
    )

    assert [type(e).__name__ for e in world.emitted] == ["ChatMessageRequested"] * 3
    assert {e.chat_id for e in world.emitted} == {"room-42"}  # type: ignore[attr-defined]
    texts = [e.text for e in world.emitted]  # type: ignore[attr-defined]
    assert "ontvangen" in texts[0] and "https://werkplaatsen.example/registrations/reg-1" in texts[0]
    assert texts[1].startswith("Jullie trio heeft een plaats")
    assert texts[2].startswith("Jullie afmelding")
    assert len(world.mails.all(kind="placed")) == 3  # in addition to the mails


async def test_a_web_registration_gets_no_chat_message() -> None:
    world = await registered_world(channel="web")
    await world.placed(placed())

    assert world.emitted == []


# registration.ParticipantDataErased


async def test_erasure_blanks_the_registrations_mails_and_copy_and_stops_later_mails() -> None:
    world = await registered_world()
    await world.approval_requested(approval_requested())
    await deliver(
        handlers.erase_participant_data,
        envelope(ParticipantDataErased(registration_id="reg-1")),
        registrations=world.registrations,
        mails=world.mails,
        mail_copies=NoCopies(),
    )

    assert all(m.recipient == "" and m.text == "" and m.html is None for m in world.mails.rows.values())
    assert {m.status for m in world.mails.rows.values()} == {ERASED}
    kept = world.registrations.rows["reg-1"]
    assert kept.erased and kept.details is None and kept.approval is None

    await world.placed(placed())
    await world.register(trio_registered())
    assert len(world.mails.rows) == 4


# Templates, rules, logs


def context_free_render_check(kind: str) -> None:
    for language in ("nl", "en"):
        for suffix in ("subject.txt", "txt", "html"):
            assert (TEMPLATES / f"{kind}.{language}.{suffix}").exists(), f"{kind}.{language}.{suffix}"
        if kind in MEMBER_KINDS:
            assert (TEMPLATES / f"{kind}.{language}.chat.txt").exists()


async def test_every_template_renders_in_both_languages() -> None:
    """Drives every kind of notification for an all-Dutch and an all-English trio and looks at each text."""
    for kind in KINDS:
        context_free_render_check(kind)
    seen: set[tuple[str, str]] = set()
    for languages in (("nl",) * 3, ("en",) * 3):
        world = World(edition())
        await everything(world, languages)
        for mail in world.mails.rows.values():
            if not mail.recipient:
                continue  # the replaced member's mails: blanked
            seen.add((mail.kind, mail.language))
            assert mail.subject and "{{" not in mail.subject and "\n" not in mail.subject
            assert mail.text.strip() and "{{" not in mail.text and "{%" not in mail.text
            assert mail.html and f'lang="{mail.language}"' in mail.html and "{{" not in mail.html
        assert all(e.text and "{{" not in e.text for e in world.emitted)  # type: ignore[attr-defined]
        assert len(world.emitted) == len(MEMBER_KINDS) + 1  # the second trio's acknowledgement too
    assert seen == {(k, lang) for k in KINDS for lang in ("nl", "en")} - {("undersubscribed", "en")}
    english = render_organiser_mail("en")
    assert english.startswith("To the organisers,")


def render_organiser_mail(language: str) -> str:
    from services.notifications.rendering import render_mail

    return render_mail(
        "undersubscribed",
        language,
        {
            "edition_slug": EDITION,
            "edition_title": TITLE,
            "placed": 3,
            "waitlisted": 0,
            "min_trios": 6,
            "max_trios": 8,
            "first_session": "dinsdag 12 oktober 2027",
        },
    ).text


async def everything(world: World, languages: tuple[str, str, str]) -> None:
    trio = dict(languages=languages, channel="chat", waived=False, domain_mix=False)
    await world.register(trio_registered(**trio))
    await world.approval_requested(approval_requested())
    await deliver(
        handlers.announce_approval,
        envelope(RegistrationApproved(registration_id="reg-1", edition=EDITION, approved_at=NOW, by_organizer=True)),
        **world.trio,
        now=NOW,
    )
    await deliver(
        handlers.announce_waitlist,
        envelope(TrioWaitlisted(registration_id="reg-1", edition=EDITION, position=1)),
        **world.trio,
        now=NOW,
    )
    await world.placed(placed(via="waitlist"))
    await world.member_replaced(member_replaced(language=languages[1]))
    await world.seating(seating(["reg-1"]))
    await world.remind(SESSION_1 - timedelta(days=7))
    await world.rescheduled(moved())
    await deliver(
        handlers.announce_report,
        envelope(
            LessonReportPublished(
                edition=EDITION, session_number=None, title="Verslag", url="https://werkplaatsen.example/r"
            )
        ),
        **world.trio,
        now=NOW,
    )
    await deliver(
        handlers.warn_undersubscribed,
        envelope(RegistrationClosed(edition=EDITION, placed=["reg-1"], waitlisted=[], undersubscribed=True)),
        editions=world.editions,
        mails=world.mails,
        addresses=ADDRESSES,
        now=NOW,
    )
    await world.register(trio_registered(registration_id="reg-2", prefix="d.", **trio))
    await deliver(
        handlers.announce_decline,
        envelope(
            RegistrationDeclined(
                registration_id="reg-2", edition=EDITION, declined_at=NOW, by_organizer=False, reason="Geen tijd."
            )
        ),
        **world.trio,
        now=NOW,
    )
    await deliver(
        handlers.confirm_cancellation,
        envelope(RegistrationCancelled(registration_id="reg-1", edition=EDITION, reason="Ziekte")),
        **world.trio,
        now=NOW,
    )
    await deliver(
        handlers.tell_of_registration_attempt,
        envelope(
            RegistrationAttemptRefused(
                edition=EDITION,
                attempted_at=NOW,
                municipality="Barneveld",
                already_registered=[{"email": "anna@barneveld.nl", "language": languages[0]}],
            )
        ),
        editions=world.editions,
        mails=world.mails,
        now=NOW,
    )


def test_reminder_offsets_are_durations_in_days_hours_minutes_or_seconds() -> None:
    assert parse_offsets("7d,1d") == [("7d", timedelta(days=7)), ("1d", timedelta(days=1))]
    assert parse_offsets(" 30s, 2h ,1d") == [
        ("1d", timedelta(days=1)),
        ("2h", timedelta(hours=2)),
        ("30s", timedelta(seconds=30)),
    ]
    with pytest.raises(ValueError, match="7 days"):
        parse_offsets("7 days")


def test_a_wrong_reminder_offset_stops_the_service_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.notifications.config import load_config
    from shared.settings import SettingsError

    monkeypatch.setenv("NOTIFICATIONS_REMINDER_OFFSETS", "a week")
    with pytest.raises(SettingsError, match="NOTIFICATIONS_REMINDER_OFFSETS"):
        load_config()


async def test_remember_edition_keeps_the_newest_update_and_the_invitation_sequences() -> None:
    editions = FakeEditions()
    newer = scheduled(title="Nieuwe titel", occurred_at=NOW)
    older = scheduled(title="Oude titel", occurred_at=NOW - timedelta(minutes=5))

    await deliver(handlers.remember_edition, newer, editions=editions)
    await deliver(handlers.remember_edition, older, editions=editions)

    kept = await editions.get(EDITION)
    assert kept is not None and kept.title == "Nieuwe titel"
    assert [s.number for s in kept.sessions] == [1]
    assert kept.venue["city"] == "Utrecht"
    assert kept.capacity == {"min_trios": 6, "max_trios": 8}
    assert kept.sessions[0].outcome == "Inzicht"


def scheduled(*, title: str, occurred_at: datetime) -> Event[Any]:
    data = EditionScheduled(
        edition=EDITION,
        title=title,
        venue={"name": "Stadskantoor", "address": "Stadsplateau 1", "city": "Utrecht"},
        capacity={"min_trios": 6, "max_trios": 8},
        registration_deadline=NOW + timedelta(days=20),
        registration_closes_at=NOW + timedelta(days=20),
        fee={"amount_cents": 20000},
        priority_size_classes=["middelgroot"],
        table_size=3,
        sessions=[
            {
                "number": 1,
                "title": "Positionering",
                "outcome": "Inzicht",
                "starts_at": SESSION_1,
                "ends_at": SESSION_1 + timedelta(hours=4),
            }
        ],
    )
    return envelope(data, occurred_at=occurred_at)


def pending_mail(attempts: int = 0, calendar: str | None = None) -> Mail:
    return Mail(
        notification_id=str(uuid.uuid4()),
        kind=ACKNOWLEDGEMENT,
        caused_by="e",
        correlation_id="c",
        registration_id="r",
        recipient="anna@barneveld.nl",
        language="nl",
        subject="Onderwerp",
        text="Tekst",
        html="<p>Tekst</p>",
        created_at=NOW,
        next_attempt_at=NOW,
        attempts=attempts,
        calendar=calendar,
    )


def test_a_failed_attempt_is_retried_later_and_later() -> None:
    first = after_attempt(pending_mail(0), "451 try later", NOW)
    second = after_attempt(pending_mail(1), "451 try later", NOW)

    assert (first.status, first.attempts, first.next_attempt_at) == (PENDING, 1, NOW + timedelta(seconds=5))
    assert (second.status, second.attempts, second.next_attempt_at) == (PENDING, 2, NOW + timedelta(seconds=30))
    assert first.last_error == "451 try later"


def test_a_mail_is_given_up_after_the_last_attempt() -> None:
    outcome = after_attempt(pending_mail(MAX_ATTEMPTS - 1), "451 try later", NOW)

    assert (outcome.status, outcome.attempts) == (FAILED, MAX_ATTEMPTS)


def test_a_permanent_refusal_fails_the_mail_at_once() -> None:
    outcome = after_attempt(pending_mail(0), "550 no such user", NOW, permanent=True)

    assert (outcome.status, outcome.attempts) == (FAILED, 1)


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


def test_composed_message_carries_the_invitation_as_a_text_calendar_request() -> None:
    mail = pending_mail(calendar="BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n")
    message = compose(mail, "wp@platform31.nl")

    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST"
    assert attachment.get_filename() == "werkplaatsen.ics"
    assert "METHOD:REQUEST" in attachment.get_content()
    assert message.get_body(("plain",)).get_content().strip() == "Tekst"
    assert compose(mail, "wp@platform31.nl").as_bytes() == compose(mail, "wp@platform31.nl").as_bytes()


async def test_queueing_mails_logs_no_names_or_addresses() -> None:
    with structlog.testing.capture_logs() as logs:
        world = World(edition())
        await everything(world, ("nl", "nl", "en"))

    assert logs and {entry["event"] for entry in logs} <= {
        "mail_queued",
        "member_replaced",
        "participant_data_erased",
        "waitlist_mails_superseded",
    }
    text = repr(logs).lower()
    assert "barneveld" not in text and "anna" not in text and "@" not in text
