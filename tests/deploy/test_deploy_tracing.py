"""The outbox carries the trace of the work that wrote an event to the relay that publishes it."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

from services.scheduling.adapters import Outbox
from services.scheduling.bootstrap import MIGRATIONS
from shared.contract.scheduling import PlaceReleased
from shared.db import Database, migrate
from shared.messaging.messages import Outgoing
from shared.messaging.outbox import Cause, OutboxRelay
from shared.messaging.outbox import Outbox as OutboxWriter
from shared.tracing import configure_tracing


async def write_event(db: Database) -> None:
    async with db.transaction() as session:
        outbox = OutboxWriter(session, Outbox, "scheduling", Cause("m", "c"))
        outbox.emit(PlaceReleased(registration_id="r", edition="e"))


async def test_an_event_written_inside_a_span_is_published_in_that_trace(tmp_path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 's.sqlite3'}")
    await migrate(db, MIGRATIONS, "scheduling")
    provider = configure_tracing("scheduling", exporter=InMemorySpanExporter())
    seen: list[int] = []

    async def publish(_: Outgoing) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    with provider.get_tracer("test").start_as_current_span("handling a command") as span:
        await write_event(db)
    async with db.sessions() as session:
        (headers,) = (await session.execute(select(Outbox.headers))).scalars()
    await OutboxRelay(db, Outbox, publish).publish_pending()  # later, in another task, outside the span
    await db.dispose()
    provider.shutdown()

    assert headers["traceparent"].split("-")[1] == format(span.get_span_context().trace_id, "032x")
    assert seen == [span.get_span_context().trace_id]


async def test_without_tracing_outbox_rows_carry_no_trace_headers(tmp_path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 's.sqlite3'}")
    await migrate(db, MIGRATIONS, "scheduling")
    await write_event(db)
    async with db.sessions() as session:
        assert list((await session.execute(select(Outbox.headers))).scalars()) == [{}]
    await db.dispose()
