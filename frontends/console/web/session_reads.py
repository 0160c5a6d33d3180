"""What the sessions' pages and API read from the services: an edition and one of its sessions (scheduling), the
trios placed in it with their municipality and members (registration), and a session's report as reporting will
publish it (reporting). Every read goes through the services' query APIs with the console's machine credential."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from starlette.requests import Request

from .acting import read

# The anonymiser's kinds of change (reporting), as the preview labels each highlighted place.
CHANGE_TEXTS: Final = {
    "email": "e-mailadres weggehaald",
    "phone": "telefoonnummer weggehaald",
    "bsn": "BSN weggehaald",
    "iban": "rekeningnummer weggehaald",
    "invisible": "onzichtbaar teken weggehaald",
    "name": "naam weggehaald",
    "municipality": "gemeentenaam vervangen",
    "neighbourhood": "wijknaam vervangen",
    "attribution": "naam bij het citaat weggehaald",
}


def session_number(request: Request) -> int | None:
    """The {number} of the path, or None when it is no session number at all (answered 404)."""
    raw = request.path_params["number"]
    return int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) <= 6 and int(raw) >= 1 else None


async def edition_of(request: Request, slug: str) -> dict[str, Any] | None:
    found = await read(request, "scheduling", f"/api/editions/{slug}")
    return found.body if found.found and isinstance(found.body, dict) else None


async def session_of(request: Request, slug: str, number: int) -> dict[str, Any] | None:
    """Scheduling's view of the session: times, started, completed, present, placed, tables, notes."""
    found = await read(request, "scheduling", f"/api/editions/{slug}/sessions/{number}")
    return found.body if found.found and isinstance(found.body, dict) else None


async def report_of(request: Request, slug: str, number: int) -> dict[str, Any] | None:
    """Reporting's preview of the session's summary: status and every text in segments (changed or not)."""
    found = await read(request, "reporting", f"/api/reports/{slug}/{number}")
    return found.body if found.found and isinstance(found.body, dict) else None


def without_originals(report: dict[str, Any]) -> dict[str, Any]:
    """The preview without what the anonymiser replaced: that is for those who write or publish the notes, not
    for viewers."""

    def text(item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "segments": [{k: v for k, v in s.items() if k != "original"} for s in item.get("segments", [])]}

    out = dict(report)
    for key in ("lessons", "quotes", "next_steps"):
        out[key] = [text(item) for item in report.get(key) or []]
    out["instruments"] = [
        {"name": text(i["name"]), "description": text(i["description"])} for i in report.get("instruments") or []
    ]
    return out


@dataclass(frozen=True)
class Trio:
    registration_id: str
    municipality: str
    members: list[str] = field(default_factory=list)
    table: int | None = None


async def placed_trios(request: Request, slug: str, session: dict[str, Any]) -> list[Trio]:
    """The session's placed trios, by municipality, each with its members' names and its table: registration
    knows the people, scheduling who is placed where. A trio registration has not told about yet (its events are
    on their way) is shown by its id rather than left out: it was placed, so it may be at the door."""
    tables = {rid: t["table"] for t in session.get("tables", []) for rid in t.get("registration_ids", [])}
    found = await read(request, "registration", "/api/registrations", edition=slug)
    known = {r["registration_id"]: r for r in found.body.get("registrations", [])} if found.found else {}
    trios = []
    for rid in session.get("placed", []):
        registration = known.get(rid, {})
        municipality = (registration.get("municipality") or {}).get("name") or f"Aanmelding {rid[:8]}"
        names = [m["name"] for m in registration.get("members", []) if m.get("name")]
        trios.append(Trio(rid, municipality, names, tables.get(rid)))
    return sorted(trios, key=lambda t: (t.municipality.casefold(), t.registration_id))


def seating(trios: list[Trio]) -> list[tuple[int, list[Trio]]]:
    """The trios by table, tables in order; trios without a table (seating not planned yet) are left out."""
    by_table: dict[int, list[Trio]] = {}
    for trio in trios:
        if trio.table is not None:
            by_table.setdefault(trio.table, []).append(trio)
    return sorted(by_table.items())
