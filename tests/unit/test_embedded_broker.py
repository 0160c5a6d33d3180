"""The embedded broker of `werkplaatsen dev`: routing, durability, retries and dead letters."""

from __future__ import annotations

import asyncio

from shared.messaging import messages
from shared.messaging.embedded import EmbeddedBroker, topic_matches
from shared.messaging.messages import Incoming, Outgoing, PermanentFailure
from tests.support import wait_until


def event(routing_key: str, message_id: str = "m1") -> Outgoing:
    return Outgoing(
        exchange="werkplaatsen.events",
        routing_key=routing_key,
        body=b"{}",
        message_id=message_id,
        message_type=routing_key.split(".")[1],
        correlation_id="c1",
    )


def test_topic_patterns_match_like_amqp() -> None:
    assert topic_matches("registration.*", "registration.TrioRegistered")
    assert not topic_matches("registration.*", "scheduling.TrioPlaced")
    assert topic_matches("#", "a.b.c")
    assert topic_matches("a.#", "a")
    assert not topic_matches("a.*", "a.b.c")


async def test_an_event_reaches_every_service_bound_to_it(tmp_path) -> None:
    broker = EmbeddedBroker(tmp_path / "broker.sqlite3")
    await broker.open()
    seen: dict[str, list[str]] = {"a": [], "b": []}

    async def on_a(msg: Incoming) -> None:
        seen["a"].append(msg.message_id)

    async def on_b(msg: Incoming) -> None:
        seen["b"].append(msg.message_id)

    await broker.transport("a").start({"registration.TrioRegistered": on_a})
    await broker.transport("b").start({"registration.TrioRegistered": on_b})
    await broker.publish(event("registration.TrioRegistered"))
    await wait_until(lambda: seen["a"] and seen["b"], timeout=5)
    await broker.close()
    assert seen == {"a": ["m1"], "b": ["m1"]}


async def test_unacknowledged_message_survives_a_restart(tmp_path) -> None:
    path = tmp_path / "broker.sqlite3"
    first = EmbeddedBroker(path)
    await first.open()
    started = asyncio.Event()

    async def hangs(msg: Incoming) -> None:
        started.set()
        await asyncio.sleep(3600)

    await first.transport("a").start({"registration.TrioRegistered": hangs})
    await first.publish(event("registration.TrioRegistered"))
    await asyncio.wait_for(started.wait(), 5)
    await first.close()  # like a crash mid-message: no ack was given

    second = EmbeddedBroker(path)
    await second.open()
    got: list[str] = []

    async def works(msg: Incoming) -> None:
        got.append(msg.message_id)

    await second.transport("a").start({"registration.TrioRegistered": works})
    await wait_until(lambda: got, timeout=5)
    await second.close()
    assert got == ["m1"]


async def test_failing_message_is_retried_then_dead_lettered_with_its_reason(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(messages, "RETRY_DELAYS_SECONDS", (0.01, 0.01))
    broker = EmbeddedBroker(tmp_path / "broker.sqlite3")
    await broker.open()
    attempts: list[int] = []

    async def fails(msg: Incoming) -> None:
        attempts.append(msg.attempt)
        raise RuntimeError("database unavailable")

    async def poison(msg: Incoming) -> None:
        raise PermanentFailure("does not match the contract")

    await broker.transport("a").start({"registration.TrioRegistered": fails, "registration.Other": poison})
    await broker.publish(event("registration.TrioRegistered", "m1"))
    await broker.publish(event("registration.Other", "m2"))
    letters = await wait_until(lambda: _two(broker), timeout=10)
    await broker.close()
    assert attempts == [1, 2, 3]
    reasons = {d["message_id"]: d["reason"] for d in letters}
    assert "database unavailable" in reasons["m1"] and "gave up after 3 attempts" in reasons["m1"]
    assert reasons["m2"] == "does not match the contract"


async def test_a_message_waits_out_a_database_outage_longer_than_its_retries_without_using_them(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(messages, "RETRY_DELAYS_SECONDS", (0.01, 0.01))
    broker = EmbeddedBroker(tmp_path / "broker.sqlite3")
    await broker.open()
    attempts: list[int] = []

    async def database_down_for_a_while(msg: Incoming) -> None:
        attempts.append(msg.attempt)
        if len(attempts) <= 6:  # three times the retry schedule
            raise OSError(111, "Connect call failed ('127.0.0.1', 5432)")

    await broker.transport("a").start({"registration.TrioRegistered": database_down_for_a_while})
    await broker.publish(event("registration.TrioRegistered", "m1"))
    await wait_until(lambda: len(attempts) == 7, timeout=10)
    letters = await broker.dead_letters()
    await broker.close()
    assert attempts == [1] * 7 and letters == []


def test_driver_and_pool_errors_count_as_an_outage_and_handler_errors_do_not() -> None:
    import asyncpg
    import sqlalchemy.exc

    from shared.messaging.delivery import is_outage

    wrapped = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("wrapper"))
    wrapped.__cause__ = asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")
    assert is_outage(wrapped)
    assert is_outage(ConnectionRefusedError(111, "refused"))
    assert is_outage(sqlalchemy.exc.TimeoutError("QueuePool limit reached"))
    assert not is_outage(sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_outage(ValueError("no such edition"))


async def _two(broker: EmbeddedBroker) -> list[dict[str, object]] | None:
    letters = await broker.dead_letters()
    return letters if len(letters) == 2 else None


async def test_a_retried_message_keeps_the_moment_it_was_first_received_and_no_publisher_can_set_it(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(messages, "RETRY_DELAYS_SECONDS", (0.01, 0.01))
    broker = EmbeddedBroker(tmp_path / "broker.sqlite3")
    await broker.open()
    seen: list[object] = []

    async def not_yet(msg: Incoming) -> None:
        seen.append(msg.first_received_at)
        if len(seen) < 3:
            raise messages.NotYetKnown([])

    await broker.transport("a").start({"registration.TrioRegistered": not_yet})
    forged = event("registration.TrioRegistered")
    forged = Outgoing(**{**vars(forged), "headers": {messages.FIRST_RECEIVED_HEADER: "2000-01-01T00:00:00+00:00"}})
    await broker.publish(forged)
    await wait_until(lambda: len(seen) == 3, timeout=10)
    await broker.close()
    first, again, last = seen
    assert first is None  # a first delivery: the publisher's header is not believed
    assert again is not None and again == last and again.year > 2000  # type: ignore[attr-defined]
