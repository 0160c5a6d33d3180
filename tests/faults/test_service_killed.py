"""Each service in turn is killed with SIGKILL in the middle of a stream of registrations and started again."""

from __future__ import annotations

import pytest

from shared.settings import SERVICES
from tests.faults.scenario import (
    Faults,
    assert_nothing_lost_or_duplicated,
    assert_outage_reported,
    through_fault,
    wait_until_progress,
)

pytestmark = pytest.mark.faults


async def test_each_service_killed_and_restarted_mid_stream_loses_and_duplicates_nothing(
    faulty_system, bus, tmp_path_factory
) -> None:
    async def kill_each_in_turn(faults: Faults) -> None:
        for number, name in enumerate(SERVICES):
            await wait_until_progress(faults.stream, 4 + 8 * number)
            process = faulty_system[name]
            episode = await faults.begin(f"SIGKILL {name}", [process], process.kill)
            process.start()
            faults.removed(episode)
            await process.wait_ready()

    outcome = await through_fault(
        faulty_system,
        bus,
        "sigkill",
        tmp_path_factory.getbasetemp(),
        kill_each_in_turn,
        minimum=32,
        maximum=40,
        interval=0.5,
    )

    assert_nothing_lost_or_duplicated(outcome)
    assert_outage_reported(outcome)
