"""Every command routing key, fed generated bad bodies through the services' own delivery path on PostgreSQL.

Each message must end one of three ways: accepted (the breakage left a valid command), refused with a
CommandRejected whose every error has a stable code, a Dutch message and a field, or dead-lettered with its
reason. A retry means the service raised on input it should have refused: that is a bug, reported with the
message that caused it. Afterwards the services still carry out a valid registration.
"""

from __future__ import annotations

import gc
import json
import os
import tracemalloc
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.contract import COMMANDS, message_name
from shared.messaging.messages import Incoming
from shared.messaging.processing import unstorable_values
from shared.settings import SERVICES
from tests import factories
from tests.fuzz.bodies import bad_command, corpus
from tests.fuzz.checks import useless
from tests.fuzz.harness import DERANDOMIZE, InProcessSystem, open_system, prepare_targets
from tests.support import create_database, database_url, drop_database

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("WERKPLAATSEN_FUZZ_EXAMPLES", "30"))
# Outcomes by kind of breakage, over the whole module; printed at the end (docs/security.md quotes a run).
TALLY: Counter[tuple[str, str]] = Counter()


@pytest.fixture(scope="module")
async def system(real_services, tmp_path_factory) -> AsyncIterator[InProcessSystem]:
    names = {name: await create_database(f"fuzz_{name}") for name in SERVICES}
    found = None
    try:
        found = await open_system(
            Path(tmp_path_factory.mktemp("fuzz")), {name: database_url(db) for name, db in names.items()}
        )
        found.targets = await prepare_targets(found)  # type: ignore[attr-defined]
        yield found
    finally:
        if found is not None:
            await found.close()
        for db in names.values():
            await drop_database(db)
        print("\nfuzz outcomes (kind, outcome): count")
        for (kind, outcome), count in sorted(TALLY.items()):
            print(f"  {kind:16} {outcome:40} {count}")


def incoming(routing_key: str, body: bytes, props: dict[str, object]) -> Incoming:
    return Incoming(
        body=body,
        routing_key=routing_key,
        message_type=message_name(routing_key),
        message_id=props.get("message_id"),
        correlation_id=props.get("correlation_id"),
        reply_to=props.get("reply_to"),
        content_type=props.get("content_type"),
    )


def sent_json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


async def check_one(system: InProcessSystem, routing_key: str, kind: str, body: bytes, props: dict[str, object]) -> str:
    outcome = await system.command(incoming(routing_key, body, props))
    shown = f"{kind} message to {routing_key} ({len(body)} bytes: {body[:300]!r}, properties {props})"
    verdict = outcome.verdict
    assert verdict.action != "retry", f"the service raised on a {shown}: {verdict.reason}"
    if verdict.action == "dead_letter":
        assert verdict.reason.strip(), f"dead-lettered without a reason: {shown}"
        return "dead_letter"
    if not props.get("message_id"):
        assert outcome.rejections_published == 1, f"no CommandRejected for a {shown}"
        return "rejected:missing_message_id"
    reply = outcome.reply
    assert reply is not None, f"no outcome kept for a {shown}"
    if reply.status == "accepted":
        assert outcome.rejections_published == 0
        return "accepted"
    assert reply.errors, f"refused without a reason: {shown}"
    assert outcome.rejections_published == 1, f"refused but no CommandRejected published: {shown}"
    problems = [p for e in reply.errors if (p := useless(e, routing_key, sent_json(body)))]
    assert not problems, f"{problems} for a {shown}"
    return "rejected:" + ",".join(sorted({e.code for e in reply.errors}))[:60]


@pytest.mark.parametrize("routing_key", sorted(COMMANDS))
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(data=st.data())
async def test_every_generated_bad_body_is_refused_with_a_useful_error_or_dead_lettered(
    system: InProcessSystem, routing_key: str, data: st.DataObject
) -> None:
    kind, body, props = data.draw(bad_command(routing_key, system.targets))  # type: ignore[attr-defined]
    outcome = await check_one(system, routing_key, kind, body, props)
    TALLY[(kind, outcome.split(":")[0])] += 1


async def test_after_the_fuzz_a_valid_registration_still_goes_through(system: InProcessSystem) -> None:
    edition = factories.open_edition()
    scheduled = await system.command(
        incoming(
            "scheduling.ScheduleEdition",
            json.dumps(factories.by_organiser("scheduling.ScheduleEdition", edition)).encode(),
            {"message_id": str(uuid.uuid4())},
        )
    )
    assert scheduled.reply is not None and scheduled.reply.status == "accepted", scheduled.reply
    (announced,) = [
        e for e in await system.outbox("scheduling", "EditionScheduled") if e["data"]["edition"] == edition["edition"]
    ]
    # registration learns of the edition as it would from the broker
    verdict = await system.deliver(
        Incoming(
            body=json.dumps(announced).encode(),
            routing_key="scheduling.EditionScheduled",
            message_id=announced["event_id"],
            message_type="EditionScheduled",
        ),
        system.services["registration"],
    )
    assert verdict.action == "ack"
    registered = await system.command(
        incoming(
            "registration.RegisterTrio",
            json.dumps(factories.trio(edition["edition"])).encode(),
            {"message_id": str(uuid.uuid4())},
        )
    )
    assert registered.reply is not None and registered.reply.status == "accepted", registered.reply.errors
    assert registered.reply.ids["registration_id"]


# One command of each service that takes commands: the largest body, the most nested one, the smallest.
MEMORY_KEYS = ("registration.RegisterTrio", "scheduling.ScheduleEdition", "reporting.RetractReport")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_memory_stays_flat_while_the_worst_bodies_keep_coming(system: InProcessSystem) -> None:
    """Rounds of the same worst-case messages (2 MB strings, 100 000 levels of nesting, long lists, invalid
    UTF-8): what the later rounds leave behind in Python objects is what a service would accumulate per message
    in production; it must be next to nothing."""
    targets = system.targets  # type: ignore[attr-defined]

    async def one_round() -> None:
        for routing_key in MEMORY_KEYS:
            for kind, body, props in corpus(routing_key, targets):
                await check_one(system, routing_key, kind, body, props)

    await one_round()  # warm-up: caches, connection pools, compiled statements
    gc.collect()
    rss_before = rss_bytes()
    tracemalloc.start()
    try:
        await one_round()
        gc.collect()
        traced_after_one, _ = tracemalloc.get_traced_memory()
        await one_round()
        gc.collect()
        traced_after_two, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_after = rss_bytes()
    messages = 2 * len(MEMORY_KEYS) * len(corpus(MEMORY_KEYS[0], targets))
    print(
        f"\nmemory over {messages} worst-case messages: traced {traced_after_one / 1e6:.1f} MB after one round, "
        f"{traced_after_two / 1e6:.1f} MB after two (peak {peak / 1e6:.1f} MB); "
        f"RSS {rss_before / 1e6:.0f} MB -> {rss_after / 1e6:.0f} MB"
    )
    assert traced_after_two - traced_after_one < 2_000_000, "Python objects accumulate per bad message"
    assert rss_after - rss_before < 100_000_000, "the process grows per bad message"


def test_values_no_column_can_hold_are_refused_with_the_path_that_leads_to_them() -> None:
    errors = unstorable_values({"case": {"title": "a\x00b"}, "": {"0": 2**31}, "members": [{"n": -(2**40)}]})
    assert sorted((e.field, e.code) for e in errors) == [
        (".0", "number_out_of_range"),
        ("case.title", "invalid_character"),
        ("members[0].n", "number_out_of_range"),
    ]
    assert unstorable_values({"edition": "najaar-2027", "capacity": 2**31 - 1}) == []
