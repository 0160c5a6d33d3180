"""Registration handlers, driven with in-memory fakes."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.registration import handlers
from services.registration.domain import (
    ACTIVE_STATUSES,
    Edition,
    Municipality,
    MunicipalityRegister,
    Registration,
    SizeBand,
)
from shared.contract.registration import RegisterTrio, TrioRegistered
from shared.contract.scheduling import EditionScheduled
from shared.messaging.messages import CommandRefused

NOW = datetime(2027, 9, 1, 12, tzinfo=UTC)
BAND = SizeBand(40_000, 100_000)
EDITION = "2027-najaar"
MIDSIZE = "GM0203"  # Barneveld: M50 member, 63,927
SMALL = "GM1680"  # Aa en Hunze: 26,057
LARGE = "GM9999"  # made up: 120,000 and not an M50 member

MUNICIPALITIES = MunicipalityRegister([
    Municipality.classified(MIDSIZE, "Barneveld", "Gelderland", 63_927, True, BAND),
    Municipality.classified(SMALL, "Aa en Hunze", "Drenthe", 26_057, False, BAND),
    Municipality.classified(LARGE, "Grootstad", "Utrecht", 120_000, False, BAND),
])


class FakeEditions:
    def __init__(self, *editions: Edition) -> None:
        self.rows = {e.slug: copy.deepcopy(e) for e in editions}

    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None:
        return copy.deepcopy(self.rows.get(slug))

    async def save(self, edition: Edition) -> None:
        self.rows[edition.slug] = copy.deepcopy(edition)


class FakeRegistrations:
    def __init__(self) -> None:
        self.rows: list[Registration] = []

    async def add(self, registration: Registration) -> None:
        self.rows.append(copy.deepcopy(registration))

    async def active_member_emails(self, edition: str, emails: list[str]) -> set[str]:
        return {m.email for r in self.rows if r.edition == edition and r.status in ACTIVE_STATUSES
                for m in r.members if m.email in emails}


def edition(**changes: Any) -> Edition:
    values: dict[str, Any] = dict(
        slug=EDITION, title="Werkplaatsen wijkgericht werken", registration_closes_at=NOW + timedelta(days=30),
        fee={"amount_cents": 20000, "waived_for_size_classes": ["middelgroot"]},
        priority_size_classes=["middelgroot"], sessions=[], scheduled_at=NOW - timedelta(days=60),
    )
    return Edition(**{**values, **changes})


def trio(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "edition": EDITION,
        "municipality": MIDSIZE,
        "members": [
            {"name": "Anna de Vries", "email": "Anna.de.Vries@barneveld.nl", "role": "wijkambtenaar",
             "domain": "sociaal", "job_title": "Wijkregisseur"},
            {"name": "Bram Jansen", "email": "bram.jansen@barneveld.nl", "role": "sectorambtenaar",
             "domain": "fysiek"},
            {"name": "Chloé Bakker", "email": "chloe.bakker@barneveld.nl", "role": "sectorambtenaar",
             "domain": "veiligheid", "language": "en"},
        ],
        "case": {"title": "Groene pleinen tegen wateroverlast", "neighbourhood": "Centrum",
                 "summary": "Pleinen aanpassen met bewoners.", "domains": ["fysiek", "sociaal"]},
        "approver": {"name": "Dirk Visser", "email": "dirk.visser@barneveld.nl"},
        "consent": {"privacy": True, "publish_municipality_name": True},
    }
    body.update(changes)
    return body


async def register(body: dict[str, Any], *, editions: FakeEditions | None = None,
                   registrations: FakeRegistrations | None = None, now: datetime = NOW
                   ) -> tuple[dict[str, str], list[Any]]:
    emitted: list[Any] = []
    ids = await handlers.register_trio(
        RegisterTrio.model_validate(body), editions=editions or FakeEditions(edition()),
        registrations=registrations if registrations is not None else FakeRegistrations(),
        municipalities=MUNICIPALITIES, emit=emitted.append, now=now,
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
    (event,) = emitted
    assert isinstance(event, TrioRegistered)
    assert event.registration_id == ids["registration_id"] == registrations.rows[0].registration_id
    uuid.UUID(event.registration_id)
    assert event.edition == EDITION and event.registered_at == NOW
    assert event.municipality.model_dump() == {"code": MIDSIZE, "name": "Barneveld", "province": "Gelderland",
                                               "inhabitants": 63_927, "size_class": "middelgroot",
                                               "m50_member": True}
    assert [m.email for m in event.members] == ["anna.de.vries@barneveld.nl", "bram.jansen@barneveld.nl",
                                                "chloe.bakker@barneveld.nl"]
    assert [m.language for m in event.members] == ["nl", "nl", "en"]
    assert len({m.member_id for m in event.members}) == 3
    assert all(uuid.UUID(m.member_id) for m in event.members)
    assert event.case.title == "Groene pleinen tegen wateroverlast"
    assert event.priority is True and event.preferred_domain_mix is True
    assert event.consent.publish_municipality_name is True
    assert event.channel == "web" and event.chat_id is None
    assert registrations.rows[0].status == "awaiting_approval"


async def test_fee_is_waived_for_a_middelgroot_municipality() -> None:
    _, (event,) = await register(trio())
    assert event.fee.model_dump() == {"amount_cents": 0, "currency": "EUR", "waived": True, "reason": "middelgroot"}


async def test_large_municipality_pays_the_fee_and_has_no_priority() -> None:
    invoice = {"address": "Stadhuisplein 1, Grootstad", "reference": "PO-123"}
    _, (event,) = await register(trio(municipality=LARGE, invoice=invoice))
    assert event.municipality.size_class == "groot"
    assert event.fee.model_dump() == {"amount_cents": 20000, "currency": "EUR", "waived": False, "reason": None}
    assert event.priority is False


async def test_trio_without_both_fysiek_and_sociaal_is_accepted_without_the_preferred_mix() -> None:
    _, (event,) = await register(trio(members=member(1, domain="economie")))
    assert event.preferred_domain_mix is False


async def test_chat_registration_keeps_its_chat_id() -> None:
    _, (event,) = await register(trio(channel="chat", chat_id="room-42"))
    assert (event.channel, event.chat_id) == ("chat", "room-42")


# Refusals, one per rule


async def test_unknown_edition_is_refused() -> None:
    assert await refusal(trio(edition="2099-voorjaar")) == [("edition", "unknown_edition")]


async def test_registration_after_closing_is_refused() -> None:
    closes = NOW - timedelta(seconds=1)
    assert await refusal(trio(), editions=FakeEditions(edition(registration_closes_at=closes))) == [
        ("edition", "registration_closed")]


async def test_registration_at_the_closing_moment_is_refused() -> None:
    assert await refusal(trio(), editions=FakeEditions(edition(registration_closes_at=NOW))) == [
        ("edition", "registration_closed")]


async def test_unknown_municipality_is_refused() -> None:
    assert await refusal(trio(municipality="GM0000")) == [("municipality", "unknown_municipality")]


async def test_registration_without_privacy_consent_is_refused() -> None:
    assert await refusal(trio(consent={"privacy": False})) == [("consent.privacy", "privacy_consent_required")]


async def test_trio_without_a_wijkambtenaar_is_refused() -> None:
    assert await refusal(trio(members=member(0, role="sectorambtenaar"))) == [("members", "no_wijkambtenaar")]


async def test_same_person_twice_is_refused_regardless_of_case() -> None:
    assert await refusal(trio(members=member(2, email="BRAM.Jansen@barneveld.nl"))) == [
        ("members[2].email", "duplicate_member")]


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
    colleagues = [{"name": "Eva Smit", "email": "eva.smit@barneveld.nl", "role": "wijkambtenaar",
                   "domain": "fysiek"},
                  {"name": "Bram Jansen", "email": "Bram.Jansen@barneveld.nl", "role": "sectorambtenaar",
                   "domain": "sociaal"},
                  {"name": "Finn Mulder", "email": "finn.mulder@barneveld.nl", "role": "sectorambtenaar",
                   "domain": "economie"}]
    assert await refusal(trio(members=colleagues), editions=editions, registrations=registrations) == [
        ("members[1].email", "member_already_registered")]


async def test_member_of_a_cancelled_trio_may_register_again() -> None:
    editions, registrations = FakeEditions(edition()), FakeRegistrations()
    await register(trio(), editions=editions, registrations=registrations)
    registrations.rows[0].status = "cancelled"
    _, emitted = await register(trio(), editions=editions, registrations=registrations)
    assert len(emitted) == 1


async def test_member_may_join_trios_of_different_editions() -> None:
    editions = FakeEditions(edition(), edition(slug="2028-voorjaar"))
    registrations = FakeRegistrations()
    await register(trio(), editions=editions, registrations=registrations)
    _, emitted = await register(trio(edition="2028-voorjaar"), editions=editions, registrations=registrations)
    assert len(emitted) == 1


async def test_every_problem_is_reported_at_once_and_nothing_is_stored() -> None:
    registrations = FakeRegistrations()
    members = [{**m, "role": "sectorambtenaar", "domain": "fysiek"} for m in trio()["members"]]
    members[1]["email"] = members[0]["email"]
    body = trio(edition="2099-voorjaar", municipality="GM0000", consent={"privacy": False}, members=members,
                case={**trio()["case"], "domains": ["sociaal"]},
                approver={"name": "X", "email": members[2]["email"]})
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
        edition=EDITION, title="Werkplaatsen wijkgericht werken",
        venue={"name": "Werkplaats", "address": "Adres volgt", "city": "Utrecht"},
        capacity={"min_trios": 6, "max_trios": 8}, registration_deadline=NOW + timedelta(days=20),
        registration_closes_at=starts, fee={"amount_cents": 20000, "waived_for_size_classes": ["middelgroot"]},
        priority_size_classes=["middelgroot"], table_size=3,
        sessions=[{"number": 1, "title": "Positionering", "outcome": "Stip op de horizon", "starts_at": starts,
                   "ends_at": starts + timedelta(hours=4)}],
    )
    return EditionScheduled.model_validate({**values, **changes})


async def test_scheduled_edition_is_remembered_and_opens_registration() -> None:
    editions = FakeEditions()
    await handlers.remember_edition(edition_scheduled(), editions=editions, occurred_at=NOW)
    copy_ = editions.rows[EDITION]
    assert copy_.fee == {"amount_cents": 20000, "waived_for_size_classes": ["middelgroot"]}
    assert copy_.sessions[0]["title"] == "Positionering"
    _, emitted = await register(trio(), editions=editions)
    assert len(emitted) == 1


async def test_rescheduled_edition_replaces_the_copy() -> None:
    editions = FakeEditions()
    await handlers.remember_edition(edition_scheduled(), editions=editions, occurred_at=NOW)
    await handlers.remember_edition(edition_scheduled(title="Nieuwe titel"), editions=editions,
                                    occurred_at=NOW + timedelta(minutes=1))
    assert editions.rows[EDITION].title == "Nieuwe titel"


async def test_an_older_announcement_arriving_late_does_not_overwrite_a_newer_one() -> None:
    editions = FakeEditions()
    await handlers.remember_edition(edition_scheduled(title="Nieuw"), editions=editions, occurred_at=NOW)
    await handlers.remember_edition(edition_scheduled(title="Oud"), editions=editions,
                                    occurred_at=NOW - timedelta(minutes=1))
    assert editions.rows[EDITION].title == "Nieuw"
