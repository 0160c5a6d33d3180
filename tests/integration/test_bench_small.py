"""The benchmark runs every phase end to end at a tiny size and reports each figure (the figures themselves are
not checked here: that is docs/performance.md). The waitlist burst is left out: the curve's waitlist covers it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TRIOS = 4
SERVICES = {"registration", "scheduling", "notifications", "reporting"}


def positive(value: object) -> bool:
    return isinstance(value, int | float) and value > 0


def costs_reported(phase: dict[str, Any]) -> None:
    cpu = phase["cpu_ms_per_registration"]
    assert set(cpu) == SERVICES | {"postgres", "services", "total"}
    assert positive(cpu["services"]) and positive(phase["sql_per_registration"]["total"])
    assert set(phase["sql_per_registration"]) == SERVICES | {"total"}
    assert positive(phase["deliveries_per_s"]) and positive(phase["efficiency"])


@pytest.fixture(scope="module")
def bench(real_services: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    tmp_path = tmp_path_factory.mktemp("bench")
    output = tmp_path / "bench.json"
    sizes = ["--register-trios", str(TRIOS), "--journey-trios", str(TRIOS), "--replica-trios", str(TRIOS)]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--skip",
            "waitlist",
            *sizes,
            *("--curve", "1", "--curve-window", "2"),  # one size: each more adds a fill and a window
            *("--rate", "4", "--seconds", "2", "--pressure-rate", "8", "--pressure-seconds", "2"),
            *("--ceiling-messages", "1000", "--scaling-trios", str(TRIOS), "--shutdown-trios", "10"),
            *("--timeout", "120", "--output", str(output), "--workdir", str(tmp_path / "run")),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(output.read_text()), run.stdout


def test_registrations_alone_are_counted_until_every_acknowledgement_and_approval_request_is_out(bench) -> None:
    register = bench[0]["register"]
    assert register["registrations"] == TRIOS and positive(register["trios_per_s"])
    assert register["mails"]["acknowledgement"] == 3 * TRIOS and register["mails"]["approval_request"] == TRIOS
    costs_reported(register)


def test_the_full_journey_places_every_trio_and_counts_its_placement_and_invoice_mails(bench) -> None:
    journey = bench[0]["journey"]
    assert journey["placed"] == TRIOS and positive(journey["trios_per_s"]) and positive(journey["mails_per_s"])
    mails = journey["mails"]
    assert mails["acknowledgement"] == 3 * TRIOS and mails["placed"] == 3 * TRIOS
    assert mails["invoice"] == TRIOS // 2  # every second trio's municipality pays the fee
    assert journey["mails_total"] == sum(mails.values())
    costs_reported(journey)


def test_the_curve_measures_a_window_at_its_size_for_placed_trios_and_for_a_waitlist(bench) -> None:
    for kind in ("placed", "waitlist"):
        curve = bench[0]["curve"][kind]
        assert [p["size"] for p in curve["points"]] == [1]
        assert all(p["held"] >= p["size"] for p in curve["points"]), kind
        assert all(positive(p["cpu_ms_per_registration"]["services"]) for p in curve["points"]), kind
        assert all(positive(p["sql_per_registration"]["total"]) for p in curve["points"]), kind
        assert positive(curve["ratio"]["services"]), kind


def test_the_steady_phases_report_latencies_and_the_queues_while_at_the_higher_rate(bench) -> None:
    results = bench[0]
    for name in ("steady", "pressure"):
        for key in ("to_trio_registered_ms", "to_first_acknowledgement_ms", "to_acknowledgement_mail_ms"):
            assert all(positive(results[name][key][p]) for p in ("p50", "p95", "p99")), (name, key)
        costs_reported(results[name])
    queues = results["pressure"]["queues"]
    assert queues["samples"] > 0 and isinstance(queues["grows"], bool)


def test_replicas_are_measured_and_scheduling_gives_each_place_once(bench) -> None:
    replicas = bench[0]["replicas"]
    assert positive(replicas["notifications"]["ratio"]) and positive(replicas["registration"]["ratio"])
    scheduling = replicas["scheduling"]
    for run in ("replicas_1", "replicas_3"):
        assert scheduling[run]["correct"] and scheduling[run]["placed"] == scheduling["places"], run
        assert positive(scheduling[run]["approvals_per_s"]), run


def test_shutdown_under_a_backlog_is_timed_and_the_table_has_every_section(bench) -> None:
    results, stdout = bench
    assert results["shutdown"]["exited"] and positive(results["shutdown"]["seconds_to_exit"])
    assert set(results["peak_rss_mb"]) == SERVICES and all(positive(mb) for mb in results["peak_rss_mb"].values())
    for label in ("register only", "journey mails", "curve waitlist largest/smallest", "pressure queues"):
        assert label in stdout, label
    assert "scheduling 1 -> 3" in stdout and "shutdown under a backlog" in stdout
