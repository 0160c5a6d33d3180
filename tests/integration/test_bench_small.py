"""The benchmark runs end to end at a small size (its figures are not checked here: that is docs/performance.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def positive(value: object) -> bool:
    return isinstance(value, int | float) and value > 0


def test_a_small_benchmark_run_reports_every_figure(real_services, tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--registrations",
            "50",
            "--rate",
            "5",
            "--seconds",
            "4",
            "--ceiling-messages",
            "2000",
            "--scaling-trios",
            "10",
            "--timeout",
            "240",
            "--output",
            str(output),
            "--workdir",
            str(tmp_path / "run"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(output.read_text())

    assert positive(results["ceiling"]["msg_per_s"])
    burst = results["burst"]
    assert burst["registrations"] == 50 and burst["placed"] + burst["waitlisted"] == 50
    for key in ("registrations_per_s", "deliveries_per_s", "efficiency"):
        assert positive(burst[key]), key
    for key in ("to_trio_registered_ms", "to_acknowledgement_mail_ms"):
        assert all(positive(results["latency"][key][p]) for p in ("p50", "p95", "p99")), key
    assert set(results["peak_rss_mb"]) == {"registration", "scheduling", "notifications", "reporting"}
    assert all(positive(mb) for mb in results["peak_rss_mb"].values())
    scaling = results["scaling"]
    assert positive(scaling["replicas_1"]["mails_per_s"]) and positive(scaling["replicas_2"]["mails_per_s"])
    assert positive(scaling["ratio"])
    assert "burst registrations/s" in run.stdout
