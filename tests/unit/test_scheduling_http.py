"""Scheduling's HTTP surface and deadline timer on its embedded (SQLite) store, with a clock the test controls."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import icalendar
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from services.scheduling import consumes, entrypoints
from services.scheduling.adapters import Inbox, Outbox
from services.scheduling.bootstrap import MIGRATIONS
from services.scheduling.seed import load_programme, moved_into_future
from shared.contract import Event
from shared.contract.registration import RegistrationApproved, RegistrationCancelled, TrioRegistered
from shared.contract.scheduling import SchedulingCommandRejected
from shared.db import Database, migrate
from shared.messaging.messages import Incoming
from shared.messaging.processing import MessageStore
from tests.factories import by_organiser

TOKEN = "organiser-token"
NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[MessageStore]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'scheduling.sqlite3'}")
    await migrate(db, MIGRATIONS, "scheduling")
    yield MessageStore(db, "scheduling", Outbox, Inbox, SchedulingCommandRejected)
    await db.dispose()


class Scheduling:
    def __init__(self, store: MessageStore) -> None:
        self.store = store
        self.clock = Clock(NOW)
        self.consumers = consumes.consumers(store, self.clock)
        self.app = Starlette(routes=entrypoints.routes(store, self.consumers, TOKEN, self.clock))
        self.command = moved_into_future(load_programme(), NOW)
        self.slug = self.command.edition

    async def send(self, routing_key: str, body: dict) -> None:
        await self.consumers[routing_key](
            Incoming(
                body=json.dumps(by_organiser(routing_key, body)).encode(),
                routing_key=routing_key,
                message_id=str(uuid.uuid4()),
            )
        )

    async def publish(self, data: TrioRegistered | RegistrationApproved | RegistrationCancelled) -> None:
        event_id = str(uuid.uuid4())
        body = Event[type(data)](
            event_id=event_id,
            type=type(data).__name__,
            version=1,  # type: ignore[misc]
            occurred_at=self.clock(),
            producer="registration",
            correlation_id=event_id,
            causation_id=event_id,
            data=data,
        )
        await self.consumers[data.routing_key](
            Incoming(body=body.model_dump_json().encode(), routing_key=data.routing_key, message_id=event_id)
        )

    async def approved_trio(
        self, n: int, rid: str | None = None, *, approve: bool = True, priority: bool = True
    ) -> str:
        rid = rid or str(uuid.uuid4())
        await self.publish(
            TrioRegistered.model_validate(
                {
                    "registration_id": rid,
                    "edition": self.slug,
                    "registered_at": (NOW + timedelta(minutes=n)).isoformat(),
                    "municipality": {
                        "code": f"GM{n:04d}",
                        "name": "Gemeente",
                        "province": "Utrecht",
                        "inhabitants": 50000,
                        "size_class": "middelgroot",
                        "m50_member": False,
                    },
                    "members": [
                        {
                            "member_id": f"{rid}-{i}",
                            "name": "Lid",
                            "email": f"lid{i}@gemeente.example",
                            "role": "wijkambtenaar",
                            "domain": ["sociaal", "fysiek", "bestuur"][i],
                            "language": "nl",
                        }
                        for i in range(3)
                    ],
                    "case": {
                        "title": "Casus",
                        "neighbourhood": "Wijk",
                        "summary": "Samenvatting",
                        "domains": ["fysiek", "sociaal"],
                    },
                    "fee": {"amount_cents": 0, "waived": True},
                    "priority": priority,
                    "preferred_domain_mix": True,
                    "consent": {"privacy": True},
                    "channel": "web",
                }
            )
        )
        if approve:
            approved = RegistrationApproved(
                registration_id=rid, edition=self.slug, approved_at=self.clock(), by_organizer=True
            )
            await self.publish(approved)
        return rid

    async def get(self, path: str, **headers: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://s") as client:
            return await client.get(path, headers=headers)

    async def post(self, path: str, **headers: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://s") as client:
            return await client.post(path, headers=headers)

    async def events(self, name: str) -> list[dict]:
        async with self.store.db.sessions() as session:
            bodies = (
                await session.execute(select(Outbox.body).where(Outbox.message_type == name).order_by(Outbox.position))
            ).scalars()
            return [json.loads(b)["data"] for b in bodies]


@pytest.fixture
async def scheduling(store: MessageStore) -> Scheduling:
    scheduling = Scheduling(store)
    await scheduling.send("scheduling.ScheduleEdition", scheduling.command.model_dump(mode="json", exclude_none=True))
    return scheduling


async def test_places_left_follow_the_placements_the_events_announce(scheduling: Scheduling) -> None:
    ids = [await scheduling.approved_trio(n) for n in range(10)]
    before = (await scheduling.get(f"/api/editions/{scheduling.slug}")).json()
    assert (before["places_left"], before["allocated"]) == (8, False)  # nobody is placed before the deadline

    scheduling.clock.now = scheduling.command.registration_deadline
    assert await entrypoints.allocate_due(scheduling.store, scheduling.clock()) == [scheduling.slug]
    scheduling.clock.now += timedelta(days=1)
    await scheduling.publish(RegistrationCancelled(registration_id=ids[0], edition=scheduling.slug))
    await scheduling.publish(RegistrationCancelled(registration_id=ids[1], edition=scheduling.slug))
    await scheduling.publish(RegistrationCancelled(registration_id=ids[2], edition=scheduling.slug))

    placed, released = await scheduling.events("TrioPlaced"), await scheduling.events("PlaceReleased")
    after = (await scheduling.get(f"/api/editions/{scheduling.slug}")).json()
    assert after["places_left"] == 8 - len(placed) + len(released) == 1
    assert after["waitlisted"] == 0


async def test_the_deadline_timer_allocates_when_its_clock_passes_the_deadline(scheduling: Scheduling) -> None:
    await scheduling.approved_trio(1)
    deadline = scheduling.command.registration_deadline
    assert await entrypoints.allocate_due(scheduling.store, deadline - timedelta(seconds=1)) == []
    assert await entrypoints.allocate_due(scheduling.store, deadline) == [scheduling.slug]
    assert await entrypoints.allocate_due(scheduling.store, deadline + timedelta(hours=1)) == []
    (closed,) = await scheduling.events("RegistrationClosed")
    assert closed["undersubscribed"] is True and len(closed["placed"]) == 1


async def test_the_organiser_closes_registration_over_http_which_allocates_once(scheduling: Scheduling) -> None:
    ids = [await scheduling.approved_trio(n) for n in range(9)]
    path = f"/api/editions/{scheduling.slug}/close"
    organiser = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "close-1"}
    assert (await scheduling.post(path)).status_code == 401
    assert (await scheduling.post(path, Authorization="Bearer wrong")).status_code == 401
    assert (await scheduling.post(path, **organiser)).status_code == 200
    # The same request again (a retry after a lost answer) has no second effect; a new one is refused.
    assert (await scheduling.post(path, **organiser)).status_code == 200
    again = await scheduling.post(path, Authorization=f"Bearer {TOKEN}")
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "already_allocated"
    unknown = await scheduling.post("/api/editions/geen-editie/close", Authorization=f"Bearer {TOKEN}")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == "unknown_edition"
    (closed,) = await scheduling.events("RegistrationClosed")
    assert closed["placed"] == ids[:8] and closed["waitlisted"] == [ids[8]]


async def test_allocation_shows_organisers_who_is_placed_and_why(scheduling: Scheduling) -> None:
    ids = [await scheduling.approved_trio(n) for n in range(9)]
    path = f"/api/editions/{scheduling.slug}/allocation"
    assert (await scheduling.get(path)).status_code == 401
    assert (await scheduling.get(path, Authorization="Bearer wrong")).status_code == 401
    pool = (await scheduling.get(path, Authorization=f"Bearer {TOKEN}")).json()["pool"]
    assert [p["registration_id"] for p in pool] == ids

    await entrypoints.allocate_due(scheduling.store, scheduling.command.registration_deadline)
    view = (await scheduling.get(path, Authorization=f"Bearer {TOKEN}")).json()
    assert [(p["registration_id"], p["place"], p["via"]) for p in view["placed"]] == [
        (rid, n, "allocation") for n, rid in enumerate(ids[:8], start=1)
    ]
    (waiting,) = view["waitlist"]
    assert (waiting["registration_id"], waiting["position"], waiting["priority"]) == (ids[8], 1, True)
    assert waiting["reason"].startswith("voorrangsgroep, aangemeld op ")
    assert [len(s["tables"]) for s in view["seating"]] == [4, 4, 4]


async def test_the_edition_calendar_has_one_event_per_session_in_amsterdam_time(scheduling: Scheduling) -> None:
    response = await scheduling.get(f"/editions/{scheduling.slug}/calendar.ics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    assert calendar["METHOD"] == "PUBLISH"
    events = calendar.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [
        f"{scheduling.slug}-bijeenkomst-{n}@werkplaatsen.platform31.nl" for n in (1, 2, 3)
    ]
    first = events[0]
    assert first.decoded("DTSTART") == scheduling.command.sessions[0].starts_at
    assert first["DTSTART"].params["TZID"] == "Europe/Amsterdam"
    assert first.decoded("DTSTART").strftime("%H:%M") == "13:00"
    assert str(first["SUMMARY"]).startswith("Werkplaats 1: Positionering")
    assert "Utrecht" in str(first["LOCATION"]) and int(first["SEQUENCE"]) == 0
    assert (await scheduling.get("/editions/bestaat-niet/calendar.ics")).status_code == 404
