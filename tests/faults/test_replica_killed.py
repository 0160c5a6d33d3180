"""Two replicas of every service; one of each pair is killed with SIGKILL mid-stream and the other carries on."""

from __future__ import annotations

import pytest

from shared.settings import SERVICES
from tests.faults.scenario import Faults, assert_nothing_lost_or_duplicated, through_fault, wait_until_progress

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
async def pairs(faulty_system):  # noqa: ANN201
    second = [faulty_system.add(name) for name in SERVICES]
    for process in second:
        await process.wait_ready()
    return faulty_system


async def test_one_replica_of_each_pair_killed_mid_stream_the_other_finishes_without_loss_or_duplicates(
    pairs, bus, tmp_path_factory
) -> None:
    killed = [pairs.replicas[name][0] for name in SERVICES]
    survivors = [pairs.replicas[name][1] for name in SERVICES]

    def kill() -> None:
        for process in killed:
            process.kill()

    async def kill_one_of_each_pair(faults: Faults) -> None:
        await wait_until_progress(faults.stream, 10)
        episode = await faults.begin("SIGKILL one replica of each service", killed, kill)
        episode.survivors = survivors
        faults.removed(episode)  # nothing is restarted: the survivors take over

    outcome = await through_fault(pairs, bus, "replica_killed", tmp_path_factory.getbasetemp(), kill_one_of_each_pair)

    assert_nothing_lost_or_duplicated(outcome)
    (episode,) = outcome.episodes
    for process in killed:
        assert outcome.readiness.not_ready_between(process, episode.began, float("inf")) > 0
        assert outcome.readiness.ready_again(process, episode.began) is None, f"{process.name} killed, yet ready"
    for process in survivors:
        assert outcome.readiness.ready_again(process, episode.began) is not None, f"{process.name} survivor not ready"
    # The survivors really did the work after the kill: every trio in flight at that moment completed.
    assert outcome.figures["episodes"][0]["caught_up_after_s"] is not None
