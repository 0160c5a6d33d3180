"""Notifications on real PostgreSQL and a real SMTP server: every mail once, through refusals, crashes and
competing replicas; the organisers' log and privacy erasure on the real store."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import event as sql_events
from sqlalchemy import func, select
from starlette.applications import Starlette

from services.notifications import bootstrap, consumes, entrypoints
from services.notifications.delivery import Handoff, SmtpDelivery, SmtpHandoff
from services.notifications.domain import ERASED, FAILED, PENDING, SENT, parse_offsets
from services.notifications.sender import MailSender
from services.notifications.sender.handoff import Handoffs
from services.notifications.store import HandoffRow, Inbox, MailRow, Outbox, RegistrationRow, ReminderRow
from shared.contract import Event, EventData
from shared.contract.common import CommandRejected
from shared.contract.registration import ApprovalRequested, ParticipantDataErased, TrioRegistered
from shared.contract.scheduling import EditionScheduled, SeatingPlanned, TrioPlaced
from shared.db import Database, migrate, utcnow
from shared.messaging.messages import Incoming
from shared.messaging.processing import MessageStore
from shared.settings import Settings
from tests.support import database_url, free_port, wait_until

pytestmark = pytest.mark.integration

EDITION = "2027-najaar"
ORGANIZER_TOKEN = "organiser-token"
SETTINGS = Settings(
    werkplaatsen_mail_from="Werkplaatsen <wp@platform31.nl>",
    werkplaatsen_public_url="https://werkplaatsen.example",
    werkplaatsen_secret_key="s3cret",
)


class Crash(BaseException):
    """Stands in for SIGKILL: nothing after it runs, no except Exception catches it."""


class ScriptedServer:
    """An aiosmtpd handler that answers DATA from a script (e.g. 451, 451, then 250) and keeps what it accepted."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.accepted: list[EmailMessage] = []
        self.data_commands = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self.data_commands += 1
        answer = self.answers.pop(0) if self.answers else "250 OK"
        if answer.startswith("250"):
            self.accepted.append(message_from_bytes(envelope.content, policy=policy.default))
        return answer


@pytest.fixture
async def database(pg_database: Callable[..., Any]) -> AsyncIterator[Database]:
    db = Database(database_url(await pg_database("notifications")))
    await migrate(db, bootstrap.MIGRATIONS, "notifications")
    yield db
    await db.dispose()


@pytest.fixture
def store(database: Database) -> MessageStore:
    return MessageStore(database, "notifications", Outbox, Inbox, CommandRejected)


@pytest.fixture
def server() -> AsyncIterator[Callable[..., tuple[ScriptedServer, str]]]:
    controllers: list[Controller] = []

    def start(*answers: str) -> tuple[ScriptedServer, str]:
        handler = ScriptedServer(*answers)
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append(controller)
        return handler, f"smtp://127.0.0.1:{controller.port}"

    yield start  # type: ignore[misc]
    for controller in controllers:
        controller.stop()


def envelope(data: EventData, event_id: str | None = None) -> Incoming:
    name = data.routing_key.split(".", 1)[1]
    event = Event[type(data)](  # type: ignore[misc]
        event_id=event_id or str(uuid.uuid4()),
        type=name,
        version=1,
        occurred_at=utcnow(),
        producer=data.routing_key.split(".", 1)[0],
        correlation_id="corr-1",
        causation_id="cmd-1",
        data=data,
    )
    return Incoming(
        body=event.model_dump_json().encode(),
        routing_key=data.routing_key,
        message_id=event.event_id,
        message_type=name,
        correlation_id="corr-1",
    )


def trio_registered(registration_id: str = "reg-1", prefix: str = "") -> Incoming:
    return envelope(
        TrioRegistered(
            registration_id=registration_id,
            edition=EDITION,
            registered_at=utcnow(),
            municipality={
                "code": "GM0203",
                "name": "Barneveld",
                "province": "Gelderland",
                "inhabitants": 63927,
                "size_class": "middelgroot",
                "m50_member": True,
            },
            members=[
                {
                    "member_id": f"m{i}",
                    "name": name,
                    "email": f"{prefix}{name.lower()}@barneveld.nl",
                    "role": "wijkambtenaar" if i == 0 else "sectorambtenaar",
                    "domain": ("sociaal", "fysiek", "bestuur")[i],
                    "language": "nl",
                }
                for i, name in enumerate(("Anna", "Bram", "Chantal"))
            ],
            case={
                "title": "Groene pleinen",
                "neighbourhood": "Kanaleneiland",
                "summary": "Vergroenen.",
                "domains": ["fysiek", "sociaal"],
            },
            fee={"amount_cents": 0, "waived": True, "reason": "middelgroot"},
            priority=True,
            preferred_domain_mix=True,
            consent={"privacy": True, "publish_municipality_name": False},
            channel="web",
        )
    )


def approval_requested(registration_id: str = "reg-1") -> Incoming:
    return envelope(
        ApprovalRequested(
            registration_id=registration_id,
            approver={"name": "Dirk", "email": "dirk@barneveld.nl"},
            approve_url=f"https://werkplaatsen.example/registrations/{registration_id}/approval?token=x",
            expires_at=utcnow() + timedelta(days=14),
        )
    )


def edition_scheduled(first_session: datetime) -> Incoming:
    return envelope(
        EditionScheduled(
            edition=EDITION,
            title="Werkplaatsen wijkgericht werken",
            venue={"name": "Stadskantoor", "address": "Stadsplateau 1", "city": "Utrecht"},
            capacity={"min_trios": 6, "max_trios": 8},
            registration_deadline=first_session - timedelta(days=14),
            registration_closes_at=first_session - timedelta(days=14),
            fee={"amount_cents": 20000},
            priority_size_classes=["middelgroot"],
            table_size=3,
            sessions=[
                {
                    "number": 1,
                    "title": "Positionering",
                    "outcome": "Inzicht",
                    "starts_at": first_session,
                    "ends_at": first_session + timedelta(hours=4),
                }
            ],
        )
    )


async def receive(store: MessageStore, msg: Incoming, offsets: str = "7d,1d") -> None:
    consumers = consumes.consumers(store, bootstrap.addresses_for(SETTINGS), parse_offsets(offsets))
    await consumers[msg.routing_key](msg)


async def rows(db: Database, kind: str | None = None) -> list[MailRow]:
    async with db.sessions() as session:
        query = select(MailRow).order_by(MailRow.recipient)
        if kind:
            query = query.where(MailRow.kind == kind)
        return list((await session.execute(query)).scalars())


async def outbox_events(db: Database, name: str) -> list[dict[str, Any]]:
    async with db.sessions() as session:
        found = (await session.execute(select(Outbox).where(Outbox.message_type == name))).scalars()
        return [json.loads(r.body) for r in found]


async def handoffs(db: Database) -> int:
    async with db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(HandoffRow))).scalar_one())


def sender(
    store: MessageStore, url: str, clock: Callable[[], datetime] = utcnow, delivery: Callable[[], Any] | None = None
) -> MailSender:
    return MailSender(store, delivery or (lambda: SmtpDelivery(url)), mail_from="wp@platform31.nl", clock=clock)


async def test_a_server_that_answers_451_twice_gets_the_mail_exactly_once(
    store: MessageStore, server: Callable[..., tuple[ScriptedServer, str]]
) -> None:
    smtp, url = server("451 4.3.0 try again later", "451 4.3.0 try again later")
    await receive(store, trio_registered(prefix="x."))
    now = utcnow()
    mails = sender(store, url, clock=lambda: now)

    # The server refuses the first two deliveries it is offered; each refused mail is retried after its backoff.
    for _ in range(4):
        await mails.send_due()
        now += timedelta(minutes=5)

    assert smtp.data_commands == 5
    assert sorted(m["To"] for m in smtp.accepted) == [
        "x.anna@barneveld.nl",
        "x.bram@barneveld.nl",
        "x.chantal@barneveld.nl",
    ]
    assert [(r.status, r.message_id is not None) for r in await rows(store.db)] == [(SENT, True)] * 3
    assert sorted(r.attempts for r in await rows(store.db)) == [1, 2, 2]
    assert len(await outbox_events(store.db, "NotificationSent")) == 3
    assert await handoffs(store.db) == 0


class CrashingDelivery(SmtpDelivery):
    """Real SMTP, but the process 'dies' at a chosen point of the two-phase send: the socket closes with it."""

    def __init__(self, url: str, at: str) -> None:
        super().__init__(url)
        self.at = at

    async def prepare(self, notification_id: str, message: EmailMessage) -> SmtpHandoff:
        handoff = await super().prepare(notification_id, message)
        if self.at == "before_handoff":
            self._drop()
            raise Crash()
        return CrashingHandoff(self, handoff)


class CrashingHandoff(SmtpHandoff):
    def __init__(self, delivery: CrashingDelivery, inner: SmtpHandoff) -> None:
        super().__init__(delivery, inner.client)
        self.crashing = delivery

    async def reply(self) -> None:
        await asyncio.sleep(0.2)  # the server takes the mail; our reading of its "250" never happens
        self.crashing._drop()
        raise Crash()


@pytest.mark.parametrize("at", ["before_handoff", "after_terminator"])
async def test_a_sender_killed_during_the_smtp_conversation_delivers_each_mail_once_after_restart(
    store: MessageStore, server: Callable[..., tuple[ScriptedServer, str]], at: str
) -> None:
    smtp, url = server()
    await receive(store, trio_registered())
    dying = sender(store, url, delivery=lambda: CrashingDelivery(url, at))

    with pytest.raises(Crash):
        await dying.send_due()
    accepted_before_restart = len(smtp.accepted)
    assert [r.status for r in await rows(store.db)] == [PENDING] * 3, "the crash rolled the attempt back"

    await sender(store, url).send_due()

    # Three workers, one mail each, all die at the same point.
    assert accepted_before_restart == (3 if at == "after_terminator" else 0)
    assert sorted(m["To"] for m in smtp.accepted) == ["anna@barneveld.nl", "bram@barneveld.nl", "chantal@barneveld.nl"]
    assert [r.status for r in await rows(store.db)] == [SENT] * 3
    sent = await outbox_events(store.db, "NotificationSent")
    assert len({e["data"]["notification_id"] for e in sent}) == len(sent) == 3
    assert await handoffs(store.db) == 0


async def test_the_sender_goes_on_after_the_database_dropped_all_its_connections(
    store: MessageStore, server: Callable[..., tuple[ScriptedServer, str]]
) -> None:
    smtp, url = server()
    mails = sender(store, url)
    await receive(store, trio_registered("reg-1"))
    await mails.send_due()
    assert len(smtp.accepted) == 3
    # A database restart, or a network cut, as the pooled connections see it: the server ends every session.
    killer = await asyncpg.connect(database_url(store.db.url.database or "").replace("+asyncpg", ""))
    try:
        await killer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await killer.close()
    second = trio_registered("reg-2", prefix="second.")
    for _ in range(3):  # the store's pool, too, may hand out a dead connection once (redelivery is harmless)
        with contextlib.suppress(Exception):
            await receive(store, second)
    for _ in range(3):  # a pass may still meet a dead connection; the next ones must not
        with contextlib.suppress(Exception):
            await mails.send_due()
    await mails.close()
    assert len(smtp.accepted) == 6


async def test_a_mail_refused_after_the_handoff_goes_back_to_pending_or_fails(
    store: MessageStore, server: Callable[..., tuple[ScriptedServer, str]]
) -> None:
    smtp, url = server("452 4.3.1 out of memory", "554 5.6.0 message refused")
    await receive(store, trio_registered())
    now = utcnow()
    await sender(store, url, clock=lambda: now).send_due()

    found = await rows(store.db)
    assert sorted(r.status for r in found) == [FAILED, PENDING, SENT]
    assert len(await outbox_events(store.db, "NotificationFailed")) == 1
    assert len(await outbox_events(store.db, "NotificationSent")) == 1
    assert await handoffs(store.db) == 0
    assert len(smtp.accepted) == 1


async def test_approval_request_and_registration_arriving_together_mail_the_approver_once(
    store: MessageStore, database: Database
) -> None:
    for i in range(10):
        messages = [approval_requested(f"reg-{i}"), trio_registered(f"reg-{i}", prefix=f"t{i}.")]
        results = await asyncio.gather(*(receive(store, m) for m in messages), return_exceptions=True)
        for message, result in zip(messages, results, strict=True):
            if isinstance(result, Exception):  # what the transport would do: deliver it again later
                await receive(store, message)
    approvals = await rows(database, "approval_request")

    assert len(approvals) == 10
    assert {r.registration_id for r in approvals} == {f"reg-{i}" for i in range(10)}


async def test_approval_request_before_the_registration_is_mailed_when_it_arrives(
    store: MessageStore, database: Database
) -> None:
    request = approval_requested()
    await receive(store, request)
    assert await rows(database) == []

    await receive(store, trio_registered())

    (approval,) = await rows(database, "approval_request")
    assert approval.caused_by == request.message_id and approval.recipient == "dirk@barneveld.nl"
    assert "https://werkplaatsen.example/registrations/reg-1/approval?token=x" in approval.text
    (ack, *_) = await rows(database, "acknowledgement")
    assert "https://werkplaatsen.example/registrations/reg-1?token=" in ack.text


async def test_two_replicas_send_each_reminder_once(
    pg_database: Callable[..., Any], server: Callable[..., tuple[ScriptedServer, str]]
) -> None:
    name = await pg_database("notifications")
    replicas = [Database(database_url(name)) for _ in range(2)]
    await migrate(replicas[0], bootstrap.MIGRATIONS, "notifications")
    store = MessageStore(replicas[0], "notifications", Outbox, Inbox, CommandRejected)
    session_starts = utcnow() + timedelta(hours=12)
    await receive(store, edition_scheduled(session_starts))
    trios = [f"reg-{i}" for i in range(12)]
    for i, registration_id in enumerate(trios):
        await receive(store, trio_registered(registration_id, prefix=f"r{i}."))
        await receive(store, envelope(TrioPlaced(registration_id=registration_id, edition=EDITION, via="allocation")))
    smtp, url = server()
    replica_stores = [MessageStore(db, "notifications", Outbox, Inbox, CommandRejected) for db in replicas]
    senders = [
        MailSender(
            s,
            lambda: SmtpDelivery(url),
            mail_from="wp@platform31.nl",
            concurrency=4,
            poll_interval=0.05,
            queue_reminders=bootstrap.reminder_queue(s),
        )
        for s in replica_stores
    ]
    tasks = [asyncio.create_task(s.run()) for s in senders]
    try:
        await wait_until(lambda: len(smtp.accepted) >= 36, timeout=120, what="acknowledgements and placements")
        smtp.accepted.clear()
        # Both offsets (7d and 1d) are already due: each trio gets the latest reminder, once.
        await receive(
            store,
            envelope(
                SeatingPlanned(
                    edition=EDITION,
                    session_number=1,
                    tables=[{"table": 1 + i // 3, "registration_ids": trios[i : i + 3]} for i in range(0, 12, 3)],
                )
            ),
        )
        for s in senders:
            s.wake()
        # Bounded generously: on a loaded 2-core machine 72 SMTP conversations can take well over 30 s.
        await wait_until(lambda: _reminders_sent(replicas[0], 36), timeout=120, what="36 reminders sent")
        await asyncio.sleep(0.3)  # a few more passes of both senders: nothing more may go out
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for db in replicas:
            await db.dispose()

    # A long subject is folded right after "Subject:"; Python's parser keeps the folding space.
    reminders = [m for m in smtp.accepted if m["Subject"].strip().startswith("Herinnering")]
    assert len(reminders) == 36
    assert len({m["To"] for m in reminders}) == 36
    assert any("tafel 4" in m.get_body(("plain",)).get_content() for m in reminders)


async def test_replans_of_one_session_on_two_replicas_each_apply_at_the_first_attempt(
    pg_database: Callable[..., Any],
) -> None:
    name = await pg_database("notifications")
    replicas = [Database(database_url(name)) for _ in range(2)]
    await migrate(replicas[0], bootstrap.MIGRATIONS, "notifications")
    stores = [MessageStore(db, "notifications", Outbox, Inbox, CommandRejected) for db in replicas]
    trios = [f"reg-{i}" for i in range(24)]
    try:
        await receive(stores[0], edition_scheduled(utcnow() + timedelta(days=30)))
        replans = [
            envelope(
                SeatingPlanned(
                    edition=EDITION,
                    session_number=1,
                    tables=[
                        {"table": 1 + (i // 3 + shift) % 8, "registration_ids": trios[i : i + 3]}
                        for i in range(0, 24, 3)
                    ],
                )
            )
            for shift in range(8)
        ]
        # A consumer raises when its message must be retried: gather fails the test on the first retry.
        await asyncio.gather(*(receive(stores[i % 2], replan) for i, replan in enumerate(replans)))
        async with replicas[0].sessions() as session:
            planned = (await session.execute(select(func.count()).select_from(ReminderRow))).scalar_one()
    finally:
        for db in replicas:
            await db.dispose()
    assert planned == len(trios) * 2  # offsets 7d and 1d


@pytest.mark.parametrize("trios", [3, 300])
async def test_planning_a_sessions_reminders_costs_the_same_statements_for_one_table_as_for_a_hundred(
    pg_database: Callable[..., Any], trios: int
) -> None:
    db = Database(database_url(await pg_database("notifications")))
    await migrate(db, bootstrap.MIGRATIONS, "notifications")
    store = MessageStore(db, "notifications", Outbox, Inbox, CommandRejected)
    ids = [f"reg-{i}" for i in range(trios)]
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    try:
        await receive(store, edition_scheduled(utcnow() + timedelta(days=30)))
        first, moved = (
            envelope(
                SeatingPlanned(
                    edition=EDITION,
                    session_number=1,
                    tables=[
                        {"table": 1 + (i // 3 + shift) % 100, "registration_ids": ids[i : i + 3]}
                        for i in range(0, trios, 3)
                    ],
                )
            )
            for shift in (0, 1)
        )
        await receive(store, first)
        sql_events.listen(db.engine.sync_engine, "before_cursor_execute", count)
        await receive(store, moved)  # every trio at another table
        sql_events.remove(db.engine.sync_engine, "before_cursor_execute", count)
        async with db.sessions() as session:
            tables = (await session.execute(select(ReminderRow.registration_id, ReminderRow.table_number))).all()
    finally:
        await db.dispose()
    reminder_writes = [
        s for s in statements if "reminders" in s and s.lstrip().upper().startswith(("INSERT", "UPDATE"))
    ]
    assert len(reminder_writes) == 1  # one upsert for the whole plan, not one per trio and offset
    assert len(tables) == trios * 2 and {t for _, t in tables} <= set(range(1, 101))
    assert dict(tables)["reg-0"] == 2  # moved to the new table


async def _reminders_sent(db: Database, expected: int) -> bool:
    found = await rows(db, "reminder")
    return len(found) == expected and all(r.status == SENT for r in found)


async def test_organisers_read_a_registrations_notification_log_with_the_token_only(
    store: MessageStore, server: Callable[..., tuple[ScriptedServer, str]]
) -> None:
    _, url = server()
    await receive(store, trio_registered())
    await receive(store, trio_registered("reg-2", prefix="other."))
    await receive(store, approval_requested())
    await sender(store, url).send_due()
    app = Starlette(routes=entrypoints.routes(store, ORGANIZER_TOKEN))

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as client:
        anonymous = await client.get("/api/notifications", params={"registration_id": "reg-1"})
        wrong = await client.get(
            "/api/notifications", params={"registration_id": "reg-1"}, headers={"Authorization": "Bearer nope"}
        )
        log = await client.get(
            "/api/notifications",
            params={"registration_id": "reg-1"},
            headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"},
        )
        missing = await client.get("/api/notifications", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"})

    assert anonymous.status_code == 401 and wrong.status_code == 401
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "registration_id"
    entries = log.json()["notifications"]
    assert sorted((e["kind"], e["recipient"]) for e in entries) == [
        ("acknowledgement", "anna@barneveld.nl"),
        ("acknowledgement", "bram@barneveld.nl"),
        ("acknowledgement", "chantal@barneveld.nl"),
        ("approval_request", "dirk@barneveld.nl"),
    ]
    assert all(e["status"] == SENT and e["attempts"] == 1 and e["sent_at"] for e in entries)
    assert all(e["message_id"] == f"<{e['notification_id']}@platform31.nl>" for e in entries)
    assert "text" not in entries[0] and "html" not in entries[0]


async def test_erasure_blanks_the_registrations_mails_and_copy_in_the_store(
    store: MessageStore, database: Database, server: Callable[..., tuple[ScriptedServer, str]]
) -> None:
    _, url = server()
    await receive(store, trio_registered())
    await receive(store, trio_registered("reg-2", prefix="other."))
    await sender(store, url).send_due()
    await receive(store, approval_requested())  # not sent yet when the erasure comes
    await receive(store, envelope(ParticipantDataErased(registration_id="reg-1")))

    mine = [r for r in await rows(database) if r.registration_id == "reg-1"]
    assert len(mine) == 4
    assert all(r.recipient == "" and r.text == "" and r.subject == "" and r.html is None for r in mine)
    assert sorted(r.status for r in mine) == [ERASED, SENT, SENT, SENT]
    others = [r for r in await rows(database) if r.registration_id == "reg-2"]
    assert all(r.recipient.startswith("other.") and r.text for r in others)
    async with database.sessions() as session:
        copy = await session.get(RegistrationRow, "reg-1")
    assert copy is not None and copy.erased and copy.details is None and copy.approval is None
    assert await sender(store, url).send_due() == 0


class LostHandoffSender(MailSender):
    """The database goes away mid-send: the handoff row's INSERT is lost, and so is transaction A."""

    def __init__(self, store: MessageStore, url: str) -> None:
        super().__init__(store, lambda: SmtpDelivery(url), mail_from="wp@platform31.nl")
        self.attempts.handoffs = LostHandoffs(store.db)


class LostHandoffs(Handoffs):
    def __init__(self, db: Database) -> None:
        super().__init__(db, utcnow, pool_size=1)
        self.cut = False

    async def hand_over(self, mail: Any, handoff: Handoff) -> None:
        handoff.expect_reply()
        handoff.terminate()  # the INSERT that should have come first never reached the database
        if not self.cut:
            self.cut = True
            await handoff.reply()  # the server has taken the mail ...
            await _terminate_connections(self.db)  # ... and then every connection of the database drops


async def _terminate_connections(db: Database) -> None:
    killer = await asyncpg.connect(database_url(db.url.database or "").replace("+asyncpg", ""))
    try:
        await killer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await killer.close()


async def test_a_mail_the_server_took_while_the_database_went_away_is_recorded_not_sent_again(
    store: MessageStore, server: Callable[..., tuple[ScriptedServer, str]]
) -> None:
    smtp, url = server()
    await receive(store, approval_requested())
    await receive(store, trio_registered())  # the approval request is mailed once its registration is known
    mails = LostHandoffSender(store, url)
    mails.concurrency = 1

    for _ in range(8):  # the first passes meet the cut; later ones may meet a dead pooled connection once
        with contextlib.suppress(Exception):
            await mails.send_due()
        if all(r.status == SENT for r in await rows(store.db)):
            break
    await mails.close()

    assert sorted(m["To"] for m in smtp.accepted) == [
        "anna@barneveld.nl",
        "bram@barneveld.nl",
        "chantal@barneveld.nl",
        "dirk@barneveld.nl",
    ]
    assert [r.status for r in await rows(store.db)] == [SENT] * 4
    sent = await outbox_events(store.db, "NotificationSent")
    assert len({e["data"]["notification_id"] for e in sent}) == len(sent) == 4
