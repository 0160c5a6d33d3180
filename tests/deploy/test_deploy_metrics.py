"""/metrics: outbox backlog and age, published and dead-lettered counts, gauges a service fills from its database."""

from __future__ import annotations

import httpx
from prometheus_client import Gauge
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.scheduling.adapters import Inbox, Outbox
from services.scheduling.bootstrap import MIGRATIONS
from shared.contract.scheduling import PlaceReleased, SchedulingCommandRejected
from shared.db import Database, migrate
from shared.messaging.delivery import deliver
from shared.messaging.messages import Incoming, Outgoing, PermanentFailure
from shared.messaging.outbox import Cause, OutboxRelay
from shared.messaging.outbox import Outbox as OutboxWriter
from shared.messaging.processing import MessageStore
from shared.metrics import query_gauge
from shared.runtime import Service, build_app


class Base(DeclarativeBase):
    pass


class Registration(Base):
    __tablename__ = "registrations"
    id: Mapped[str] = mapped_column(String(10), primary_key=True)
    edition: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))


TEST_GAUGE = Gauge("werkplaatsen_test_registrations", "test only", ["edition", "status"])


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


class NoBroker:
    def __init__(self) -> None:
        self.published: list[Outgoing] = []

    async def start(self, consumers: object) -> None: ...
    async def stop(self) -> None: ...
    async def ping(self) -> bool:
        return True

    async def publish(self, out: Outgoing) -> None:
        self.published.append(out)


async def emit_one(db: Database) -> None:
    async with db.transaction() as session:
        outbox = OutboxWriter(session, Outbox, "scheduling", Cause("m", "c"))
        outbox.emit(PlaceReleased(registration_id="r", edition="e"))


async def test_query_gauge_follows_the_database_and_forgets_labels_that_are_gone(tmp_path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'r.sqlite3'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with db.transaction() as session:
        session.add_all(
            [
                Registration(id="1", edition="e", status="placed"),
                Registration(id="2", edition="e", status="placed"),
                Registration(id="3", edition="e", status="waitlisted"),
            ]
        )
    hook = query_gauge(
        db,
        TEST_GAUGE,
        select(Registration.edition, Registration.status, func.count()).group_by(
            Registration.edition, Registration.status
        ),
    )
    await hook()
    assert TEST_GAUGE.labels("e", "placed")._value.get() == 2
    async with db.transaction() as session:
        (await session.get(Registration, "3")).status = "placed"
    await hook()
    from prometheus_client import generate_latest

    found = samples(generate_latest().decode(), "werkplaatsen_test_registrations")
    assert found == {(("edition", "e"), ("status", "placed")): 3.0}
    await db.dispose()


async def test_metrics_show_the_outbox_backlog_its_age_and_what_was_published(tmp_path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'scheduling.sqlite3'}")
    broker = NoBroker()
    failing_hook_ran: list[bool] = []

    async def broken_hook() -> None:
        failing_hook_ran.append(True)
        raise RuntimeError("a query that fails must not break the scrape")

    svc = Service(
        name="scheduling",
        store=MessageStore(db, "scheduling", Outbox, Inbox, SchedulingCommandRejected),
        relay=OutboxRelay(db, Outbox, broker.publish, poll_interval=60),
        transport=broker,
        migrations=MIGRATIONS,
        consumers={},
        metrics=[broken_hook],
    )
    await migrate(db, MIGRATIONS, "scheduling")  # the service is not started: no relay runs beside the test
    try:
        await emit_one(db)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app([svc])), base_url="http://s") as http:
            before = (await http.get("/metrics")).text
            await svc.relay.publish_pending()
            after = (await http.get("/metrics")).text
    finally:
        await db.dispose()
    label = (("service", "scheduling"),)
    assert samples(before, "werkplaatsen_outbox_pending")[label] == 1
    assert samples(before, "werkplaatsen_outbox_oldest_age_seconds")[label] >= 0
    assert samples(after, "werkplaatsen_outbox_pending")[label] == 0
    assert samples(after, "werkplaatsen_outbox_oldest_age_seconds")[label] == 0
    published = samples(after, "werkplaatsen_outbox_published_total")
    assert published[(("message_type", "PlaceReleased"), ("service", "scheduling"))] >= 1
    assert failing_hook_ran


async def test_a_dead_lettered_message_is_counted() -> None:
    async def poison(_: Incoming) -> None:
        raise PermanentFailure("does not match the contract")

    from shared.metrics import DEAD_LETTERS

    counter = DEAD_LETTERS.labels("reporting", "scheduling.SessionCompleted")
    before = counter._value.get()
    verdict = await deliver(
        "reporting",
        {"scheduling.SessionCompleted": poison},
        Incoming(body=b"{}", routing_key="scheduling.SessionCompleted", message_id="x"),
    )
    assert verdict.action == "dead_letter"
    assert counter._value.get() == before + 1
