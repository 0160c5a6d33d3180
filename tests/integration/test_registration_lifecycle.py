"""Registration after intake, against real PostgreSQL: approval, organiser HTTP, places, erasure and retention."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event as sql_events
from sqlalchemy import select
from starlette.applications import Starlette

from services.registration import consumes, entrypoints
from services.registration.adapters import (
    Inbox,
    Outbox,
    RegistrationStore,
    SeatRow,
    SqlRegistrations,
    load_municipalities,
)
from services.registration.bootstrap import MIGRATIONS
from services.registration.config import RegistrationConfig
from services.registration.domain import ERASED
from services.registration.tokens import ApprovalLinks
from shared.contract.registration import (
    ApproveRegistration,
    CancelRegistration,
    DeclineRegistration,
    EraseParticipantData,
    RegisterTrio,
    RegistrationCommandRejected,
)
from shared.db import Database, migrate, utcnow
from shared.messaging.messages import Incoming
from tests.factories import ORGANISER, by_organiser
from tests.support import database_url, wait_until

pytestmark = pytest.mark.integration

SECRET = "integration-secret"
ORGANIZER_TOKEN = "organiser-secret"
MUNICIPALITIES = load_municipalities(RegistrationConfig())


@dataclass
class Registration:
    store: RegistrationStore
    database: str
    edition: str
    last_session_ends: datetime

    def replica(self) -> RegistrationStore:
        """Another process's view of the same database."""
        return new_store(self.database)

    async def deliver(
        self,
        routing_key: str,
        data: dict[str, Any],
        *,
        occurred_at: datetime | None = None,
        event_id: str | None = None,
        store: RegistrationStore | None = None,
    ) -> None:
        """An event from scheduling, the way the consumer receives it."""
        name = routing_key.split(".", 1)[1]
        envelope = {
            "event_id": event_id or str(uuid.uuid4()),
            "type": name,
            "version": 1,
            "occurred_at": (occurred_at or utcnow()).isoformat(),
            "producer": "scheduling",
            "correlation_id": "c",
            "causation_id": "c",
            "data": data,
        }
        consumer = consumes.consumers(store or self.store, MUNICIPALITIES)[routing_key]
        await consumer(
            Incoming(
                body=json.dumps(envelope).encode(),
                routing_key=routing_key,
                message_id=envelope["event_id"],
                message_type=name,
            )
        )

    async def command(self, routing_key: str, body: dict[str, Any], message_id: str | None = None) -> Any:
        msg = Incoming(
            body=json.dumps(by_organiser(routing_key, body)).encode(),
            routing_key=routing_key,
            message_id=message_id or str(uuid.uuid4()),
            message_type=routing_key.split(".", 1)[1],
        )
        return await self.store_consumer(routing_key)(msg)

    def store_consumer(self, routing_key: str) -> Any:
        consumers = consumes.consumers(self.store, MUNICIPALITIES)
        model = {
            "registration.RegisterTrio": RegisterTrio,
            "registration.ApproveRegistration": ApproveRegistration,
            "registration.DeclineRegistration": DeclineRegistration,
            "registration.CancelRegistration": CancelRegistration,
            "registration.EraseParticipantData": EraseParticipantData,
        }[routing_key]
        return lambda m: consumers.command(model, m)

    async def register(self, tag: str | None = None) -> str:
        reply = await self.command("registration.RegisterTrio", trio(self.edition, tag or uuid.uuid4().hex[:8]))
        assert reply.status == "accepted", reply.errors
        return reply.ids["registration_id"]

    async def outbox(self, *types: str) -> list[dict[str, Any]]:
        async with self.store.db.sessions() as session:
            rows = (await session.execute(select(Outbox).order_by(Outbox.position))).scalars().all()
        return [json.loads(r.body) for r in rows if not types or r.message_type in types]

    async def token(self, registration_id: str) -> str:
        (asked,) = [
            e for e in await self.outbox("ApprovalRequested") if e["data"]["registration_id"] == registration_id
        ]
        return asked["data"]["approve_url"].rsplit("/", 1)[1]

    async def view(self, registration_id: str) -> Any:
        async with self.store.db.sessions() as session:
            return await SqlRegistrations(session).view(registration_id)


def new_store(database: str) -> RegistrationStore:
    return RegistrationStore(
        Database(database_url(database)),
        "registration",
        Outbox,
        Inbox,
        RegistrationCommandRejected,
        approvals=ApprovalLinks(SECRET, "https://werkplaatsen.example", timedelta(days=14)),
        retention=timedelta(days=365),
    )


@pytest.fixture
async def reg(pg_database) -> AsyncIterator[Registration]:
    name = await pg_database("registration")
    store = new_store(name)
    await migrate(store.db, MIGRATIONS, "registration")
    starts = utcnow() + timedelta(days=45)
    r = Registration(store, name, "2027-najaar", starts + timedelta(hours=4))
    await r.deliver(
        "scheduling.EditionScheduled",
        {
            "edition": r.edition,
            "title": "Werkplaatsen wijkgericht werken (najaar 2027)",
            "venue": {"name": "Werkplaats", "address": "Adres volgt", "city": "Utrecht"},
            "capacity": {"min_trios": 6, "max_trios": 8},
            "registration_deadline": (starts - timedelta(days=14)).isoformat(),
            "registration_closes_at": starts.isoformat(),
            "fee": {"amount_cents": 20000, "waived_for_size_classes": ["middelgroot"]},
            "priority_size_classes": ["middelgroot"],
            "table_size": 3,
            "sessions": [
                {
                    "number": 1,
                    "title": "Positionering",
                    "outcome": "Stip op de horizon",
                    "starts_at": starts.isoformat(),
                    "ends_at": r.last_session_ends.isoformat(),
                }
            ],
        },
    )
    yield r
    await store.db.dispose()


def trio(edition: str, tag: str) -> dict[str, Any]:
    return {
        "edition": edition,
        "municipality": "GM0203",  # Barneveld, M50 member: no invoice needed
        "members": [
            {
                "name": f"Annelies Wijkhuis{tag}",
                "email": f"annelies.{tag}@barneveld.example",
                "role": "wijkambtenaar",
                "domain": "sociaal",
                "job_title": f"Wijkregisseur {tag}",
            },
            {
                "name": f"Bram Pleinmaker{tag}",
                "email": f"bram.{tag}@barneveld.example",
                "role": "sectorambtenaar",
                "domain": "fysiek",
            },
            {
                "name": f"Chloé Veiligman{tag}",
                "email": f"chloe.{tag}@barneveld.example",
                "role": "sectorambtenaar",
                "domain": "veiligheid",
            },
        ],
        "case": {
            "title": f"Groene pleinen van {tag}",
            "neighbourhood": f"Wijk {tag}",
            "summary": f"Met bewoner Jansen{tag} pleinen vergroenen.",
            "domains": ["fysiek", "sociaal"],
        },
        "approver": {"name": f"Dirk Bestuurder{tag}", "email": f"dirk.{tag}@barneveld.example"},
        "consent": {"privacy": True},
        "invoice": {"address": f"Raadhuisplein {tag}, Barneveld", "reference": f"PO-{tag}"},
    }


def personal_data(body: dict[str, Any]) -> list[str]:
    return [
        *(m["name"] for m in body["members"]),
        *(m["email"] for m in body["members"]),
        body["members"][0]["job_title"],
        body["approver"]["name"],
        body["approver"]["email"],
        body["case"]["title"],
        body["case"]["neighbourhood"],
        body["case"]["summary"],
        body["invoice"]["address"],
        body["invoice"]["reference"],
    ]


# The read model for the pages


async def test_view_shows_what_the_status_and_approval_pages_need(reg: Registration) -> None:
    rid = await reg.register("view")
    view = await reg.view(rid)
    assert (view.registration_id, view.edition, view.edition_title) == (
        rid,
        reg.edition,
        "Werkplaatsen wijkgericht werken (najaar 2027)",
    )
    assert (view.status, view.waitlist_position, view.erased) == ("awaiting_approval", None, False)
    assert (view.municipality_name, view.size_class) == ("Barneveld", "middelgroot")
    assert view.case.title == "Groene pleinen van view" and view.case.domains == ["fysiek", "sociaal"]
    assert view.fee.waived is True and view.fee.amount_cents == 0
    assert view.members == [
        ("Annelies Wijkhuisview", "wijkambtenaar", "sociaal"),
        ("Bram Pleinmakerview", "sectorambtenaar", "fysiek"),
        ("Chloé Veiligmanview", "sectorambtenaar", "veiligheid"),
    ]
    assert view.approver_name == "Dirk Bestuurderview"
    assert view.approval_expires_at - view.registered_at == timedelta(days=14)
    assert await reg.view(str(uuid.uuid4())) is None


# Approval over the command path


async def test_approval_link_from_the_event_approves_once(reg: Registration) -> None:
    rid = await reg.register()
    token = await reg.token(rid)
    body = {"registration_id": rid, "token": token}
    first = await reg.command("registration.ApproveRegistration", body)
    second = await reg.command("registration.DeclineRegistration", body)
    assert first.status == "accepted" and first.ids == {"registration_id": rid}
    assert [e.code for e in second.errors] == ["already_decided"]
    (approved,) = await reg.outbox("RegistrationApproved")
    assert approved["data"]["by_organizer"] is False
    assert (await reg.view(rid)).status == "approved"


async def test_competing_approval_and_decline_decide_exactly_once(reg: Registration) -> None:
    rid = await reg.register()
    token = await reg.token(rid)
    replies = await asyncio.gather(
        *(
            reg.command(key, {"registration_id": rid, "token": token})
            for key in ["registration.ApproveRegistration", "registration.DeclineRegistration"] * 3
        )
    )
    assert sorted(r.status for r in replies) == ["accepted"] + ["rejected"] * 5
    assert len(await reg.outbox("RegistrationApproved", "RegistrationDeclined")) == 1


# Organiser HTTP


@pytest.fixture
async def http(reg: Registration) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(
        routes=entrypoints.routes(reg.store, consumes.consumers(reg.store, MUNICIPALITIES), ORGANIZER_TOKEN)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"},
    ) as client:
        yield client


async def test_organiser_endpoints_need_the_bearer_token(reg: Registration, http: httpx.AsyncClient) -> None:
    rid = await reg.register()
    for action in ("approve", "decline", "cancel", "erase", "approval-request"):
        response = await http.post(f"/api/registrations/{rid}/{action}", headers={"Authorization": "Bearer guess"})
        assert response.status_code == 401, action
    assert (await reg.view(rid)).status == "awaiting_approval"
    assert len(await reg.outbox("ApprovalRequested")) == 1


async def test_organiser_approves_over_http_on_the_approvers_behalf(reg: Registration, http: httpx.AsyncClient) -> None:
    rid = await reg.register()
    response = await http.post(f"/api/registrations/{rid}/approve", headers={"Idempotency-Key": "letter-17"})
    again = await http.post(f"/api/registrations/{rid}/approve", headers={"Idempotency-Key": "letter-17"})
    other = await http.post(f"/api/registrations/{rid}/decline", json={"reason": "Toch niet."})
    assert response.status_code == again.status_code == 200
    assert response.json() == again.json() == {"status": "accepted", "registration_id": rid}
    assert other.status_code == 409 and other.json()["errors"][0]["code"] == "already_decided"
    (approved,) = await reg.outbox("RegistrationApproved")
    assert approved["data"]["by_organizer"] is True


async def test_organiser_declines_over_http_with_a_reason(reg: Registration, http: httpx.AsyncClient) -> None:
    rid = await reg.register()
    response = await http.post(f"/api/registrations/{rid}/decline", json={"reason": "Brief van de wethouder."})
    assert response.status_code == 200
    (declined,) = await reg.outbox("RegistrationDeclined")
    assert declined["data"]["reason"] == "Brief van de wethouder." and declined["data"]["by_organizer"] is True
    unknown = await http.post(f"/api/registrations/{uuid.uuid4()}/decline")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == "unknown_registration"
    bad = await http.post(f"/api/registrations/{rid}/decline", content=b"[1]")
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "invalid_json"


async def test_organiser_requests_a_new_approval_link(reg: Registration, http: httpx.AsyncClient) -> None:
    rid = await reg.register()
    response = await http.post(f"/api/registrations/{rid}/approval-request")
    assert response.status_code == 200
    first, second = await reg.outbox("ApprovalRequested")
    assert second["data"]["expires_at"] >= first["data"]["expires_at"]
    expires = datetime.fromisoformat(second["data"]["expires_at"])
    assert datetime.fromisoformat(response.json()["expires_at"]) == expires == (await reg.view(rid)).approval_expires_at
    assert response.json()["approve_url"] == second["data"]["approve_url"]
    approve = await reg.command(
        "registration.ApproveRegistration",
        {"registration_id": rid, "token": second["data"]["approve_url"].rsplit("/", 1)[1]},
    )
    assert approve.status == "accepted"
    decided = await http.post(f"/api/registrations/{rid}/approval-request")
    assert decided.status_code == 409 and decided.json()["errors"][0]["code"] == "already_decided"
    assert len(await reg.outbox("ApprovalRequested")) == 2


async def test_organiser_cancels_over_http_and_twice_is_refused(reg: Registration, http: httpx.AsyncClient) -> None:
    rid = await reg.register()
    assert (await http.post(f"/api/registrations/{rid}/cancel", json={"reason": "Ziek"})).status_code == 200
    twice = await http.post(f"/api/registrations/{rid}/cancel")
    assert twice.status_code == 409 and twice.json()["errors"][0]["code"] == "already_cancelled"
    (cancelled,) = await reg.outbox("RegistrationCancelled")
    assert cancelled["data"] == {"registration_id": rid, "edition": reg.edition, "reason": "Ziek"}


async def test_intake_rules_that_refine_schema_errors_answer_over_http(http: httpx.AsyncClient) -> None:
    body = trio("2027-najaar", "http")
    two = await http.post("/api/registrations", json={**body, "members": body["members"][:2]})
    assert [(e["field"], e["code"]) for e in two.json()["errors"]] == [("members", "trio_size")]
    no_title = await http.post("/api/registrations", json={**body, "case": {**body["case"], "title": " "}})
    assert [(e["field"], e["code"]) for e in no_title.json()["errors"]] == [("case.title", "case_incomplete")]
    missing = {k: v for k, v in body["case"].items() if k != "summary"}
    no_summary = await http.post("/api/registrations", json={**body, "case": missing})
    assert [(e["field"], e["code"]) for e in no_summary.json()["errors"]] == [("case.summary", "case_incomplete")]
    bad_mail = {**body, "approver": {"name": "Dirk", "email": "dirk-at-barneveld"}}
    assert (await http.post("/api/registrations", json=bad_mail)).json()["errors"][0]["code"] == "invalid_email"
    long_title = await http.post("/api/registrations", json={**body, "case": {**body["case"], "title": "x" * 201}})
    assert [(e["field"], e["code"]) for e in long_title.json()["errors"]] == [("case.title", "schema")]


# Places from scheduling's events


async def test_status_follows_scheduling_and_a_duplicated_event_counts_once(reg: Registration) -> None:
    rid = await reg.register()
    await reg.command(
        "registration.ApproveRegistration", {"registration_id": rid, "by_organizer": True, "actor": ORGANISER}
    )
    t0 = utcnow()
    await reg.deliver(
        "scheduling.TrioWaitlisted", {"registration_id": rid, "edition": reg.edition, "position": 2}, occurred_at=t0
    )
    assert ((await reg.view(rid)).status, (await reg.view(rid)).waitlist_position) == ("waitlisted", 2)
    await reg.deliver(
        "scheduling.TrioPlaced",
        {"registration_id": rid, "edition": reg.edition, "via": "waitlist"},
        occurred_at=t0 + timedelta(seconds=1),
        event_id="placed-1",
    )
    await reg.deliver(
        "scheduling.TrioWaitlisted",
        {"registration_id": rid, "edition": reg.edition, "position": 1},
        occurred_at=t0 + timedelta(seconds=2),
    )
    assert ((await reg.view(rid)).status, (await reg.view(rid)).waitlist_position) == ("placed", None)
    await reg.command("registration.CancelRegistration", {"registration_id": rid})
    await reg.deliver(
        "scheduling.PlaceReleased",
        {"registration_id": rid, "edition": reg.edition, "reason": "cancelled"},
        occurred_at=t0 + timedelta(seconds=3),
    )
    await reg.deliver(
        "scheduling.TrioPlaced",
        {"registration_id": rid, "edition": reg.edition, "via": "waitlist"},
        occurred_at=t0 + timedelta(seconds=1),
        event_id="placed-1",
    )
    assert (await reg.view(rid)).status == "cancelled"


async def test_replans_applied_by_two_replicas_in_any_order_leave_the_newest_seating(reg: Registration) -> None:
    rid = await reg.register()
    await reg.command(
        "registration.ApproveRegistration", {"registration_id": rid, "by_organizer": True, "actor": ORGANISER}
    )
    await reg.deliver("scheduling.TrioPlaced", {"registration_id": rid, "edition": reg.edition, "via": "allocation"})
    t0 = utcnow()
    replica = reg.replica()
    try:
        # Ten replans of session 1, each seating the trio at table n, delivered newest-first-ish across replicas.
        order = [3, 9, 1, 7, 5, 0, 8, 2, 6, 4]
        await asyncio.gather(
            *(
                reg.deliver(
                    "scheduling.SeatingPlanned",
                    {
                        "edition": reg.edition,
                        "session_number": 1,
                        "tables": [{"table": n + 1, "registration_ids": [rid]}],
                    },
                    occurred_at=t0 + timedelta(seconds=n),
                    store=replica if i % 2 else None,
                )
                for i, n in enumerate(order)
            )
        )
    finally:
        await replica.db.dispose()
    (first, *_) = (await reg.view(rid)).sessions
    assert (first.number, first.table) == (1, 10)


async def placed_trio(reg: Registration) -> str:
    rid = await reg.register()
    await reg.command(
        "registration.ApproveRegistration", {"registration_id": rid, "by_organizer": True, "actor": ORGANISER}
    )
    await reg.deliver("scheduling.TrioPlaced", {"registration_id": rid, "edition": reg.edition, "via": "direct"})
    return rid


def whole_plan(reg: Registration, tables: list[list[str]]) -> dict[str, Any]:
    return {
        "edition": reg.edition,
        "session_number": 1,
        "tables": [{"table": n, "registration_ids": ids} for n, ids in enumerate(tables, 1)],
    }


def trio_seats(reg: Registration, rid: str, table: int) -> dict[str, Any]:
    return {"edition": reg.edition, "registration_id": rid, "seats": [{"session_number": 1, "table": table}]}


@pytest.mark.parametrize("trios", [3, 300])
async def test_a_trio_seated_after_the_plan_costs_the_same_statements_whatever_the_editions_size(
    reg: Registration, trios: int
) -> None:
    rid = await placed_trio(reg)
    others = [str(uuid.uuid4()) for _ in range(trios)]
    await reg.deliver("scheduling.SeatingPlanned", whole_plan(reg, [others[i : i + 3] for i in range(0, trios, 3)]))
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sql_events.listen(reg.store.db.engine.sync_engine, "before_cursor_execute", count)
    await reg.deliver("scheduling.TrioSeated", trio_seats(reg, rid, trios // 3 + 1))
    sql_events.remove(reg.store.db.engine.sync_engine, "before_cursor_execute", count)

    (first,) = (await reg.view(rid)).sessions
    assert first.table == trios // 3 + 1
    seat_writes = [s for s in statements if "seats" in s and s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(seat_writes) == 1 and len(statements) == 7  # the same for 3 trios as for 300
    async with reg.store.db.sessions() as session:
        seats = (await session.execute(select(SeatRow.registration_id, SeatRow.table_number))).all()
    assert len(seats) == trios + 1
    assert {r: t for r, t in seats if r != rid} == {r: i // 3 + 1 for i, r in enumerate(others)}  # theirs as planned


@pytest.mark.parametrize("newest", ["plan", "seat"])
async def test_of_plans_and_a_trios_seats_applied_by_two_replicas_in_any_order_the_newest_wins(
    reg: Registration, newest: str
) -> None:
    rid, other = await placed_trio(reg), await placed_trio(reg)
    t0 = utcnow()
    # Plans at even seconds seat the trio at table 1 (the other at 2), its own seats at odd seconds at table n + 10;
    # the newest of them (second 9 or 10) is delivered somewhere in the middle.
    events = [
        ("scheduling.SeatingPlanned", whole_plan(reg, [[rid], [other]]), n)
        if n % 2 == 0
        else ("scheduling.TrioSeated", trio_seats(reg, rid, n + 10), n)
        for n in range(10 if newest == "plan" else 9, -1, -1)
    ]
    events.insert(5, events.pop(0))
    replica = reg.replica()
    try:
        await asyncio.gather(
            *(
                reg.deliver(key, data, occurred_at=t0 + timedelta(seconds=n), store=replica if i % 2 else None)
                for i, (key, data, n) in enumerate(events)
            )
        )
    finally:
        await replica.db.dispose()
    (first,) = (await reg.view(rid)).sessions
    assert first.table == (1 if newest == "plan" else 19)
    (others,) = (await reg.view(other)).sessions
    assert others.table == 2


async def test_trios_seated_and_whole_plans_on_two_replicas_at_once_apply_at_the_first_attempt(
    reg: Registration,
) -> None:
    trios = [str(uuid.uuid4()) for _ in range(24)]
    t0 = utcnow()
    # Plans at even seconds seat every trio; at odd seconds each trio is seated on its own at table 100 + second.
    events = [
        ("scheduling.SeatingPlanned", whole_plan(reg, [trios[i : i + 3] for i in range(0, 24, 3)]), n)
        if n % 2 == 0
        else ("scheduling.TrioSeated", trio_seats(reg, rid, 100 + n), n)
        for n in range(9)
        for rid in (trios if n % 2 else trios[:1])
    ]
    random.Random(19).shuffle(events)
    replica = reg.replica()
    try:
        # A consumer raises when its message must be retried: gather fails the test on the first retry.
        await asyncio.gather(
            *(
                reg.deliver(key, data, occurred_at=t0 + timedelta(seconds=n), store=replica if i % 2 else None)
                for i, (key, data, n) in enumerate(events)
            )
        )
    finally:
        await replica.db.dispose()
    async with reg.store.db.sessions() as session:
        rows = await session.execute(select(SeatRow.registration_id, SeatRow.table_number))
        seats = {rid: table for rid, table in rows.all()}
    assert seats == {rid: i // 3 + 1 for i, rid in enumerate(trios)}  # the plan of second 8, the newest


# Erasure


def pg_dump(database: str) -> str:
    return subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", database], check=True, capture_output=True, text=True
    ).stdout


async def test_a_database_dump_after_erasure_contains_none_of_the_trios_personal_data(reg: Registration) -> None:
    erased_body, kept_body = trio(reg.edition, "weg"), trio(reg.edition, "blijft")
    erased = (await reg.command("registration.RegisterTrio", erased_body, "cmd-weg")).ids["registration_id"]
    kept = (await reg.command("registration.RegisterTrio", kept_body)).ids["registration_id"]
    await reg.command(
        "registration.DeclineRegistration",
        {
            "registration_id": erased,
            "by_organizer": True,
            "reason": "Afgemeld door Dirk Bestuurderweg",
            "actor": ORGANISER,
        },
    )
    # No relay runs here: every event above is still in the outbox, as after a broker outage.
    reply = await reg.command("registration.EraseParticipantData", {"registration_id": erased})
    assert reply.status == "accepted"
    dump = pg_dump(reg.database)
    assert [text for text in personal_data(erased_body) if text in dump] == []
    assert "Afgemeld door" not in dump
    assert all(text in dump for text in personal_data(kept_body))  # the dump does show live data
    (registered, _) = [e for e in await reg.outbox("TrioRegistered")]
    assert registered["data"]["registration_id"] == erased
    assert {m["email"] for m in registered["data"]["members"]} == {ERASED}
    assert registered["data"]["municipality"]["code"] == "GM0203"  # statistics survive
    assert [e["data"]["registration_id"] for e in await reg.outbox("ApprovalRequested")] == [kept]
    view = await reg.view(erased)
    assert view.erased and view.status == "declined" and view.size_class == "middelgroot"
    assert view.case.domains == ["fysiek", "sociaal"] and view.case.summary == ERASED
    assert [m[1:] for m in view.members] == [
        ("wijkambtenaar", "sociaal"),
        ("sectorambtenaar", "fysiek"),
        ("sectorambtenaar", "veiligheid"),
    ]


async def test_erasing_twice_announces_the_erasure_once(reg: Registration) -> None:
    rid = await reg.register()
    first = await reg.command("registration.EraseParticipantData", {"registration_id": rid})
    second = await reg.command("registration.EraseParticipantData", {"registration_id": rid})
    assert first.status == second.status == "accepted"
    assert len(await reg.outbox("ParticipantDataErased")) == 1
    unknown = await reg.command("registration.EraseParticipantData", {"registration_id": "nope"})
    assert [e.code for e in unknown.errors] == ["unknown_registration"]


async def test_retention_erases_each_registration_once_with_replicas_racing(reg: Registration) -> None:
    ids = [await reg.register() for _ in range(3)]
    replicas = [reg.store, reg.replica(), reg.replica()]
    before = reg.last_session_ends + timedelta(days=365) - timedelta(minutes=1)
    assert await entrypoints.erase_after_retention(reg.store, before) == []
    after = reg.last_session_ends + timedelta(days=365, minutes=1)
    results = await asyncio.gather(*(entrypoints.erase_after_retention(r, after) for r in replicas))
    assert sorted(i for found in results for i in found) == sorted(ids)
    erased = await reg.outbox("ParticipantDataErased")
    assert sorted(e["data"]["registration_id"] for e in erased) == sorted(ids)
    assert [(await reg.view(i)).erased for i in ids] == [True] * 3
    for replica in replicas[1:]:
        await replica.db.dispose()


async def test_the_background_job_erases_by_its_own_clock_without_anyone_asking(reg: Registration) -> None:
    rid = await reg.register()
    later = reg.last_session_ends + timedelta(days=366)
    job = asyncio.create_task(entrypoints.retention_job(reg.store, clock=lambda: later, interval_seconds=0.05)())
    try:
        await wait_until(lambda: reg.outbox("ParticipantDataErased"), what="the retention job's erasure")
    finally:
        job.cancel()
    assert (await reg.view(rid)).erased


# Idempotency keys: an id taken by one kind of command does not block another kind, and an id reused for another
# body is refused with its reason, also when two replicas receive them at the same moment.


async def test_a_participants_command_sent_first_with_the_id_of_an_organisers_erasure_does_not_block_it(
    reg: Registration,
) -> None:
    rid = await reg.register()
    # The id the organiser's erasure will carry, used first by a participant's command (here their cancellation,
    # as the registration pages and the chat send it: no actor).
    taken = f"predicted-{uuid.uuid4()}"
    cancelled = await reg.command("registration.CancelRegistration", {"registration_id": rid}, taken)
    assert cancelled.status == "accepted"

    erased = await reg.command(
        "registration.EraseParticipantData", {"registration_id": rid, "actor": ORGANISER}, message_id=taken
    )
    assert (erased.status, erased.repeated) == ("accepted", False)
    assert (await reg.view(rid)).erased
    async with reg.store.db.sessions() as session:
        rows = (await session.execute(select(Inbox.message_type).where(Inbox.message_id == taken))).scalars().all()
    assert sorted(rows) == ["CancelRegistration", "EraseParticipantData"]


async def test_an_erasure_repeated_gets_its_first_outcome_and_one_with_another_body_is_refused_with_the_code(
    reg: Registration,
) -> None:
    first, second = await reg.register(), await reg.register()
    erase = {"registration_id": first, "actor": ORGANISER}
    assert (await reg.command("registration.EraseParticipantData", erase, "erase-1")).status == "accepted"
    again = await reg.command("registration.EraseParticipantData", erase, "erase-1")
    assert (again.status, again.ids) == ("accepted", {"registration_id": first})

    other = {"registration_id": second, "actor": ORGANISER}
    refused = await reg.command("registration.EraseParticipantData", other, "erase-1")
    assert [(e.field, e.code) for e in refused.errors] == [("message_id", "message_id_reused")]
    assert "message_id" in refused.errors[0].message and "niets uitgevoerd" in refused.errors[0].message
    assert not (await reg.view(second)).erased  # nothing done for the reused id
    rejections = [json.loads(r) for r in await rejected(reg)]
    assert [(r["data"]["command_id"], r["data"]["errors"][0]["code"]) for r in rejections] == [
        ("erase-1", "message_id_reused")
    ]


async def test_two_replicas_given_one_id_with_two_bodies_at_once_carry_out_one_and_refuse_the_other(
    reg: Registration,
) -> None:
    first, second = await reg.register(), await reg.register()
    other = Registration(reg.replica(), reg.database, reg.edition, reg.last_session_ends)
    try:
        replies = await asyncio.gather(
            reg.command("registration.CancelRegistration", {"registration_id": first}, "same-id"),
            other.command("registration.CancelRegistration", {"registration_id": second}, "same-id"),
        )
    finally:
        await other.store.db.dispose()
    outcomes = sorted((r.status, [e.code for e in r.errors]) for r in replies)
    assert outcomes == [("accepted", []), ("rejected", ["message_id_reused"])]
    statuses = sorted([(await reg.view(first)).status, (await reg.view(second)).status])
    assert statuses == ["awaiting_approval", "cancelled"]  # one of them, and only one, was cancelled


async def rejected(reg: Registration) -> list[bytes]:
    async with reg.store.db.sessions() as session:
        return list(
            (await session.execute(select(Outbox.body).where(Outbox.message_type == "CommandRejected"))).scalars()
        )
