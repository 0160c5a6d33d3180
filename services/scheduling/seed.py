"""The seed programme (the 2019 round from the announcement), and moving it into the future for `werkplaatsen dev`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from shared.contract.scheduling import ScheduleEdition

SEED_FILE = Path(__file__).parent / "seed" / "werkplaatsen-2019.json"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def load_programme(path: Path = SEED_FILE) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def moved_into_future(programme: dict[str, Any], now: datetime) -> ScheduleEdition:
    """The same calendar dates and local times, whole years later, so registration is still open at `now`."""
    deadline = datetime.fromisoformat(programme["registration_deadline"])
    years = max(now.astimezone(AMSTERDAM).year - deadline.year, 0)
    while _shift(deadline, years) <= now:
        years += 1

    def move(value: str) -> str:
        return _shift(datetime.fromisoformat(value), years).isoformat()

    moved = dict(programme)
    first_year = _shift(deadline, years).year
    moved["edition"] = f"{first_year}-najaar"
    moved["registration_deadline"] = move(programme["registration_deadline"])
    moved["sessions"] = [
        {**s, "starts_at": move(s["starts_at"]), "ends_at": move(s["ends_at"])} for s in programme["sessions"]
    ]
    return ScheduleEdition.model_validate(moved)


def _shift(value: datetime, years: int) -> datetime:
    # Keep the local wall-clock time: 13:00 in Utrecht stays 13:00 whether it falls in summer or winter time.
    local = value.astimezone(AMSTERDAM)
    return local.replace(year=local.year + years, tzinfo=None).replace(tzinfo=AMSTERDAM)
