"""The anonymiser with reporting's store: its own key for name digests (rotating WERKPLAATSEN_SECRET_KEY changes
nothing), names scoped to an edition, other editions' unconsented municipalities, and false positives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from services.reporting.adapters import Inbox, Outbox, SqlFalsePositives, SqlNames, StoredNameKey
from services.reporting.anonymise import Anonymiser, NameKey, name_digests
from services.reporting.bootstrap import MIGRATIONS
from shared.contract import Actor
from shared.contract.reporting import MarkFalsePositive, ReportingCommandRejected
from shared.db import Database, migrate
from shared.messaging.processing import MessageStore
from tests.unit.test_reporting_pages import EDITION, Reporting, session_completed, text_of, trio_registered

OTHER_EDITION = "2026-voorjaar"
ORGANISER = Actor(account_id="test-organiser", role="organiser")


@pytest.fixture
async def reporting(tmp_path: Path) -> AsyncIterator[Reporting]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'reporting.sqlite3'}")
    await migrate(db, MIGRATIONS, "reporting")
    service = Reporting(MessageStore(db, "reporting", Outbox, Inbox, ReportingCommandRejected))
    yield service
    await service.http.aclose()
    await db.dispose()


async def store_digests(db: Database, registration_id: str, key: NameKey, name: str) -> None:
    async with db.transaction() as session:
        await SqlNames(session).add(registration_id, name_digests(key, name))


async def test_a_digest_stored_before_rotation_still_censors_after_rotating_the_secret_key(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'reporting.sqlite3'}")
    await migrate(db, MIGRATIONS, "reporting")
    # Digests made by the version before reporting had its own key: keyed from WERKPLAATSEN_SECRET_KEY.
    await store_digests(db, "r-before", NameKey.from_secret("the-old-secret"), "Gijsbrecht Oudeboom")
    first_start = StoredNameKey()
    await first_start.load(db, "the-old-secret")
    await store_digests(db, "r-after", first_start, "Quirine Zwanenburg")

    after_rotation = StoredNameKey()
    await after_rotation.load(db, "a-rotated-secret")
    async with db.sessions() as session:
        digests = await SqlNames(session).every()
    clean = Anonymiser(after_rotation, digests).clean("Gijsbrecht Oudeboom en Zwanenburg")
    assert clean == "[verwijderd] en [verwijderd]"
    assert after_rotation.key == first_start.key != NameKey.from_secret("a-rotated-secret").key
    await db.dispose()


async def test_replicas_starting_at_once_share_one_key(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'reporting.sqlite3'}")
    await migrate(db, MIGRATIONS, "reporting")
    keys = [StoredNameKey() for _ in range(3)]
    await asyncio.gather(*(k.load(db, "secret") for k in keys))
    assert len({k.key for k in keys}) == 1
    assert keys[0].previous == ()  # no digests existed before: nothing to fall back to
    await db.dispose()


async def published_lessons(reporting: Reporting, *lessons: str) -> str:
    await reporting.deliver(session_completed(1, lessons=list(lessons)))
    await reporting.publish(1)
    return text_of((await reporting.http.get(f"/reports/{EDITION}/1")).text)


async def test_a_common_word_in_another_editions_name_is_kept_but_that_whole_name_is_not(reporting: Reporting) -> None:
    other = trio_registered("r9", "GM0345", "Veenendaal", True, ["Wil Bakker", "Pieter Groen", "Gijsbrecht Oudeboom"])
    await reporting.deliver(other.model_copy(update={"edition": OTHER_EDITION}))
    text = await published_lessons(
        reporting,
        "De Bakker op de hoek levert het brood. Groen is de kleur van het plein.",
        "Wil Bakker en Oudeboom waren er vorig jaar bij.",
    )
    assert "De Bakker op de hoek levert het brood. Groen is de kleur van het plein." in text
    assert "[verwijderd] en [verwijderd] waren er vorig jaar bij." in text


async def test_a_common_word_in_this_editions_name_is_still_censored_where_written_as_a_name(
    reporting: Reporting,
) -> None:
    await reporting.deliver(trio_registered("r1", "GM0345", "Veenendaal", True, ["Wil Bakker", "Sanne Bos", "X Y"]))
    text = await published_lessons(reporting, "Daarna vertelde Bakker over de bakker.")
    assert "Daarna vertelde [verwijderd] over de bakker." in text


async def test_a_municipality_another_editions_trio_did_not_consent_to_naming_is_described(
    reporting: Reporting,
) -> None:
    other = trio_registered("r9", "GM0203", "Barneveld", False, ["Gijsbrecht Oudeboom", "Sanne Bos", "X Y"])
    await reporting.deliver(other.model_copy(update={"edition": OTHER_EDITION}))
    text = await published_lessons(reporting, "Barneveld deed vorig jaar ook mee.")
    assert "Barneveld" not in text
    assert "Een middelgrote gemeente in Gelderland deed vorig jaar ook mee." in text


async def false_positives_of(reporting: Reporting, edition: str) -> list[str]:
    async with reporting.store.db.sessions() as session:
        return await SqlFalsePositives(session).of_edition(edition)


async def test_an_organisers_false_positive_is_published_as_written_in_that_edition_only(reporting: Reporting) -> None:
    await reporting.deliver(trio_registered("r1", "GM0345", "Veenendaal", True, ["Wil Bakker", "Sanne Bos", "X Y"]))
    await reporting.command(MarkFalsePositive(edition=EDITION, phrase="Bakker", actor=ORGANISER))
    text = await published_lessons(reporting, "Bakker Van Dam levert het brood; Wil Bakker haalt het op.")
    assert "Bakker Van Dam levert het brood; [verwijderd] haalt het op." in text
    assert await false_positives_of(reporting, EDITION) == ["bakker"]
    assert await false_positives_of(reporting, OTHER_EDITION) == []

    await reporting.command(MarkFalsePositive(edition=EDITION, phrase="BAKKER", false_positive=False, actor=ORGANISER))
    assert await false_positives_of(reporting, EDITION) == []


@pytest.mark.parametrize(
    ("phrase", "code"), [("06-12345678", "not_a_word"), ("anna@ede.nl", "not_a_word"), ("a b c d e f g", "too_long")]
)
async def test_contact_details_numbers_and_long_phrases_are_never_false_positives(
    reporting: Reporting, phrase: str, code: str
) -> None:
    await reporting.command(MarkFalsePositive(edition=EDITION, phrase=phrase, actor=ORGANISER))
    assert await false_positives_of(reporting, EDITION) == []
    async with reporting.store.db.sessions() as session:
        rejected = [r for r in (await session.execute(select(Outbox))).scalars() if "CommandRejected" in r.routing_key]
    assert code in str(rejected[-1].body)
