"""`werkplaatsen editions load FILE` as a process: how it refuses a bad file or a missing broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from services.scheduling.seed import SEED_FILE


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WERKPLAATSEN_", "SCHEDULING_"))}
    return subprocess.run(
        [sys.executable, "-m", "services", *args], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_loading_without_a_broker_names_the_missing_setting() -> None:
    result = run("editions", "load", str(SEED_FILE))
    assert result.returncode == 2
    assert "WERKPLAATSEN_BROKER_URL" in result.stderr


def test_a_programme_with_mistakes_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    programme = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    del programme["venue"]
    programme["capacity"]["max_trios"] = "acht"
    path = tmp_path / "programme.json"
    path.write_text(json.dumps(programme), encoding="utf-8")
    # Port 9 (discard) is never reached: the file is checked first.
    result = run("editions", "load", str(path), WERKPLAATSEN_BROKER_URL="amqp://guest:guest@127.0.0.1:9/")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(": venue: schema: " in line for line in lines)
    assert any(": capacity.max_trios: schema: " in line for line in lines)


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "programme.json"
    path.write_text("{niet af", encoding="utf-8")
    result = run("editions", "load", str(path), WERKPLAATSEN_BROKER_URL="amqp://guest:guest@127.0.0.1:9/")
    assert result.returncode == 1 and ": invalid_json: " in result.stdout
