"""The services lose RabbitMQ, or PostgreSQL, in the middle of a stream of registrations: a proxy between them and
the server is cut for a while and restored (the shared servers themselves keep running)."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.scenario import (
    Faults,
    assert_nothing_lost_or_duplicated,
    assert_outage_reported,
    through_fault,
    wait_until_progress,
)

pytestmark = pytest.mark.faults


@pytest.mark.parametrize(
    ("server", "label", "seconds"),
    [("broker", "RabbitMQ connection cut for 8 s", 8.0), ("database", "PostgreSQL connections cut for 10 s", 10.0)],
    ids=["rabbitmq_cut", "postgresql_cut"],
)
async def test_connections_cut_and_restored_mid_stream_lose_and_duplicate_nothing(
    faulty_system, bus, tmp_path_factory, request, server: str, label: str, seconds: float
) -> None:
    proxy = getattr(faulty_system, server)

    async def cut(faults: Faults) -> None:
        await wait_until_progress(faults.stream, 8)
        episode = await faults.begin(label, faulty_system.all_processes(), proxy.cut)
        await asyncio.sleep(seconds)  # the length of the outage is the fault itself
        await proxy.restore()
        faults.removed(episode)

    outcome = await through_fault(faulty_system, bus, request.node.callspec.id, tmp_path_factory.getbasetemp(), cut)

    assert_nothing_lost_or_duplicated(outcome)
    assert_outage_reported(outcome)
