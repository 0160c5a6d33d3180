"""A command naming something another service has not announced yet waits for it (bounded), then is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from services.scheduling.adapters import Inbox, Outbox
from services.scheduling.bootstrap import MIGRATIONS
from shared.contract.scheduling import CloseRegistration, SchedulingCommandRejected
from shared.db import Database, migrate
from shared.messaging.delivery import deliver
from shared.messaging.messages import Incoming, NotYetKnown, may_wait_for_announcement, not_yet_known
from shared.messaging.processing import MessageStore
from shared.messaging.wiring import Consumers, Dependencies, on, subscribe

BODY = b'{"edition": "2027-voorjaar", "reply_to": "amq.gen-reply"}'
KEY = CloseRegistration.routing_key
LATER = datetime(2027, 3, 1, 9, 0, 6, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[MessageStore]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'not-yet.sqlite3'}")
    await migrate(db, MIGRATIONS, "scheduling")
    yield MessageStore(db, "scheduling", Outbox, Inbox, SchedulingCommandRejected)
    await db.dispose()


@pytest.fixture
def known() -> set[str]:
    return set()


@pytest.fixture
def consumers(store: MessageStore, known: set[str]) -> Consumers:
    async def close(cmd: CloseRegistration) -> dict[str, str]:
        if cmd.edition not in known:
            raise not_yet_known("edition", "unknown_edition", "Deze editie bestaat niet.")
        return {"edition": cmd.edition}

    return subscribe([on(CloseRegistration, close)], store)


def delivered(attempt: int, *, retryable: bool = True) -> Incoming:
    return Incoming(body=BODY, routing_key=KEY, message_id="m-1", attempt=attempt, retryable=retryable)


async def outbox(store: MessageStore) -> list[str]:
    async with store.db.sessions() as session:
        return sorted((await session.execute(select(Outbox.message_type))).scalars())


async def test_while_the_wait_lasts_the_command_is_retried_with_no_reply_no_rejection_and_no_inbox_claim(
    store: MessageStore, consumers: Consumers
) -> None:
    for attempt, delay in ((1, 1.0), (2, 5.0), (3, 30.0)):
        verdict = await deliver("scheduling", consumers, delivered(attempt))
        assert (verdict.action, verdict.delay) == ("retry", delay)
        assert "unknown_edition" in verdict.reason
    assert await outbox(store) == []  # neither a CommandRejected nor a reply to the waiting caller
    assert await store.outcome("m-1", "CloseRegistration") is None


async def test_when_the_announcement_arrives_during_the_wait_the_command_is_carried_out(
    store: MessageStore, consumers: Consumers, known: set[str]
) -> None:
    assert (await deliver("scheduling", consumers, delivered(1))).action == "retry"
    known.add("2027-voorjaar")
    assert (await deliver("scheduling", consumers, delivered(2))).action == "ack"
    outcome = await store.outcome("m-1", "CloseRegistration")
    assert outcome is not None and outcome["status"] == "accepted"


async def test_after_the_wait_the_command_is_refused_with_its_stable_code_and_dutch_message(
    store: MessageStore, consumers: Consumers
) -> None:
    assert not may_wait_for_announcement(4)  # 1 + 5 + 30 s waited: past the bound
    assert (await deliver("scheduling", consumers, delivered(4))).action == "ack"
    outcome = await store.outcome("m-1", "CloseRegistration")
    assert outcome is not None and outcome["status"] == "rejected"
    assert [(e["field"], e["code"], e["message"]) for e in outcome["errors"]] == [
        ("edition", "unknown_edition", "Deze editie bestaat niet.")
    ]
    assert await outbox(store) == ["CommandRejected", "Reply"]


async def test_a_caller_without_a_retry_queue_gets_the_refusal_at_once_and_its_repeat_is_carried_out_later(
    store: MessageStore, consumers: Consumers, known: set[str]
) -> None:
    reply = await consumers.command(CloseRegistration, delivered(1, retryable=False))
    assert reply.status == "rejected" and [e.code for e in reply.errors] == ["unknown_edition"]
    # Nothing kept: the same request (an HTTP Idempotency-Key) is not refused for ever.
    assert await store.outcome("m-1", "CloseRegistration") is None and await outbox(store) == []
    known.add("2027-voorjaar")
    again = await consumers.command(CloseRegistration, delivered(1, retryable=False))
    assert again.status == "accepted"


async def test_an_event_handler_that_is_not_yet_able_is_retried_then_dead_lettered_like_any_failure() -> None:
    async def waiting(msg: Incoming) -> None:
        raise NotYetKnown([])

    assert (await deliver("scheduling", {KEY: waiting}, delivered(1))).action == "retry"
    assert (await deliver("scheduling", {KEY: waiting}, delivered(5))).action == "dead_letter"


async def test_a_command_back_from_the_retry_queue_is_given_the_moment_it_was_first_received(
    store: MessageStore,
) -> None:
    seen: list[object] = []

    async def close(cmd: CloseRegistration, *, received_at: datetime, now: datetime) -> None:
        seen.append((received_at, now))

    consumers = subscribe([on(CloseRegistration, close)], store, Dependencies(clock=lambda: LATER))
    first = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    await consumers[KEY](delivered(1))
    await consumers[KEY](replace(delivered(2), message_id="m-2", first_received_at=first))
    assert seen == [(LATER, LATER), (first, LATER)]
