"""In-memory fakes of reporting's store and the messages its handlers are driven with, for the unit tests of
the handlers (test_reporting_handlers.py, test_reporting_reports.py)."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.reporting import handlers
from services.reporting.anonymise import NameKey, NameKind
from services.reporting.domain import Attendance, Edition, RoundPublication, SessionReport, Trio
from shared.contract import Event
from shared.contract.reporting import PublishReport
from shared.contract.scheduling import EditionScheduled, SessionCompleted

PUBLIC_URL = "https://werkplaatsen.example.nl"
EDITION = "2027-najaar"
HELD = datetime(2027, 10, 15, 11, tzinfo=UTC)
COMPLETED = datetime(2027, 10, 16, 9, tzinfo=UTC)


KEY = NameKey.from_secret("test-secret")


class FakeReports:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], SessionReport] = {}

    async def get(self, edition: str, session_number: int, *, for_update: bool = False) -> SessionReport | None:
        return copy.deepcopy(self.rows.get((edition, session_number)))

    async def save(self, report: SessionReport) -> None:
        self.rows[(report.edition, report.session_number)] = copy.deepcopy(report)

    async def of_edition(self, edition: str) -> list[SessionReport]:
        return [copy.deepcopy(r) for (e, _), r in sorted(self.rows.items()) if e == edition]

    async def every(self, *, for_update: bool = False) -> list[SessionReport]:
        return [copy.deepcopy(r) for _, r in sorted(self.rows.items())]


class FakeRounds:
    def __init__(self) -> None:
        self.rows: dict[str, RoundPublication] = {}

    async def lock(self, edition: str) -> None:
        pass  # one task at a time: nothing to serialise

    async def get(self, edition: str, *, for_update: bool = False) -> RoundPublication | None:
        return copy.deepcopy(self.rows.get(edition))

    async def save(self, publication: RoundPublication) -> None:
        self.rows[publication.edition] = copy.deepcopy(publication)


class FakeTrios:
    def __init__(self) -> None:
        self.rows: dict[str, Trio] = {}

    async def get(self, registration_id: str, *, for_update: bool = False) -> Trio | None:
        return copy.deepcopy(self.rows.get(registration_id))

    async def save(self, trio: Trio) -> None:
        self.rows[trio.registration_id] = copy.deepcopy(trio)


class FakeNames:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, NameKind]] = {}

    async def add(self, registration_id: str, digests: dict[str, NameKind]) -> None:
        self.rows.setdefault(registration_id, {}).update(digests)

    async def of(self, registration_id: str) -> dict[str, NameKind]:
        return dict(self.rows.get(registration_id, {}))

    async def forget(self, registration_id: str) -> None:
        self.rows.pop(registration_id, None)


class FakeAttendance:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], Attendance] = {}

    async def get(self, edition: str, session_number: int, *, for_update: bool = False) -> Attendance | None:
        return copy.deepcopy(self.rows.get((edition, session_number)))

    async def save(self, attendance: Attendance) -> None:
        self.rows[(attendance.edition, attendance.session_number)] = copy.deepcopy(attendance)


class FakeList:
    def __init__(self) -> None:
        self.items: list[Any] = []

    async def add(self, item: Any) -> None:
        self.items.append(item)


class FakeEditions:
    def __init__(self) -> None:
        self.rows: dict[str, Edition] = {}

    async def get(self, slug: str, *, for_update: bool = False) -> Edition | None:
        return copy.deepcopy(self.rows.get(slug))

    async def save(self, edition: Edition) -> None:
        self.rows[edition.slug] = copy.deepcopy(edition)


def session_completed(number: int = 1, **notes: Any) -> SessionCompleted:
    return SessionCompleted(
        edition=EDITION,
        session_number=number,
        title="Positionering van het wijkgerichte werken in de eigen gemeente",
        starts_at=HELD,
        attendance={"trios": 7, "municipalities": 6},
        notes={
            "lessons": ["Begin bij de opgave van de wijk."],
            "instruments": [{"name": "Wijkscan", "description": "Een kaart van wat er speelt."}],
            "quotes": ["De wijk is geen project."],
            "next_steps": ["Stip op de horizon delen."],
            **notes,
        },
    )


def envelope(data: Any, occurred_at: datetime = COMPLETED) -> Event[Any]:
    return Event[type(data)](
        event_id=str(uuid.uuid4()),
        type=type(data).__name__,
        version=1,
        occurred_at=occurred_at,
        producer="scheduling",
        correlation_id="c-1",
        causation_id="m-1",
        data=data,
    )


async def complete(
    event: SessionCompleted,
    reports: FakeReports,
    emitted: list[Any],
    occurred_at: datetime = COMPLETED,
    *,
    editions: FakeEditions | None = None,
    rounds: FakeRounds | None = None,
) -> None:
    """Deliver scheduling's SessionCompleted (to an edition reporting does not know, unless `editions` has it)."""
    await handlers.keep_session_report(
        event,
        envelope=envelope(event, occurred_at),
        reports=reports,
        editions=editions or FakeEditions(),
        rounds=rounds or FakeRounds(),
        emit=emitted.append,
        public_url=PUBLIC_URL,
    )


async def remember(
    event: EditionScheduled,
    editions: FakeEditions,
    occurred_at: datetime = COMPLETED,
    *,
    reports: FakeReports | None = None,
    rounds: FakeRounds | None = None,
    emitted: list[Any] | None = None,
) -> None:
    await handlers.remember_edition(
        event,
        editions=editions,
        reports=reports or FakeReports(),
        rounds=rounds or FakeRounds(),
        emit=(emitted if emitted is not None else []).append,
        public_url=PUBLIC_URL,
        occurred_at=occurred_at,
    )


def edition_scheduled(title: str = "Werkplaatsen wijkgericht werken", *, at_once: bool = False) -> EditionScheduled:
    return EditionScheduled(
        edition=EDITION,
        title=title,
        venue={"name": "Werkplaats", "address": "Straat 1", "city": "Utrecht"},
        capacity={"min_trios": 6, "max_trios": 8},
        registration_deadline=HELD - timedelta(days=20),
        registration_closes_at=HELD - timedelta(days=10),
        fee={"amount_cents": 20000},
        priority_size_classes=["middelgroot"],
        table_size=3,
        sessions=[
            {
                "number": 1,
                "title": "Positionering",
                "outcome": "Je kunt de stip op de horizon benoemen.",
                "starts_at": HELD,
                "ends_at": HELD + timedelta(hours=4),
            }
        ],
        publish_reports_at_once=at_once,
    )


def three_sessions(*, at_once: bool = False) -> EditionScheduled:
    event = edition_scheduled(at_once=at_once)
    sessions = [
        {
            "number": n,
            "title": f"Bijeenkomst {n}",
            "outcome": "Uitkomst.",
            "starts_at": HELD + timedelta(days=30 * (n - 1)),
            "ends_at": HELD + timedelta(days=30 * (n - 1), hours=4),
        }
        for n in (1, 2, 3)
    ]
    return EditionScheduled.model_validate({**event.model_dump(), "sessions": sessions})


async def publish_command(
    number: int,
    reports: FakeReports,
    emitted: list[Any],
    now: datetime = COMPLETED + timedelta(days=1),
    *,
    editions: FakeEditions | None = None,
    rounds: FakeRounds | None = None,
) -> dict[str, Any]:
    """An organiser's PublishReport."""
    return await handlers.publish_report(
        PublishReport(edition=EDITION, session_number=number),
        reports=reports,
        editions=editions or FakeEditions(),
        rounds=rounds or FakeRounds(),
        emit=emitted.append,
        public_url=PUBLIC_URL,
        now=now,
    )
