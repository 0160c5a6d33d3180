"""`werkplaatsen editions load FILE`: what it sends, and how it refuses a bad file or a missing broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from services.scheduling.loader import command_body, command_id, edition_command
from services.scheduling.seed import SEED_FILE

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WERKPLAATSEN_", "SCHEDULING_"))}
    return subprocess.run([sys.executable, "-m", "services", *args], env={**clean, **env}, capture_output=True,
                          text=True, timeout=60)


def test_the_seed_file_loads_as_the_2019_round_or_moved_into_the_future() -> None:
    as_is = edition_command(SEED_FILE, future=False, now=NOW)
    moved = edition_command(SEED_FILE, future=True, now=NOW)
    assert as_is.edition == "2019-najaar" and as_is.table_size == 2
    assert moved.edition == "2027-najaar" and moved.registration_deadline > NOW
    assert [s.title for s in moved.sessions] == [s.title for s in as_is.sessions]


def test_the_same_file_gives_the_same_message_id_and_a_changed_file_another(tmp_path: Path) -> None:
    first = command_id(command_body(edition_command(SEED_FILE, future=True, now=NOW)))
    again = command_id(command_body(edition_command(SEED_FILE, future=True, now=NOW)))
    changed_file = tmp_path / "programme.json"
    programme = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    programme["capacity"]["max_trios"] = 7
    changed_file.write_text(json.dumps(programme), encoding="utf-8")
    changed = command_id(command_body(edition_command(changed_file, future=True, now=NOW)))
    assert first == again != changed


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
