"""Reporting against a real PostgreSQL: migrations, exactly-once effects and the page from stored data."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from starlette.applications import Starlette

from services.reporting import consumes, entrypoints
from services.reporting.adapters import Inbox, Outbox, SessionReportRow
from services.reporting.anonymise import NameKey
from services.reporting.bootstrap import MIGRATIONS
from shared.contract import Event
from shared.contract.reporting import PublishReport, ReportingCommandRejected
from shared.contract.scheduling import EditionScheduled, SessionCompleted
from shared.db import Database, migrate
from shared.messaging.messages import Incoming
from shared.messaging.processing import MessageStore
from tests.factories import ORGANISER
from tests.support import create_database, database_url, drop_database, require_port

pytestmark = pytest.mark.integration

PUBLIC_URL = "https://werkplaatsen.example.nl"
EDITION = "2027-najaar"
HELD = datetime(2027, 10, 15, 11, tzinfo=UTC)
KEY = NameKey.from_secret("test-secret")


@pytest.fixture
async def store() -> AsyncIterator[MessageStore]:
    require_port("127.0.0.1", 5432, "PostgreSQL")
    name = await create_database("reporting")
    db = Database(database_url(name))
    try:
        await migrate(db, MIGRATIONS, "reporting")
        yield MessageStore(db, "reporting", Outbox, Inbox, ReportingCommandRejected)
    finally:
        await db.dispose()
        await drop_database(name)


def session_completed_message(
    event_id: str, lessons: list[str], occurred_at: datetime = HELD + timedelta(days=1)
) -> Incoming:
    data = SessionCompleted(
        edition=EDITION,
        session_number=1,
        title="Positionering van het wijkgerichte werken in de eigen gemeente",
        starts_at=HELD,
        attendance={"trios": 7, "municipalities": 6},
        notes={
            "lessons": lessons,
            "instruments": [{"name": "Wijkscan", "description": "Kaart van de wijk."}],
            "quotes": ["De wijk is geen project."],
            "next_steps": [],
        },
    )
    event = Event[SessionCompleted](
        event_id=event_id,
        type="SessionCompleted",
        version=1,
        occurred_at=occurred_at,
        producer="scheduling",
        correlation_id="corr-1",
        causation_id="cmd-1",
        data=data,
    )
    return Incoming(
        body=event.model_dump_json().encode(),
        routing_key=SessionCompleted.routing_key,
        message_id=event_id,
        message_type="SessionCompleted",
    )


def edition_message(*, at_once: bool, sessions: int = 3) -> Incoming:
    """The edition's EditionScheduled; `at_once`: its summaries are published as its sessions are completed."""
    return event_message(
        EditionScheduled(
            edition=EDITION,
            title="Werkplaatsen wijkgericht werken",
            venue={"name": "Werkplaats", "address": "Straat 1", "city": "Utrecht"},
            capacity={"min_trios": 6, "max_trios": 8},
            registration_deadline=HELD - timedelta(days=20),
            registration_closes_at=HELD,
            fee={"amount_cents": 20000},
            priority_size_classes=[],
            table_size=2,
            sessions=[
                {
                    "number": n,
                    "title": "Positionering",
                    "outcome": "Uitkomst.",
                    "starts_at": HELD + timedelta(days=30 * (n - 1)),
                    "ends_at": HELD + timedelta(days=30 * (n - 1), hours=4),
                }
                for n in range(1, sessions + 1)
            ],
            publish_reports_at_once=at_once,
        ),
        HELD - timedelta(days=60),
    )


async def announced(store: MessageStore) -> list[dict[str, Any]]:
    """The LessonReportPublished events in the outbox, as published."""
    async with store.db.sessions() as session:
        bodies = (
            (await session.execute(select(Outbox.body).where(Outbox.routing_key == "reporting.LessonReportPublished")))
            .scalars()
            .all()
        )
    return [json.loads(body) for body in bodies]


async def count(store: MessageStore, model: type[Any]) -> int:
    async with store.db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_the_same_session_completed_twice_stores_one_report_and_publishes_once(store: MessageStore) -> None:
    consumers = consumes.consumers(store, public_url=PUBLIC_URL, key=KEY)
    await consumers[EditionScheduled.routing_key](edition_message(at_once=True))
    consume = consumers[SessionCompleted.routing_key]
    message = session_completed_message(str(uuid.uuid4()), ["Begin bij de wijk; mail a@b.nl"])
    await consume(message)
    await consume(message)
    assert await count(store, SessionReportRow) == 1
    assert await count(store, Outbox) == 1
    async with store.db.sessions() as session:
        row = await session.get(SessionReportRow, (EDITION, 1))
        assert row is not None and row.lessons == ["Begin bij de wijk; mail [verwijderd]"]
        assert row.starts_at == HELD


async def test_competing_replicas_delivering_the_same_event_apply_it_once(store: MessageStore) -> None:
    consumers = consumes.consumers(store, public_url=PUBLIC_URL, key=KEY)
    await consumers[EditionScheduled.routing_key](edition_message(at_once=True))
    consume = consumers[SessionCompleted.routing_key]
    message = session_completed_message(str(uuid.uuid4()), ["Eén les."])
    await asyncio.gather(*(consume(message) for _ in range(4)))
    assert await count(store, SessionReportRow) == 1
    assert await count(store, Outbox) == 1


async def test_at_once_a_new_version_replaces_the_report_and_the_page_shows_it(store: MessageStore) -> None:
    consumers = consumes.consumers(store, public_url=PUBLIC_URL, key=KEY)
    await consumers[EditionScheduled.routing_key](edition_message(at_once=True))
    consume = consumers[SessionCompleted.routing_key]
    await consume(session_completed_message(str(uuid.uuid4()), ["Eerste versie."]))
    await consume(session_completed_message(str(uuid.uuid4()), ["Tweede versie."], HELD + timedelta(days=2)))
    assert await count(store, SessionReportRow) == 1
    assert await count(store, Outbox) == 2
    app = Starlette(routes=entrypoints.routes(store, key=KEY, public_url=PUBLIC_URL))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as http:
        page = await http.get(f"/reports/{EDITION}/1")
    assert page.status_code == 200
    assert "Tweede versie." in page.text and "Eerste versie." not in page.text
    assert "15 oktober 2027" in page.text


async def test_two_versions_racing_for_a_new_session_end_with_the_newest_after_the_retry(store: MessageStore) -> None:
    consume = consumes.consumers(store, public_url=PUBLIC_URL, key=KEY)[SessionCompleted.routing_key]
    older = session_completed_message(str(uuid.uuid4()), ["Oudere versie."], HELD + timedelta(days=1))
    newer = session_completed_message(str(uuid.uuid4()), ["Nieuwere versie."], HELD + timedelta(days=2))
    results = await asyncio.gather(consume(older), consume(newer), return_exceptions=True)
    # The loser of the race for the new row fails and is redelivered, as the transports do after a failure.
    for message, result in zip((older, newer), results, strict=True):
        if isinstance(result, Exception):
            await consume(message)
    async with store.db.sessions() as session:
        row = await session.get(SessionReportRow, (EDITION, 1))
        assert row is not None and row.lessons == ["Nieuwere versie."]
    assert await count(store, SessionReportRow) == 1


def event_message(data: Any, occurred_at: datetime = HELD) -> Incoming:
    event = Event[type(data)](
        event_id=str(uuid.uuid4()),
        type=type(data).__name__,
        version=1,
        occurred_at=occurred_at,
        producer=data.routing_key.split(".")[0],
        correlation_id="corr-1",
        causation_id="cmd-1",
        data=data,
    )
    return Incoming(
        body=event.model_dump_json().encode(),
        routing_key=data.routing_key,
        message_id=event.event_id,
        message_type=event.type,
    )


async def test_a_trios_registration_and_place_racing_on_a_new_row_end_with_both_after_the_retry(
    store: MessageStore,
) -> None:
    from services.reporting.adapters import SqlTrios
    from shared.contract.registration import TrioRegistered
    from shared.contract.scheduling import TrioPlaced

    consumers = consumes.consumers(store, public_url=PUBLIC_URL, key=KEY)
    registered = event_message(
        TrioRegistered(
            registration_id="r1",
            edition=EDITION,
            registered_at=HELD - timedelta(days=30),
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
                    "member_id": str(i),
                    "name": f"Naam Achternaam{i}",
                    "email": f"{i}@x.example",
                    "role": "wijkambtenaar",
                    "domain": d,
                    "language": "nl",
                }
                for i, d in enumerate(["fysiek", "sociaal"])
            ],
            case={"title": "Casus", "neighbourhood": "De Burgt", "summary": "Tekst.", "domains": ["fysiek", "sociaal"]},
            fee={"amount_cents": 20000, "waived": True},
            priority=True,
            preferred_domain_mix=True,
            consent={"privacy": True},
            channel="web",
        )
    )
    placed = event_message(TrioPlaced(registration_id="r1", edition=EDITION, via="allocation"), HELD + timedelta(1))
    messages = (registered, placed)
    results = await asyncio.gather(*(consumers[m.routing_key](m) for m in messages), return_exceptions=True)
    for message, result in zip(messages, results, strict=True):
        if isinstance(result, Exception):
            await consumers[message.routing_key](message)
    async with store.db.sessions() as session:
        trio = await SqlTrios(session).get("r1")
    assert trio is not None and trio.status == "placed" and trio.case is not None
    assert trio.municipality is not None and trio.municipality.name == "Barneveld"


async def test_the_edition_and_its_last_session_handled_at_once_publish_summary_and_round_exactly_once(
    store: MessageStore,
) -> None:
    """An edition that publishes at once, arriving as its last session's notes do: whichever is handled first,
    the summary and the round's report are published, each once (the edition's lock orders the two)."""
    consumers = consumes.consumers(store, public_url=PUBLIC_URL, key=KEY)
    edition = edition_message(at_once=True, sessions=1)
    last_session = session_completed_message(str(uuid.uuid4()), ["Een les."])
    for _ in range(5):  # the race goes either way
        results = await asyncio.gather(
            consumers[edition.routing_key](edition),
            consumers[last_session.routing_key](last_session),
            return_exceptions=True,
        )
        for message, result in zip((edition, last_session), results, strict=True):
            if isinstance(result, Exception):  # a lost race for a new row, redelivered as the transports do
                await consumers[message.routing_key](message)
        assert sorted(str(e["data"]["session_number"]) for e in await announced(store)) == ["1", "None"]
        async with store.db.transaction() as session:
            for table in ("inbox", "outbox", "round_reports", "session_reports", "editions", "edition_locks"):
                await session.execute(text(f"DELETE FROM {table}"))


async def test_a_draft_is_on_no_page_until_published_and_two_organisers_publishing_it_at_once_announce_it_once(
    store: MessageStore,
) -> None:
    consumers = consumes.consumers(store, public_url=PUBLIC_URL, key=KEY)
    await consumers[EditionScheduled.routing_key](edition_message(at_once=False))
    await consumers[SessionCompleted.routing_key](session_completed_message(str(uuid.uuid4()), ["Een concept."]))
    app = Starlette(routes=entrypoints.routes(store, key=KEY, public_url=PUBLIC_URL))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as http:
        assert (await http.get(f"/reports/{EDITION}/1")).status_code == 404
        assert await announced(store) == []
        body = PublishReport(edition=EDITION, session_number=1, actor=ORGANISER).model_dump_json().encode()
        publish = [
            Incoming(body=body, routing_key=PublishReport.routing_key, message_id=str(uuid.uuid4()), message_type="x")
            for _ in range(2)
        ]
        await asyncio.gather(*(consumers[PublishReport.routing_key](m) for m in publish))
        page = await http.get(f"/reports/{EDITION}/1")
    assert [e["data"]["session_number"] for e in await announced(store)] == [1]
    async with store.db.sessions() as session:
        rejected = (
            (await session.execute(select(Outbox.body).where(Outbox.routing_key == "reporting.CommandRejected")))
            .scalars()
            .all()
        )
    assert len(rejected) == 1 and b'"already_published"' in rejected[0]
    assert page.status_code == 200 and "Een concept." in page.text


async def test_summaries_stored_before_drafts_existed_stay_published_after_the_migration() -> None:
    from alembic import command

    from shared.db import alembic_config

    require_port("127.0.0.1", 5432, "PostgreSQL")
    name = await create_database("reportmig")
    db = Database(database_url(name))
    cfg = alembic_config(MIGRATIONS)

    def upgrade_to(revision: str) -> Any:
        def run(connection: Any) -> None:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)

        return run

    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(upgrade_to("b6f670199754"))  # before drafts
            await conn.execute(
                text(
                    "INSERT INTO session_reports (edition, session_number, title, starts_at, trios, municipalities,"
                    " lessons, instruments, quotes, next_steps, completed_at, updated_at) VALUES (:e, 1, 'Thema',"
                    " :held, 7, 6, '[\"Een oude les.\"]', '[]', '[]', '[]', :done, :done)"
                ),
                {"e": EDITION, "held": HELD, "done": HELD + timedelta(days=1)},
            )
        await migrate(db, MIGRATIONS, "reporting")
        store = MessageStore(db, "reporting", Outbox, Inbox, ReportingCommandRejected)
        async with store.db.sessions() as session:
            row = await session.get(SessionReportRow, (EDITION, 1))
        assert row is not None and row.published_at == HELD + timedelta(days=1) and row.marks is None
        app = Starlette(routes=entrypoints.routes(store, key=KEY, public_url=PUBLIC_URL))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as http:
            page = await http.get(f"/reports/{EDITION}/1")
        assert page.status_code == 200 and "Een oude les." in page.text
    finally:
        await db.dispose()
        await drop_database(name)


async def test_replicas_starting_at_once_on_postgres_share_one_name_key_and_keep_the_derived_one(
    store: MessageStore,
) -> None:
    """Reporting's own key is made once whoever starts first; digests made before it (keyed from the secret)
    are still found after WERKPLAATSEN_SECRET_KEY rotates."""
    from services.reporting.adapters import SqlNames, StoredNameKey
    from services.reporting.anonymise import Anonymiser, name_digests

    async with store.db.transaction() as session:
        await SqlNames(session).add("r-before", name_digests(NameKey.from_secret("old-secret"), "Gijsbrecht Oudeboom"))
    keys = [StoredNameKey() for _ in range(4)]
    await asyncio.gather(*(key.load(store.db, "old-secret") for key in keys))
    assert len({(key.key, key.previous) for key in keys}) == 1
    rotated = StoredNameKey()
    await rotated.load(store.db, "a-new-secret")
    async with store.db.sessions() as session:
        digests = await SqlNames(session).every()
    assert Anonymiser(rotated, digests).clean("Gijsbrecht Oudeboom vertelde") == "[verwijderd] vertelde"
