"""Notifications against real PostgreSQL and a real SMTP server (aiosmtpd): each acknowledgement is sent once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import structlog.testing
from aiosmtpd.controller import Controller
from sqlalchemy import select

from services.notifications import bootstrap, consumes
from services.notifications.delivery import SmtpDelivery
from services.notifications.domain import FAILED, MAX_ATTEMPTS, PENDING, SENT, parse_offsets
from services.notifications.sender import MailSender
from services.notifications.store import Inbox, MailRow, Outbox
from shared.contract import Event
from shared.contract.common import CommandRejected, EventData
from shared.contract.registration import TrioRegistered
from shared.contract.scheduling import EditionScheduled
from shared.db import Database, migrate, utcnow
from shared.messaging.messages import Incoming
from shared.messaging.processing import MessageStore
from shared.settings import Settings
from tests.support import RecordingTransport, SmtpSink, database_url, free_port, wait_until

pytestmark = pytest.mark.integration

EDITION = "2027-najaar"
CASE = "Groene bewonersinitiatieven in Kanaleneiland"


class SlowCollect:
    """An aiosmtpd handler that takes its time, so that competing senders overlap."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        await asyncio.sleep(self.delay)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def trio_registered(*, registration_id: str = "reg-1", event_id: str | None = None, prefix: str = "") -> Incoming:
    data = TrioRegistered(
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
            "title": CASE,
            "neighbourhood": "Kanaleneiland",
            "summary": "Bewoners willen vergroenen.",
            "domains": ["fysiek", "sociaal"],
        },
        fee={"amount_cents": 0, "waived": True, "reason": "middelgroot"},
        priority=True,
        preferred_domain_mix=True,
        consent={"privacy": True, "publish_municipality_name": False},
        channel="web",
    )
    return envelope(data, "registration", event_id)


def edition_scheduled() -> Incoming:
    starts = datetime(2027, 10, 12, 11, tzinfo=UTC)
    data = EditionScheduled(
        edition=EDITION,
        title="Werkplaatsen wijkgericht werken",
        venue={"name": "Stadskantoor", "address": "Stadsplateau 1", "city": "Utrecht"},
        capacity={"min_trios": 6, "max_trios": 8},
        registration_deadline=starts - timedelta(days=14),
        registration_closes_at=starts - timedelta(days=14),
        fee={"amount_cents": 20000},
        priority_size_classes=["middelgroot"],
        table_size=3,
        sessions=[
            {
                "number": 1,
                "title": "Positionering",
                "outcome": "Inzicht",
                "starts_at": starts,
                "ends_at": starts + timedelta(hours=4),
            }
        ],
    )
    return envelope(data, "scheduling")


def envelope(data: EventData, producer: str | None = None, event_id: str | None = None) -> Incoming:
    name = data.routing_key.split(".", 1)[1]
    event = Event[type(data)](  # type: ignore[misc]
        event_id=event_id or str(uuid.uuid4()),
        type=name,
        version=1,
        occurred_at=utcnow(),
        producer=producer or data.routing_key.split(".", 1)[0],
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


@pytest.fixture
async def database(pg_database: Callable[..., Any]) -> AsyncIterator[Database]:
    db = Database(database_url(await pg_database("notifications")))
    await migrate(db, bootstrap.MIGRATIONS, "notifications")
    yield db
    await db.dispose()


@pytest.fixture
def store(database: Database) -> MessageStore:
    return MessageStore(database, "notifications", Outbox, Inbox, CommandRejected)


SETTINGS = Settings(
    werkplaatsen_mail_from="Werkplaatsen <wp@platform31.nl>",
    werkplaatsen_public_url="https://werkplaatsen.example",
    werkplaatsen_secret_key="s3cret",
)


async def receive(store: MessageStore, msg: Incoming, offsets: str = "7d,1d") -> None:
    consumers = consumes.consumers(store, bootstrap.addresses_for(SETTINGS), parse_offsets(offsets))
    await consumers[msg.routing_key](msg)


async def mails(db: Database) -> list[MailRow]:
    async with db.sessions() as session:
        return list((await session.execute(select(MailRow).order_by(MailRow.recipient))).scalars())


async def outbox_events(db: Database, name: str) -> list[dict[str, Any]]:
    async with db.sessions() as session:
        rows = (await session.execute(select(Outbox).where(Outbox.message_type == name))).scalars()
        return [json.loads(r.body) for r in rows]


async def test_trio_registered_twice_sends_three_acknowledgements_once(
    pg_database: Callable[..., Any], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    url = database_url(await pg_database("notifications"))
    settings = Settings(
        notifications_database_url=url,
        werkplaatsen_smtp_url=smtp_sink.url,
        werkplaatsen_data_dir=tmp_path,
        werkplaatsen_mail_from="Werkplaatsen <wp@platform31.nl>",
    )
    transport = RecordingTransport()
    service = bootstrap.build(settings, transport)
    await service.start()
    try:
        await service.consumers["scheduling.EditionScheduled"](edition_scheduled())
        event = trio_registered()
        await service.consumers["registration.TrioRegistered"](event)
        await service.consumers["registration.TrioRegistered"](event)

        await wait_until(
            lambda: len(transport.events("NotificationSent")) == 3, timeout=20, what="three NotificationSent events"
        )
        rows = await mails(service.store.db)
    finally:
        await service.stop()

    assert [r.status for r in rows] == [SENT, SENT, SENT]
    assert len(smtp_sink.messages) == 3
    assert sorted(r[0] for r, _ in smtp_sink.messages) == [
        "anna@barneveld.nl",
        "bram@barneveld.nl",
        "chantal@barneveld.nl",
    ]
    for _, message in smtp_sink.messages:
        assert message["Subject"] == "Aanmelding ontvangen: Werkplaatsen wijkgericht werken (2027-najaar)"
        assert CASE in message.get_body(("plain",)).get_content()
        assert message["From"] == "Werkplaatsen <wp@platform31.nl>"
    assert {m["Message-ID"] for _, m in smtp_sink.messages} == {f"<{r.notification_id}@platform31.nl>" for r in rows}
    sent = transport.events("NotificationSent")
    assert {e["data"]["notification_id"] for e in sent} == {str(r.notification_id) for r in rows}
    assert {(e["correlation_id"], e["causation_id"], e["data"]["caused_by"]) for e in sent} == {
        ("corr-1", event.message_id, event.message_id)
    }


async def test_a_refusing_server_leaves_the_mail_pending_and_retries_after_the_backoff(
    store: MessageStore, smtp_sink: SmtpSink
) -> None:
    await receive(store, trio_registered())
    now = utcnow()
    sender = MailSender(store, lambda: SmtpDelivery(smtp_sink.url), mail_from="wp@platform31.nl", clock=lambda: now)
    smtp_sink.refuse = True

    with structlog.testing.capture_logs() as logs:
        assert await sender.send_due() == 3

    assert "barneveld" not in repr(logs).lower() and "anna" not in repr(logs).lower()

    rows = await mails(store.db)
    assert [(r.status, r.attempts) for r in rows] == [(PENDING, 1)] * 3
    assert all("451" in (r.last_error or "") for r in rows)
    assert all(r.next_attempt_at == now + timedelta(seconds=5) for r in rows)
    assert smtp_sink.messages == []

    smtp_sink.refuse = False
    assert await sender.send_due() == 0, "not due again before the backoff has passed"
    now += timedelta(seconds=6)
    assert await sender.send_due() == 3

    rows = await mails(store.db)
    assert [(r.status, r.attempts) for r in rows] == [(SENT, 2)] * 3
    assert len(smtp_sink.messages) == 3
    assert len(await outbox_events(store.db, "NotificationSent")) == 3


async def test_a_mail_that_keeps_failing_is_given_up_and_reported(store: MessageStore, smtp_sink: SmtpSink) -> None:
    await receive(store, trio_registered())
    now = utcnow()
    sender = MailSender(store, lambda: SmtpDelivery(smtp_sink.url), mail_from="wp@platform31.nl", clock=lambda: now)
    smtp_sink.refuse = True

    for _ in range(MAX_ATTEMPTS):
        await sender.send_due()
        now += timedelta(hours=3)
    assert await sender.send_due() == 0

    rows = await mails(store.db)
    assert [(r.status, r.attempts) for r in rows] == [(FAILED, MAX_ATTEMPTS)] * 3
    failed = await outbox_events(store.db, "NotificationFailed")
    assert {e["data"]["notification_id"] for e in failed} == {str(r.notification_id) for r in rows}
    assert all("451" in e["data"]["reason"] and "@" not in e["data"]["reason"] for e in failed)
    assert await outbox_events(store.db, "NotificationSent") == []


async def test_a_permanent_refusal_fails_the_mail_at_once_and_its_reason_does_not_repeat_the_address(
    store: MessageStore,
) -> None:
    class RefuseRecipient:
        async def handle_RCPT(  # noqa: N802 - the name aiosmtpd calls
            self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
        ) -> str:
            return f"550 5.1.1 <{address}>: Recipient address rejected"

    controller = Controller(RefuseRecipient(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        await receive(store, trio_registered())
        sender = MailSender(
            store, lambda: SmtpDelivery(f"smtp://127.0.0.1:{controller.port}"), mail_from="wp@platform31.nl"
        )
        await sender.send_due()
    finally:
        controller.stop()

    rows = await mails(store.db)
    assert all(r.status == FAILED and r.attempts == 1 and "550" in (r.last_error or "") for r in rows)
    assert all("@barneveld.nl" not in (r.last_error or "") for r in rows)
    failed = await outbox_events(store.db, "NotificationFailed")
    assert len(failed) == 3 and all("@" not in e["data"]["reason"] for e in failed)


async def test_two_competing_senders_send_each_mail_exactly_once(pg_database: Callable[..., Any]) -> None:
    name = await pg_database("notifications")
    replicas = [Database(database_url(name)) for _ in range(2)]
    await migrate(replicas[0], bootstrap.MIGRATIONS, "notifications")
    store = MessageStore(replicas[0], "notifications", Outbox, Inbox, CommandRejected)
    for i in range(20):
        await receive(store, trio_registered(registration_id=f"reg-{i}", prefix=f"t{i}."))

    smtp = SlowCollect(delay=0.02)
    controller = Controller(smtp, hostname="127.0.0.1", port=free_port())
    controller.start()
    attempts_by = [0, 0]

    def counting(replica: int) -> Callable[[], SmtpDelivery]:
        def make() -> SmtpDelivery:
            delivery = SmtpDelivery(f"smtp://127.0.0.1:{controller.port}")
            prepare = delivery.prepare

            async def counted(notification_id: str, message: EmailMessage) -> Any:
                handoff = await prepare(notification_id, message)
                attempts_by[replica] += 1
                return handoff

            delivery.prepare = counted  # type: ignore[method-assign]
            return delivery

        return make

    senders = [
        MailSender(
            MessageStore(db, "notifications", Outbox, Inbox, CommandRejected),
            counting(i),
            mail_from="wp@platform31.nl",
            concurrency=4,
            poll_interval=0.1,
        )
        for i, db in enumerate(replicas)
    ]
    tasks = [asyncio.create_task(s.run()) for s in senders]
    try:
        await wait_until(lambda: _all_sent(replicas[0], 60), timeout=60, what="60 mails sent")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        controller.stop()
        for db in replicas:
            await db.dispose()

    assert len(smtp.messages) == 60
    assert len({m["Message-ID"] for m in smtp.messages}) == 60
    assert sum(attempts_by) == 60
    assert all(attempts_by), f"both replicas should have sent some mail: {attempts_by}"


async def _all_sent(db: Database, expected: int) -> bool:
    rows = await mails(db)
    return len(rows) == expected and all(r.status == SENT for r in rows)


async def test_without_smtp_mails_become_eml_files_and_show_in_the_mailbox(tmp_path: Path) -> None:
    import httpx
    from starlette.applications import Starlette

    from services.notifications.entrypoints import mailbox_routes

    settings = Settings(werkplaatsen_data_dir=tmp_path, notifications_database_url=None, werkplaatsen_smtp_url=None)
    service = bootstrap.build(settings, RecordingTransport())
    await service.start()
    try:
        await service.consumers["registration.TrioRegistered"](trio_registered())
        await wait_until(lambda: len(list((tmp_path / "mail").glob("*.eml"))) == 3, timeout=20, what="three .eml files")
        await wait_until(lambda: _all_sent(service.store.db, 3), timeout=20, what="three mails marked sent")

        app = Starlette(routes=mailbox_routes(service.store))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dev") as client:
            page = await client.get("/dev/mailbox")
            listing = (await client.get("/dev/mailbox.json")).json()
    finally:
        await service.stop()

    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert {f.stem for f in files} == {m["notification_id"] for m in listing["mails"]}
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["Subject"].startswith("Aanmelding ontvangen")
    assert page.status_code == 200
    assert "Aanmelding ontvangen" in page.text and CASE in page.text
    assert [m["status"] for m in listing["mails"]] == [SENT, SENT, SENT]
    assert all(CASE in m["text"] for m in listing["mails"])


async def test_the_database_refuses_a_second_mail_for_the_same_event_even_without_the_inbox(database: Database) -> None:
    from services.notifications import handlers
    from services.notifications.store import SqlEditions, SqlMails, SqlRegistrations

    event = Event[TrioRegistered].model_validate_json(trio_registered().body)
    for _ in range(2):
        async with database.transaction() as session:
            await handlers.acknowledge_registration(
                event.data,
                envelope=event,
                editions=SqlEditions(session),
                registrations=SqlRegistrations(session),
                mails=SqlMails(session),
                emit=lambda _event: None,
                addresses=bootstrap.addresses_for(SETTINGS),
                now=utcnow(),
            )

    assert len(await mails(database)) == 3


async def test_superseding_skips_the_mail_a_sender_is_handing_over_and_does_not_wait_for_it(database: Database) -> None:
    from services.notifications.domain import SUPERSEDED, Mail
    from services.notifications.store import SqlMails

    def waitlist_mail(position: int, *, kind: str = "waitlisted", registration_id: str = "reg-1") -> Mail:
        return Mail(
            notification_id=str(uuid.uuid4()),
            kind=kind,
            caused_by=f"event-{position}",
            correlation_id="c",
            registration_id=registration_id,
            recipient="anna@barneveld.nl",
            language="nl",
            subject=f"Wachtlijst, plaats {position}",
            text="...",
            html=None,
            created_at=utcnow(),
            next_attempt_at=utcnow(),
        )

    handing_over, stale, acknowledgement, other_trio = (
        waitlist_mail(5),
        waitlist_mail(4),
        waitlist_mail(0, kind="acknowledgement"),
        waitlist_mail(3, registration_id="reg-2"),
    )
    async with database.transaction() as session:
        assert len(await SqlMails(session).add([handing_over, stale, acknowledgement, other_trio])) == 4

    async with database.transaction() as sender:  # a sender's transaction A holds the row lock of the first
        await sender.execute(
            select(MailRow).where(MailRow.notification_id == uuid.UUID(handing_over.notification_id)).with_for_update()
        )
        async with database.transaction() as session:
            superseded = await asyncio.wait_for(SqlMails(session).supersede("reg-1", "waitlisted"), timeout=5)

    assert superseded == 1
    statuses = {str(m.notification_id): m.status for m in await mails(database)}
    assert statuses == {
        handing_over.notification_id: PENDING,
        stale.notification_id: SUPERSEDED,
        acknowledgement.notification_id: PENDING,
        other_trio.notification_id: PENDING,
    }
