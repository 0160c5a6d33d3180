"""Registration handlers, driven with in-memory fakes."""

from __future__ import annotations

import copy
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.registration import handlers
from services.registration.amendments import TrioDetails
from services.registration.approval_limits import DEFAULT_LIMITS, ApprovalLimits, ApprovalRequestCounts
from services.registration.domain import (
    ACTIVE_STATUSES,
    ERASED,
    Edition,
    Member,
    Municipality,
    MunicipalityRegister,
    Registration,
    RegistrationState,
)
from services.registration.history import HistoryEntry
from services.registration.tokens import ApprovalLinks
from shared.contract.registration import (
    ApprovalRequested,
    ApproveRegistration,
    CancelRegistration,
    DeclineRegistration,
    ParticipantDataErased,
    RegisterTrio,
    RegistrationApproved,
    RegistrationCancelled,
    RegistrationDeclined,
    TrioRegistered,
)
from shared.contract.scheduling import EditionScheduled, PlaceReleased, TrioPlaced, TrioWaitlisted
from shared.messaging.messages import CommandRefused, NotYetKnown
from shared.municipalities import SizeBand

NOW = datetime(2027, 9, 1, 12, tzinfo=UTC)
SECRET = "unit-test-secret"
APPROVALS = ApprovalLinks(SECRET, "https://werkplaatsen.example/", timedelta(days=14))
BAND = SizeBand(40_000, 100_000)
ORGANISER = {"account_id": "acc-organiser-1", "role": "organiser", "via": "console"}
EDITION = "2027-najaar"
MIDSIZE = "GM0203"  # Barneveld: M50 member, 63,927
SMALL = "GM1680"  # Aa en Hunze: 26,057
LARGE = "GM9999"  # made up: 120,000 and not an M50 member

MUNICIPALITIES = MunicipalityRegister(
    [
        Municipality.classified(MIDSIZE, "Barneveld", "Gelderland", 63_927, True, BAND),
        Municipality.classified(SMALL, "Aa en Hunze", "Drenthe", 26_057, False, BAND),
        Municipality.classified(LARGE, "Grootstad", "Utrecht", 120_000, False, BAND),
    ]
)


class FakeEditions:
    def __init__(self, *editions: Edition) -> None:
        self.rows = {e.slug: copy.deepcopy(e) for e in editions}

    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None:
        return copy.deepcopy(self.rows.get(slug))

    async def all(self) -> list[Edition]:
        return [copy.deepcopy(e) for e in self.rows.values()]

    async def save(self, edition: Edition) -> None:
        self.rows[edition.slug] = copy.deepcopy(edition)


class FakeRegistrations:
    """Registrations as recorded at intake (`rows`) and what happened to them since (`states`)."""

    def __init__(self) -> None:
        self.rows: list[Registration] = []
        self.states: dict[str, RegistrationState] = {}

    async def add(self, registration: Registration) -> None:
        r = copy.deepcopy(registration)
        self.rows.append(r)
        self.states[r.registration_id] = RegistrationState(
            r.registration_id, r.edition, r.status, r.approver, approval_expires_at=r.approval_expires_at
        )

    async def active_member_emails(self, edition: str, emails: list[str]) -> set[str]:
        return {
            m.email
            for r in self.rows
            if r.edition == edition and self.states[r.registration_id].status in ACTIVE_STATUSES
            for m in r.members
            if m.email in emails
        }

    async def registrations_of_members(self, edition: str, emails: list[str]) -> dict[str, str]:
        return {
            m.email: r.registration_id
            for r in self.rows
            if r.edition == edition and self.states[r.registration_id].status in ACTIVE_STATUSES
            for m in r.members
            if m.email in emails
        }

    async def get_state(self, registration_id: str, *, for_update: bool = False) -> RegistrationState | None:
        return copy.deepcopy(self.states.get(registration_id))

    async def save_state(self, state: RegistrationState) -> None:
        self.states[state.registration_id] = copy.deepcopy(state)

    async def erase(self, registration_id: str, now: datetime) -> None:
        self.states[registration_id].erased_at = now
        for r in self.rows:
            if r.registration_id == registration_id:
                for m in r.members:
                    m.name = m.email = ERASED

    async def unerased_of_editions(self, editions: list[str]) -> list[str]:
        return [i for i, s in self.states.items() if s.edition in editions and not s.erased]

    async def known(self, registration_ids: list[str]) -> set[str]:
        return set(registration_ids) & set(self.states)

    def row(self, registration_id: str) -> Registration:
        return next(r for r in self.rows if r.registration_id == registration_id)

    async def details(self, registration_id: str) -> TrioDetails:
        r = self.row(registration_id)
        return copy.deepcopy(TrioDetails(members=r.members, case=r.case, invoice=r.invoice, fee=r.fee))

    async def replace_member(self, registration_id: str, position: int, member: Member) -> None:
        self.row(registration_id).members[position] = copy.deepcopy(member)

    async def correct(self, registration_id: str, case: Any, invoice: Any) -> None:
        r = self.row(registration_id)
        r.case = case or r.case
        r.invoice = invoice or r.invoice

    def status(self, registration_id: str) -> str:
        return self.states[registration_id].status


class FakeApprovalRequests:
    """The approval requests made: (registration id, approver address, client, at, held, released)."""

    def __init__(self) -> None:
        self.rows: list[list[Any]] = []

    async def counts(self, approver_email: str, client: str | None, since: datetime) -> ApprovalRequestCounts:
        mailed = [r for r in self.rows if r[3] >= since and not r[4]]
        return ApprovalRequestCounts(
            to_approver=sum(1 for r in mailed if r[1] == approver_email.lower()),
            from_client=sum(1 for r in mailed if client and r[2] == client),
        )

    async def add(
        self, registration_id: str, approver_email: str, client: str | None, at: datetime, *, held: bool
    ) -> None:
        self.rows.append([registration_id, approver_email.lower(), client, at, held, None])

    async def release(self, registration_id: str, at: datetime) -> None:
        for r in self.rows:
            if r[0] == registration_id and r[4] and r[5] is None:
                r[5] = at


class FakeHistory:
    def __init__(self) -> None:
        self.entries: list[HistoryEntry] = []

    async def add(self, *entries: HistoryEntry) -> None:
        self.entries += entries

    async def erase(self, registration_id: str) -> None:
        self.entries = [
            HistoryEntry(e.registration_id, e.at, e.event, e.summary, ERASED if e.reason else None, e.actor)
            if e.registration_id == registration_id
            else e
            for e in self.entries
        ]

    def of(self, registration_id: str) -> list[tuple[str, str | None, str | None]]:
        """(event, reason, actor) of the registration's entries, in order."""
        return [(e.event, e.reason, e.actor) for e in self.entries if e.registration_id == registration_id]


def edition(**changes: Any) -> Edition:
    values: dict[str, Any] = dict(
        slug=EDITION,
        title="Werkplaatsen wijkgericht werken",
        registration_closes_at=NOW + timedelta(days=30),
        fee={"amount_cents": 20000, "waived_for_size_classes": ["middelgroot"]},
        priority_size_classes=["middelgroot"],
        sessions=[],
        scheduled_at=NOW - timedelta(days=60),
    )
    return Edition(**{**values, **changes})


def trio(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "edition": EDITION,
        "municipality": MIDSIZE,
        "members": [
            {
                "name": "Anna de Vries",
                "email": "Anna.de.Vries@barneveld.nl",
                "role": "wijkambtenaar",
                "domain": "sociaal",
                "job_title": "Wijkregisseur",
            },
            {"name": "Bram Jansen", "email": "bram.jansen@barneveld.nl", "role": "sectorambtenaar", "domain": "fysiek"},
            {
                "name": "Chloé Bakker",
                "email": "chloe.bakker@barneveld.nl",
                "role": "sectorambtenaar",
                "domain": "veiligheid",
                "language": "en",
            },
        ],
        "case": {
            "title": "Groene pleinen tegen wateroverlast",
            "neighbourhood": "Centrum",
            "summary": "Pleinen aanpassen met bewoners.",
            "domains": ["fysiek", "sociaal"],
        },
        "approver": {"name": "Dirk Visser", "email": "dirk.visser@barneveld.nl"},
        "consent": {"privacy": True, "publish_municipality_name": True},
    }
    body.update(changes)
    return body


async def register(
    body: dict[str, Any],
    *,
    editions: FakeEditions | None = None,
    registrations: FakeRegistrations | None = None,
    history: FakeHistory | None = None,
    now: datetime = NOW,
    approval_requests: FakeApprovalRequests | None = None,
    limits: ApprovalLimits = DEFAULT_LIMITS,
    headers: dict[str, Any] | None = None,
) -> tuple[dict[str, str], list[Any]]:
    emitted: list[Any] = []
    ids = await handlers.register_trio(
        RegisterTrio.model_validate(body),
        editions=editions or FakeEditions(edition()),
        registrations=registrations if registrations is not None else FakeRegistrations(),
        municipalities=MUNICIPALITIES,
        approvals=APPROVALS,
        emit=emitted.append,
        history=history if history is not None else FakeHistory(),
        now=now,
        approval_requests=approval_requests if approval_requests is not None else FakeApprovalRequests(),
        approval_limits=limits,
        headers=headers or {},
    )
    return ids, emitted


async def refusal(body: dict[str, Any], **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(CommandRefused) as refused:
        await register(body, **kwargs)
    return [(e.field, e.code) for e in refused.value.errors]


def member(index: int, **changes: Any) -> list[dict[str, Any]]:
    members = copy.deepcopy(trio()["members"])
    members[index].update(changes)
    return members


# What a registration records and announces


async def test_trio_registered_carries_municipality_members_case_fee_and_priority() -> None:
    registrations = FakeRegistrations()
    ids, emitted = await register(trio(), registrations=registrations)
    event, _ = emitted
    assert isinstance(event, TrioRegistered)
    assert event.registration_id == ids["registration_id"] == registrations.rows[0].registration_id
    uuid.UUID(event.registration_id)
    assert event.edition == EDITION and event.registered_at == NOW
    assert event.municipality.model_dump() == {
        "code": MIDSIZE,
        "name": "Barneveld",
        "province": "Gelderland",
        "inhabitants": 63_927,
        "size_class": "middelgroot",
        "m50_member": True,
    }
    assert [m.email for m in event.members] == [
        "anna.de.vries@barneveld.nl",
        "bram.jansen@barneveld.nl",
        "chloe.bakker@barneveld.nl",
    ]
    assert [m.language for m in event.members] == ["nl", "nl", "en"]
    assert len({m.member_id for m in event.members}) == 3
    assert all(uuid.UUID(m.member_id) for m in event.members)
    assert event.case.title == "Groene pleinen tegen wateroverlast"
    assert event.priority is True and event.preferred_domain_mix is True
    assert event.consent.publish_municipality_name is True
    assert event.channel == "web" and event.chat_id is None
    assert registrations.status(ids["registration_id"]) == "awaiting_approval"


async def test_fee_is_waived_for_a_middelgroot_municipality() -> None:
    _, (event, _) = await register(trio())
    assert event.fee.model_dump() == {"amount_cents": 0, "currency": "EUR", "waived": True, "reason": "middelgroot"}


async def test_large_municipality_pays_the_fee_and_has_no_priority() -> None:
    invoice = {"address": "Stadhuisplein 1, Grootstad", "reference": "PO-123"}
    _, (event, _) = await register(trio(municipality=LARGE, invoice=invoice))
    assert event.municipality.size_class == "groot"
    assert event.fee.model_dump() == {"amount_cents": 20000, "currency": "EUR", "waived": False, "reason": None}
    assert event.priority is False


async def test_trio_without_both_fysiek_and_sociaal_is_accepted_without_the_preferred_mix() -> None:
    _, (event, _) = await register(trio(members=member(1, domain="economie")))
    assert event.preferred_domain_mix is False


async def test_chat_registration_keeps_its_chat_id() -> None:
    _, (event, _) = await register(trio(channel="chat", chat_id="room-42"))
    assert (event.channel, event.chat_id) == ("chat", "room-42")


# Refusals, one per rule


async def test_an_edition_not_yet_known_is_waited_for_not_refused_and_nothing_is_stored() -> None:
    registrations, history = FakeRegistrations(), FakeHistory()
    with pytest.raises(NotYetKnown) as not_yet:
        await register(trio(edition="2099-voorjaar"), registrations=registrations, history=history)
    # The refusal it becomes once the wait is over (shared.messaging.processing): the stable code, in Dutch.
    assert [(e.field, e.code, e.message) for e in not_yet.value.errors] == [
        ("edition", "unknown_edition", "Deze editie bestaat niet.")
    ]
    assert registrations.rows == [] and history.entries == []


async def test_the_same_registration_goes_through_once_the_edition_has_arrived() -> None:
    editions = FakeEditions()
    with pytest.raises(NotYetKnown):
        await register(trio(), editions=editions)
    await editions.save(edition())
    ids, (event, _) = await register(trio(), editions=editions)
    assert isinstance(event, TrioRegistered) and event.registration_id == ids["registration_id"]


async def test_registration_after_closing_is_refused() -> None:
    closes = NOW - timedelta(seconds=1)
    assert await refusal(trio(), editions=FakeEditions(edition(registration_closes_at=closes))) == [
        ("edition", "registration_closed")
    ]


async def test_registration_at_the_closing_moment_is_refused() -> None:
    assert await refusal(trio(), editions=FakeEditions(edition(registration_closes_at=NOW))) == [
        ("edition", "registration_closed")
    ]


async def test_unknown_municipality_is_refused() -> None:
    assert await refusal(trio(municipality="GM0000")) == [("municipality", "unknown_municipality")]


async def test_registration_without_privacy_consent_is_refused() -> None:
    assert await refusal(trio(consent={"privacy": False})) == [("consent.privacy", "privacy_consent_required")]


async def test_trio_without_a_wijkambtenaar_is_refused() -> None:
    assert await refusal(trio(members=member(0, role="sectorambtenaar"))) == [("members", "no_wijkambtenaar")]


async def test_same_person_twice_is_refused_regardless_of_case() -> None:
    assert await refusal(trio(members=member(2, email="BRAM.Jansen@barneveld.nl"))) == [
        ("members[2].email", "duplicate_member")
    ]


async def test_trio_from_one_domain_is_refused() -> None:
    members = [{**m, "domain": "sociaal"} for m in trio()["members"]]
    assert await refusal(trio(members=members)) == [("members", "single_domain")]


async def test_case_within_one_domain_is_refused() -> None:
    case = {**trio()["case"], "domains": ["fysiek", "fysiek"]}
    assert await refusal(trio(case=case)) == [("case.domains", "case_single_domain")]


async def test_approver_cannot_be_a_member() -> None:
    approver = {"name": "Anna de Vries", "email": "anna.de.vries@BARNEVELD.nl"}
    assert await refusal(trio(approver=approver)) == [("approver.email", "approver_is_member")]


async def test_paying_municipality_must_give_invoice_details() -> None:
    assert await refusal(trio(municipality=SMALL)) == [("invoice", "invoice_required")]


async def test_member_of_another_active_trio_of_the_same_edition_is_refused() -> None:
    editions, registrations = FakeEditions(edition()), FakeRegistrations()
    await register(trio(), editions=editions, registrations=registrations)
    colleagues = [
        {"name": "Eva Smit", "email": "eva.smit@barneveld.nl", "role": "wijkambtenaar", "domain": "fysiek"},
        {"name": "Bram Jansen", "email": "Bram.Jansen@barneveld.nl", "role": "sectorambtenaar", "domain": "sociaal"},
        {"name": "Finn Mulder", "email": "finn.mulder@barneveld.nl", "role": "sectorambtenaar", "domain": "economie"},
    ]
    assert await refusal(trio(members=colleagues), editions=editions, registrations=registrations) == [
        ("members[1].email", "member_already_registered")
    ]


async def test_member_of_a_cancelled_trio_may_register_again() -> None:
    editions, registrations = FakeEditions(edition()), FakeRegistrations()
    await register(trio(), editions=editions, registrations=registrations)
    registrations.states[registrations.rows[0].registration_id].status = "cancelled"
    _, emitted = await register(trio(), editions=editions, registrations=registrations)
    assert isinstance(emitted[0], TrioRegistered)


async def test_member_may_join_trios_of_different_editions() -> None:
    editions = FakeEditions(edition(), edition(slug="2028-voorjaar"))
    registrations = FakeRegistrations()
    await register(trio(), editions=editions, registrations=registrations)
    _, emitted = await register(trio(edition="2028-voorjaar"), editions=editions, registrations=registrations)
    assert isinstance(emitted[0], TrioRegistered)


async def test_every_problem_is_reported_at_once_and_nothing_is_stored() -> None:
    registrations = FakeRegistrations()
    members = [{**m, "role": "sectorambtenaar", "domain": "fysiek"} for m in trio()["members"]]
    members[1]["email"] = members[0]["email"]
    body = trio(
        edition="2099-voorjaar",
        municipality="GM0000",
        consent={"privacy": False},
        members=members,
        case={**trio()["case"], "domains": ["sociaal"]},
        approver={"name": "X", "email": members[2]["email"]},
    )
    assert await refusal(body, registrations=registrations) == [
        ("edition", "unknown_edition"),
        ("municipality", "unknown_municipality"),
        ("consent.privacy", "privacy_consent_required"),
        ("members", "no_wijkambtenaar"),
        ("members", "single_domain"),
        ("members[1].email", "duplicate_member"),
        ("approver.email", "approver_is_member"),
        ("case.domains", "case_single_domain"),
    ]
    assert registrations.rows == []


async def test_refusal_messages_are_dutch_sentences() -> None:
    with pytest.raises(CommandRefused) as refused:
        await register(trio(municipality=SMALL, consent={"privacy": False}))
    messages = [e.message for e in refused.value.errors]
    assert any("factuurgegevens" in m for m in messages) and any("toestemming" in m for m in messages)


# The edition copy


def edition_scheduled(**changes: Any) -> EditionScheduled:
    starts = NOW + timedelta(days=45)
    values: dict[str, Any] = dict(
        edition=EDITION,
        title="Werkplaatsen wijkgericht werken",
        venue={"name": "Werkplaats", "address": "Adres volgt", "city": "Utrecht"},
        capacity={"min_trios": 6, "max_trios": 8},
        registration_deadline=NOW + timedelta(days=20),
        registration_closes_at=starts,
        fee={"amount_cents": 20000, "waived_for_size_classes": ["middelgroot"]},
        priority_size_classes=["middelgroot"],
        table_size=3,
        sessions=[
            {
                "number": 1,
                "title": "Positionering",
                "outcome": "Stip op de horizon",
                "starts_at": starts,
                "ends_at": starts + timedelta(hours=4),
            }
        ],
    )
    return EditionScheduled.model_validate({**values, **changes})


async def test_scheduled_edition_is_remembered_and_opens_registration() -> None:
    editions = FakeEditions()
    await handlers.remember_edition(edition_scheduled(), editions=editions, occurred_at=NOW)
    copy_ = editions.rows[EDITION]
    assert copy_.fee == {"amount_cents": 20000, "waived_for_size_classes": ["middelgroot"]}
    assert copy_.sessions[0]["title"] == "Positionering"
    _, emitted = await register(trio(), editions=editions)
    assert isinstance(emitted[0], TrioRegistered)


async def test_rescheduled_edition_replaces_the_copy() -> None:
    editions = FakeEditions()
    await handlers.remember_edition(edition_scheduled(), editions=editions, occurred_at=NOW)
    await handlers.remember_edition(
        edition_scheduled(title="Nieuwe titel"), editions=editions, occurred_at=NOW + timedelta(minutes=1)
    )
    assert editions.rows[EDITION].title == "Nieuwe titel"


async def test_an_older_announcement_arriving_late_does_not_overwrite_a_newer_one() -> None:
    editions = FakeEditions()
    await handlers.remember_edition(edition_scheduled(title="Nieuw"), editions=editions, occurred_at=NOW)
    await handlers.remember_edition(
        edition_scheduled(title="Oud"), editions=editions, occurred_at=NOW - timedelta(minutes=1)
    )
    assert editions.rows[EDITION].title == "Nieuw"


# Intake rules added with the approval


async def test_registration_asks_the_approver_with_a_signed_link_valid_for_fourteen_days() -> None:
    registrations = FakeRegistrations()
    ids, (_, asked) = await register(trio(), registrations=registrations)
    assert isinstance(asked, ApprovalRequested)
    assert asked.registration_id == ids["registration_id"]
    assert asked.approver.model_dump() == {"name": "Dirk Visser", "email": "dirk.visser@barneveld.nl"}
    assert asked.approve_url.startswith("https://werkplaatsen.example/approve/")
    assert asked.expires_at == NOW + timedelta(days=14)
    assert registrations.states[ids["registration_id"]].approval_expires_at == asked.expires_at
    token = asked.approve_url.rsplit("/", 1)[1]
    assert APPROVALS.check(token, ids["registration_id"]) is False  # genuine and not expired


@pytest.mark.parametrize("field", ["title", "neighbourhood", "summary"])
async def test_case_with_a_blank_text_is_incomplete(field: str) -> None:
    case = {**trio()["case"], field: "   "}
    assert await refusal(trio(case=case)) == [(f"case.{field}", "case_incomplete")]


async def test_blank_invoice_details_count_as_missing_when_a_fee_is_due() -> None:
    invoice = {"address": " ", "reference": ""}
    assert await refusal(trio(municipality=SMALL, invoice=invoice)) == [
        ("invoice.address", "invoice_required"),
        ("invoice.reference", "invoice_required"),
    ]


async def test_an_overlong_edition_name_is_a_schema_error_not_an_unknown_edition() -> None:
    assert await refusal(trio(edition="x" * 65)) == [("edition", "schema")]


# Approval


def old_token(registration_id: str, age: timedelta) -> str:
    """A genuine approval token signed `age` ago."""
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - age.total_seconds())

    return URLSafeTimedSerializer(SECRET, salt="werkplaatsen:approve", signer=Earlier).dumps(registration_id)


class Trio:
    """One registered trio with its fakes, to drive the commands after intake."""

    def __init__(self) -> None:
        self.editions, self.registrations = FakeEditions(edition()), FakeRegistrations()
        self.history = FakeHistory()
        self.approval_requests = FakeApprovalRequests()
        self.emitted: list[Any] = []

    async def register(self, body: dict[str, Any] | None = None) -> str:
        ids, emitted = await register(
            body or trio(),
            editions=self.editions,
            registrations=self.registrations,
            history=self.history,
            approval_requests=self.approval_requests,
        )
        self.token = emitted[1].approve_url.rsplit("/", 1)[1]
        return ids["registration_id"]

    async def decide(self, approve: bool = True, now: datetime = NOW, **fields: Any) -> list[Any]:
        model = ApproveRegistration if approve else DeclineRegistration
        emitted: list[Any] = []
        await handlers.decide(
            model.model_validate(fields),
            registrations=self.registrations,
            approvals=APPROVALS,
            emit=emitted.append,
            history=self.history,
            now=now,
        )
        self.emitted += emitted
        return emitted

    async def refused(self, call: Any) -> list[tuple[str, str]]:
        with pytest.raises(CommandRefused) as refused:
            await call
        return [(e.field, e.code) for e in refused.value.errors]

    async def cancel(self, registration_id: str, reason: str | None = None) -> list[Any]:
        emitted: list[Any] = []
        await handlers.cancel(
            CancelRegistration(registration_id=registration_id, reason=reason),
            registrations=self.registrations,
            emit=emitted.append,
            history=self.history,
            now=NOW,
        )
        return emitted

    async def place(self, event: Any, occurred_at: datetime) -> None:
        await handlers.follow_placement(
            event, registrations=self.registrations, history=self.history, occurred_at=occurred_at
        )

    async def erase(self, registration_id: str, now: datetime = NOW) -> list[Any]:
        emitted: list[Any] = []
        await handlers.erase_participant_data(
            registration_id, registrations=self.registrations, history=self.history, emit=emitted.append, now=now
        )
        return emitted


async def test_approver_approves_with_the_token_from_the_link() -> None:
    t = Trio()
    rid = await t.register()
    (approved,) = await t.decide(registration_id=rid, token=t.token, now=NOW + timedelta(days=2))
    assert isinstance(approved, RegistrationApproved)
    assert approved.model_dump() == {
        "registration_id": rid,
        "edition": EDITION,
        "approved_at": NOW + timedelta(days=2),
        "by_organizer": False,
        "reason": None,
    }
    assert t.registrations.status(rid) == "approved"


async def test_approver_declines_with_a_reason() -> None:
    t = Trio()
    rid = await t.register()
    (declined,) = await t.decide(False, registration_id=rid, token=t.token, reason="Geen budget dit jaar.")
    assert isinstance(declined, RegistrationDeclined)
    assert (declined.reason, declined.by_organizer, declined.declined_at) == ("Geen budget dit jaar.", False, NOW)
    assert t.registrations.status(rid) == "declined"


async def test_second_use_of_an_approval_link_changes_nothing() -> None:
    t = Trio()
    rid = await t.register()
    await t.decide(registration_id=rid, token=t.token)
    assert await t.refused(t.decide(False, registration_id=rid, token=t.token)) == [
        ("registration_id", "already_decided")
    ]
    assert await t.refused(t.decide(registration_id=rid, token=t.token)) == [("registration_id", "already_decided")]
    assert [type(e) for e in t.emitted] == [RegistrationApproved]
    assert t.registrations.status(rid) == "approved"


async def test_a_tampered_token_is_invalid() -> None:
    t = Trio()
    rid = await t.register()
    tampered = t.token[:-2] + ("AA" if not t.token.endswith("AA") else "BB")
    assert await t.refused(t.decide(registration_id=rid, token=tampered)) == [("token", "invalid_token")]
    assert t.registrations.status(rid) == "awaiting_approval"


async def test_a_token_made_for_another_purpose_is_invalid() -> None:
    from shared.links import sign

    t = Trio()
    rid = await t.register()
    status_token = sign(SECRET, "status", rid)
    assert await t.refused(t.decide(registration_id=rid, token=status_token)) == [("token", "invalid_token")]


async def test_the_token_of_one_registration_does_not_decide_another() -> None:
    t = Trio()
    first = await t.register()
    first_token = t.token
    second = await t.register(trio(members=[{**m, "email": "x" + m["email"]} for m in trio()["members"]]))
    assert await t.refused(t.decide(registration_id=second, token=first_token)) == [("token", "invalid_token")]
    assert t.registrations.status(first) == t.registrations.status(second) == "awaiting_approval"


async def test_a_token_older_than_its_validity_has_expired() -> None:
    t = Trio()
    rid = await t.register()
    stale = old_token(rid, timedelta(days=14, minutes=1))
    assert await t.refused(t.decide(registration_id=rid, token=stale)) == [("token", "token_expired")]
    assert t.registrations.status(rid) == "awaiting_approval"


async def test_the_link_expires_when_the_stored_expiry_has_passed() -> None:
    t = Trio()
    rid = await t.register()
    late = NOW + timedelta(days=14)
    assert await t.refused(t.decide(registration_id=rid, token=t.token, now=late)) == [("token", "token_expired")]
    await t.decide(registration_id=rid, token=t.token, now=late - timedelta(seconds=1))
    assert t.registrations.status(rid) == "approved"


async def test_deciding_without_a_token_needs_the_organiser() -> None:
    t = Trio()
    rid = await t.register()
    assert await t.refused(t.decide(registration_id=rid)) == [("token", "token_required")]


async def test_organiser_decides_on_the_approvers_behalf_even_after_the_link_expired() -> None:
    t = Trio()
    rid = await t.register()
    (approved,) = await t.decide(registration_id=rid, by_organizer=True, actor=ORGANISER, now=NOW + timedelta(days=30))
    assert approved.by_organizer is True
    assert t.registrations.status(rid) == "approved"


async def test_deciding_on_an_unknown_registration_is_refused() -> None:
    t = Trio()
    assert await t.refused(t.decide(registration_id=str(uuid.uuid4()), by_organizer=True, actor=ORGANISER)) == [
        ("registration_id", "unknown_registration")
    ]


async def test_a_cancelled_registration_can_no_longer_be_approved() -> None:
    t = Trio()
    rid = await t.register()
    await t.cancel(rid)
    assert await t.refused(t.decide(registration_id=rid, token=t.token)) == [("registration_id", "already_decided")]


async def request_again(t: Trio, rid: str, now: datetime) -> list[Any]:
    emitted: list[Any] = []
    await handlers.request_approval_again(
        rid,
        registrations=t.registrations,
        approvals=APPROVALS,
        emit=emitted.append,
        history=t.history,
        now=now,
        approval_requests=t.approval_requests,
    )
    return emitted


async def test_organiser_requests_an_expired_approval_again_with_a_new_link() -> None:
    t = Trio()
    rid = await t.register()
    later = NOW + timedelta(days=20)
    (asked,) = await request_again(t, rid, later)
    assert isinstance(asked, ApprovalRequested)
    assert asked.expires_at == later + timedelta(days=14)
    assert t.registrations.states[rid].approval_expires_at == asked.expires_at
    (approved,) = await t.decide(
        registration_id=rid, token=asked.approve_url.rsplit("/", 1)[1], now=later + timedelta(days=1)
    )
    assert isinstance(approved, RegistrationApproved)


async def test_a_decided_registration_cannot_be_requested_again() -> None:
    t = Trio()
    rid = await t.register()
    await t.decide(False, registration_id=rid, token=t.token)
    assert await t.refused(request_again(t, rid, NOW)) == [("registration_id", "already_decided")]


# Cancellation


async def test_cancelling_announces_it_and_frees_the_members() -> None:
    t = Trio()
    rid = await t.register()
    (cancelled,) = await t.cancel(rid, reason="Ziekte in het team.")
    assert isinstance(cancelled, RegistrationCancelled)
    assert cancelled.model_dump() == {"registration_id": rid, "edition": EDITION, "reason": "Ziekte in het team."}
    assert t.registrations.status(rid) == "cancelled"
    await t.register()  # the same three again: no member_already_registered


async def test_cancelling_twice_is_refused_and_changes_nothing() -> None:
    t = Trio()
    rid = await t.register()
    await t.cancel(rid)
    assert await t.refused(t.cancel(rid)) == [("registration_id", "already_cancelled")]


async def test_a_declined_registration_cannot_be_cancelled() -> None:
    t = Trio()
    rid = await t.register()
    await t.decide(False, registration_id=rid, token=t.token)
    assert await t.refused(t.cancel(rid)) == [("registration_id", "already_declined")]


async def test_cancelling_an_unknown_registration_is_refused() -> None:
    t = Trio()
    assert await t.refused(t.cancel("nope")) == [("registration_id", "unknown_registration")]


# Places and waitlist (scheduling's events)


async def approved_trio() -> tuple[Trio, str]:
    t = Trio()
    rid = await t.register()
    await t.decide(registration_id=rid, token=t.token)
    return t, rid


def placed(rid: str) -> TrioPlaced:
    return TrioPlaced(registration_id=rid, edition=EDITION, via="allocation")


def waitlisted(rid: str, position: int) -> TrioWaitlisted:
    return TrioWaitlisted(registration_id=rid, edition=EDITION, position=position)


def released(rid: str) -> PlaceReleased:
    return PlaceReleased(registration_id=rid, edition=EDITION, reason="cancelled")


async def test_placed_and_waitlisted_trios_show_their_place_and_position() -> None:
    t, rid = await approved_trio()
    await t.place(waitlisted(rid, 3), NOW)
    assert (t.registrations.status(rid), t.registrations.states[rid].waitlist_position) == ("waitlisted", 3)
    await t.place(waitlisted(rid, 2), NOW + timedelta(minutes=1))
    assert t.registrations.states[rid].waitlist_position == 2
    await t.place(placed(rid), NOW + timedelta(minutes=2))
    assert (t.registrations.status(rid), t.registrations.states[rid].waitlist_position) == ("placed", None)


async def test_a_waitlist_position_arriving_after_the_placement_is_ignored() -> None:
    t, rid = await approved_trio()
    await t.place(placed(rid), NOW)
    await t.place(waitlisted(rid, 1), NOW + timedelta(minutes=1))
    assert t.registrations.status(rid) == "placed"


async def test_an_older_waitlist_position_arriving_late_is_ignored() -> None:
    t, rid = await approved_trio()
    await t.place(waitlisted(rid, 2), NOW + timedelta(minutes=1))
    await t.place(waitlisted(rid, 3), NOW)
    assert t.registrations.states[rid].waitlist_position == 2


async def test_a_placement_for_a_trio_that_cancelled_meanwhile_does_not_bring_it_back() -> None:
    t, rid = await approved_trio()
    await t.cancel(rid)
    await t.place(placed(rid), NOW + timedelta(minutes=1))
    await t.place(released(rid), NOW + timedelta(minutes=2))
    assert t.registrations.status(rid) == "cancelled"


async def test_a_release_overtaken_by_its_earlier_placement_leaves_the_trio_without_a_place() -> None:
    t, rid = await approved_trio()
    await t.place(released(rid), NOW + timedelta(minutes=2))
    await t.place(placed(rid), NOW + timedelta(minutes=1))
    assert t.registrations.status(rid) == "approved"


async def test_placed_and_waitlisted_members_cannot_join_another_trio() -> None:
    t, rid = await approved_trio()
    await t.place(waitlisted(rid, 1), NOW)
    assert await refusal(trio(), editions=t.editions, registrations=t.registrations) == [
        (f"members[{i}].email", "member_already_registered") for i in range(3)
    ]


async def test_events_about_registrations_we_do_not_know_are_ignored() -> None:
    t = Trio()
    await t.place(placed("elsewhere"), NOW)
    assert t.registrations.states == {}


# Erasure and retention


async def test_erasure_removes_the_personal_data_and_announces_it_once() -> None:
    t, rid = await approved_trio()
    await t.place(placed(rid), NOW)
    (erased,) = await t.erase(rid)
    assert isinstance(erased, ParticipantDataErased) and erased.registration_id == rid
    assert {m.email for m in t.registrations.rows[0].members} == {ERASED}
    assert t.registrations.status(rid) == "placed"  # keeps its place, anonymously
    assert await t.erase(rid) == []


async def test_erasing_an_unknown_registration_is_refused() -> None:
    t = Trio()
    assert await t.refused(t.erase("nope")) == [("registration_id", "unknown_registration")]


async def test_an_erased_registration_awaiting_approval_cannot_be_requested_again() -> None:
    t = Trio()
    rid = await t.register()
    await t.erase(rid)
    assert await t.refused(request_again(t, rid, NOW)) == [("registration_id", "data_erased")]


def ended_edition(slug: str, ends_at: datetime) -> Edition:
    session = {
        "number": 1,
        "title": "Positionering",
        "starts_at": (ends_at - timedelta(hours=4)).isoformat(),
        "ends_at": ends_at.isoformat(),
    }
    return edition(slug=slug, sessions=[session], registration_closes_at=ends_at - timedelta(days=30))


async def test_personal_data_is_erased_a_retention_period_after_the_last_session() -> None:
    retention = timedelta(days=365)
    last_session = datetime(2027, 1, 15, 17, tzinfo=UTC)
    editions = FakeEditions(
        ended_edition("old", last_session), ended_edition("recent", last_session + timedelta(days=1))
    )
    registrations = FakeRegistrations()
    old = [
        (
            await register(
                trio(edition="old", members=[{**m, "email": f"{i}{m['email']}"} for m in trio()["members"]]),
                editions=FakeEditions(edition(slug="old")),
                registrations=registrations,
            )
        )[0]["registration_id"]
        for i in range(2)
    ]
    recent, _ = await register(
        trio(edition="recent"), editions=FakeEditions(edition(slug="recent")), registrations=registrations
    )
    emitted: list[Any] = []

    async def erase_one(registration_id: str) -> bool:
        return await handlers.erase_participant_data(
            registration_id, registrations=registrations, history=FakeHistory(), emit=emitted.append, now=now
        )

    async def run(at: datetime) -> list[str]:
        nonlocal now
        now = at
        return await handlers.erase_after_retention(
            editions=editions, registrations=registrations, erase_one=erase_one, now=now, retention=retention
        )

    now = last_session + retention - timedelta(seconds=1)
    assert await run(now) == []
    assert sorted(await run(last_session + retention)) == sorted(old)
    assert not registrations.states[recent["registration_id"]].erased
    assert await run(last_session + retention + timedelta(hours=1)) == []  # done once
    assert sorted(e.registration_id for e in emitted) == sorted(old)
