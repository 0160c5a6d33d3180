"""Bodies of commands as a front end would send them."""

from __future__ import annotations

import functools
import uuid
from datetime import timedelta
from typing import Any

from services.scheduling.seed import load_programme, moved_into_future
from shared.db import utcnow

# The console account an organiser's command names (`actor`): commands on an approver's behalf, replacing a member
# and correcting a registration are refused without one.
ORGANISER = {"account_id": "test-organiser", "role": "organiser", "via": "console"}


@functools.cache
def organiser_commands() -> frozenset[str]:
    """Routing keys of the commands that only an organiser (or a facilitator) may give: each service's consumes
    table says so (`given_by`), and they are refused without an actor."""
    import importlib

    from shared.settings import SERVICES

    return frozenset(
        line.routing_key
        for service in SERVICES
        for line in importlib.import_module(f"services.{service}.consumes").CONSUMES
        if line.given_by
    )


def by_organiser(routing_key: str, body: dict[str, Any]) -> dict[str, Any]:
    """BODY as an organiser's console would send it: with the organiser as its actor where the command needs one."""
    if routing_key in organiser_commands() and body.get("actor") is None:
        return {**body, "actor": ORGANISER}
    return body


def open_edition(slug: str | None = None, **changes: Any) -> dict[str, Any]:
    """The seed programme moved into the future: registration open."""
    body = moved_into_future(load_programme(), utcnow()).model_dump(mode="json", exclude_none=True)
    body["edition"] = slug or f"e2e-{uuid.uuid4().hex[:8]}"
    body.update(changes)
    return body


def held_edition(slug: str | None = None, **changes: Any) -> dict[str, Any]:
    """An edition whose first session took place yesterday (its notes can be entered)."""
    now = utcnow()
    body = open_edition(slug, **changes)

    def at(days: float, hours: int) -> str:
        return (now + timedelta(days=days, hours=hours)).isoformat()

    body["registration_deadline"] = at(-20, 0)
    body["registration_closes_at"] = at(-10, 0)
    for index, session in enumerate(body["sessions"]):
        session["starts_at"] = at(-1 + 30 * index, 0)
        session["ends_at"] = at(-1 + 30 * index, 4)
    return body


def trio(edition: str, *, municipality: str = "GM0345", tag: str | None = None, **changes: Any) -> dict[str, Any]:
    tag = tag or uuid.uuid4().hex[:8]
    body = {
        "edition": edition,
        "municipality": municipality,
        "members": [
            {
                "name": "Anna de Vries",
                "email": f"anna.{tag}@veenendaal.example",
                "role": "wijkambtenaar",
                "domain": "sociaal",
                "job_title": "wijkregisseur",
            },
            {
                "name": "Bram Jansen",
                "email": f"bram.{tag}@veenendaal.example",
                "role": "sectorambtenaar",
                "domain": "fysiek",
            },
            {
                "name": "Chris Bakker",
                "email": f"chris.{tag}@veenendaal.example",
                "role": "sectorambtenaar",
                "domain": "veiligheid",
                "language": "en",
            },
        ],
        "case": {
            "title": f"Groene pleinen tegen wateroverlast {tag}",
            "neighbourhood": "Dragonder-Oost",
            "summary": "Pleinen aanpassen met bewoners zodat regenwater wordt opgevangen.",
            "domains": ["fysiek", "sociaal"],
        },
        "approver": {"name": "Dirk Visser", "email": f"dirk.{tag}@veenendaal.example"},
        "consent": {"privacy": True, "publish_municipality_name": False},
    }
    body.update(changes)
    return body


def notes() -> dict[str, Any]:
    return {
        "lessons": ["Maak de stip op de horizon samen met de wijk.", "Bel de wijkmanager op 06-12345678 voor meer."],
        "instruments": [{"name": "Krachtenveldanalyse", "description": "Wie heeft invloed op de opgave?"}],
        "quotes": ["Pas toen we samen de wijk in gingen, zagen we hetzelfde probleem."],
        "next_steps": ["Een lokale agenda opstellen."],
    }
