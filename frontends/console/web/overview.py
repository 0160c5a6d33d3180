"""The overview of the editions: per edition its state (from scheduling, which owns it) and the numbers that matter
(from reporting's GET /api/overview, counted from its read model: registered, awaiting approval, placed,
waitlisted, the medium-sized share, paid and unpaid invoices), and the exports that exist (reporting's
/dashboard/{edition}/{what}.{kind}, fetched with the console's credential and handed to the account that may
read them). For the start page, the editions pages and the API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.csvfile import delimiter_of
from shared.formatting import euro

from ..accounts import record
from ..domain import may
from ..store import repositories
from .access import Caller, NotSignedIn, address, console, database, require, signed_in
from .acting import backends, read
from .openapi import Operation
from .rendering import api_errors

# What reporting exports today, by the name the console serves it under.
EXPORTS: Final[Mapping[str, str]] = {
    "registrations.csv": "Aanmeldingen (CSV)",
    "registrations.xlsx": "Aanmeldingen (Excel)",
    "attendance.csv": "Aanwezigheid (CSV)",
    "attendance.xlsx": "Aanwezigheid (Excel)",
    "invoices.csv": "Facturen (CSV)",
    "invoices.xlsx": "Facturen (Excel)",
}


@dataclass(frozen=True)
class Numbers:
    """Reporting's numbers of one edition. They follow events, so they can be a moment behind the edition."""

    registered: int
    awaiting_approval: int
    placed: int
    waitlisted: int
    active: int
    medium_active: int
    medium_placed: int
    fee_waived: int
    invoices: int
    paid: int
    unpaid: int
    overdue: int
    paid_cents: int
    open_cents: int
    round_report_published: bool

    @classmethod
    def of(cls, found: Mapping[str, Any]) -> Numbers:
        status, medium, invoices = found["by_status"], found["medium_sized"], found["invoices"]
        return cls(
            registered=found["registered"],
            awaiting_approval=status.get("awaiting_approval", 0),
            placed=status.get("placed", 0),
            waitlisted=status.get("waitlisted", 0),
            active=found["active"],
            medium_active=medium["active"],
            medium_placed=medium["placed"],
            fee_waived=found["placed_fee_waived"],
            invoices=invoices["invoices"],
            paid=invoices["paid"],
            unpaid=invoices["unpaid"],
            overdue=invoices["overdue"],
            paid_cents=invoices["paid_cents"],
            open_cents=invoices["open_cents"],
            round_report_published=found["round_report_published"],
        )

    @property
    def open_text(self) -> str:
        return euro(self.open_cents)

    @property
    def medium_share(self) -> int | None:
        """The medium-sized municipalities' share of the placed trios, in percent (None: nobody placed yet)."""
        return round(100 * self.medium_placed / self.placed) if self.placed else None


@dataclass(frozen=True)
class EditionLine:
    edition: Mapping[str, Any]  # as scheduling's API shows it
    numbers: Numbers | None  # None: reporting has not heard of the edition yet

    @property
    def slug(self) -> str:
        return str(self.edition["slug"])

    @property
    def sessions(self) -> list[dict[str, Any]]:
        """The sessions in order, their moments as datetimes."""
        return [
            {**s, "starts_at": datetime.fromisoformat(s["starts_at"]), "ends_at": datetime.fromisoformat(s["ends_at"])}
            for s in sorted(self.edition.get("sessions", []), key=lambda s: s["number"])
        ]

    @property
    def first_session(self) -> datetime | None:
        return min((s["starts_at"] for s in self.sessions), default=None)

    @property
    def fee_text(self) -> str:
        fee = self.edition.get("fee") or {}
        text = f"{euro(int(fee.get('amount_cents', 0)))} per trio"
        waived = fee.get("waived_for_size_classes") or []
        return f"{text}; geen bijdrage voor {', '.join(waived)}" if waived else text

    @property
    def reopen_until(self) -> datetime | None:
        """Stopped, and ReopenRegistration would open registration again until this moment (scheduling's
        word); None otherwise."""
        until = self.edition.get("registration_reopen_until")
        return datetime.fromisoformat(until) if until else None

    def as_json(self) -> dict[str, Any]:
        e = self.edition
        return {
            "edition": self.slug,
            "title": e.get("title"),
            "registration_open": e.get("registration_open"),
            "registration_closes_at": e.get("registration_closes_at"),
            "registration_reopen_until": e.get("registration_reopen_until"),
            "allocated": e.get("allocated"),
            "capacity": e.get("capacity"),
            "places_left": e.get("places_left"),
            "numbers": vars(self.numbers) if self.numbers is not None else None,
        }


async def edition_lines(request: Request, caller: Caller, slug: str | None = None) -> list[EditionLine]:
    """The editions CALLER may read (or only SLUG), newest first, each with its numbers."""
    if slug is None:
        editions = (await read(request, "scheduling", "/api/editions")).body.get("editions", [])
    else:
        one = await read(request, "scheduling", f"/api/editions/{slug}")
        editions = [one.body] if one.found else []
    editions = [e for e in editions if may(caller.principal, "read", e.get("slug"))]
    if not editions:
        return []
    counted = await read(request, "reporting", "/api/overview", edition=slug)
    numbers = {n["edition"]: Numbers.of(n) for n in counted.body.get("editions", [])} if counted.found else {}
    lines = [EditionLine(e, numbers.get(e["slug"])) for e in editions]
    return sorted(lines, key=lambda line: (line.edition.get("registration_deadline", ""), line.slug), reverse=True)


# API -------------------------------------------------------------------------------------------------------------


async def overview(request: Request) -> Response:
    caller = await signed_in(request)
    if caller is None:
        raise NotSignedIn
    lines = await edition_lines(request, caller)
    return JSONResponse({"editions": [line.as_json() for line in lines]}, headers={"Cache-Control": "no-store"})


async def export(request: Request) -> Response:
    slug, name = request.path_params["slug"], request.path_params["export"]
    caller = await require(request, "read", slug)
    if name not in EXPORTS:
        return api_errors("unknown_export", f"Deze export bestaat niet. Kies uit: {', '.join(EXPORTS)}.", 404, "export")
    what, kind = name.split(".")
    delimiter = delimiter_of(request.query_params.get("sep"))
    if delimiter is None:
        return api_errors(
            "invalid_separator", "Het scheidingsteken (sep) moet ; of , zijn; zonder sep is het ;.", 400, "sep"
        )
    query = f"?{urlencode({'sep': delimiter})}" if kind == "csv" else ""
    found = await backends(request).apis.download("reporting", f"/dashboard/{slug}/{what}.{kind}{query}")
    if found.status == 404:
        return api_errors("unknown_edition", "Van deze editie is er (nog) niets te exporteren.", 404, "slug")
    if found.status != 200:
        return api_errors("export_failed", "De export lukte nu niet. Probeer het over een minuut opnieuw.", 502)
    async with repositories(database(request)) as repos:
        # Who took which list home: exports carry municipalities and cases.
        await record(
            repos.audit,
            console(request).clock(),
            caller.principal.account_id,
            "export.download",
            f"edition:{slug}",
            address=address(request),
            reason=name,
        )
    headers = {
        "Cache-Control": "no-store",
        "Content-Disposition": found.disposition or f'attachment; filename="{slug}-{name}"',
    }
    return Response(found.content, media_type=found.media_type, headers=headers)


class OverviewLine(BaseModel):
    edition: str
    title: str | None
    registration_open: bool | None
    registration_closes_at: str | None
    registration_reopen_until: str | None = Field(description="Stopped: until when it can be reopened.")
    allocated: bool | None
    capacity: dict[str, int] | None
    places_left: int | None
    numbers: dict[str, Any] | None = Field(
        description="Reporting's numbers (registered, awaiting_approval, placed, waitlisted, medium_placed, "
        "paid, unpaid, open_cents, ...); null while reporting has not heard of the edition."
    )


class OverviewList(BaseModel):
    editions: list[OverviewLine]


OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/overview",
        overview,
        "Het overzicht: per editie de stand en de cijfers (een begeleider: de eigen edities)",
        "read",
        "overzicht",
        answer=OverviewList,
        answers={200: "De edities met hun cijfers, nieuwste eerst."},
    ),
    Operation(
        "GET",
        "/api/editions/{slug}/exports/{export}",
        export,
        "Een export van een editie: registrations, attendance of invoices, als .csv (scheidingsteken ;, of , met "
        "?sep=,) of .xlsx",
        "read",
        "overzicht",
        answers={200: "Het bestand.", 404: "Deze editie of export bestaat niet."},
    ),
)
