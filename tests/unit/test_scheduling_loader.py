"""What `werkplaatsen editions load FILE` sends (tests/cli/test_scheduling_cli.py runs the command itself)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from services.scheduling.loader import command_body, command_id, edition_command
from services.scheduling.seed import SEED_FILE

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


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
