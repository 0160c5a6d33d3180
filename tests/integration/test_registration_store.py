"""Registration against real PostgreSQL: one effect per command, the HTTP route on the same path, competing replicas."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from services.registration import consumes, entrypoints
from services.registration.adapters import (
    Inbox,
    MemberRow,
    Outbox,
    RegistrationRow,
    RegistrationStore,
    load_municipalities,
)
from services.registration.bootstrap import MIGRATIONS
from services.registration.config import RegistrationConfig
from services.registration.query_routes import query_routes
from services.registration.tokens import ApprovalLinks
from shared.contract.registration import RegisterTrio, RegistrationCommandRejected
from shared.db import Database, migrate, utcnow
from shared.messaging.messages import Incoming
from shared.messaging.processing import MessageStore
from tests.support import database_url

pytestmark = pytest.mark.integration

EDITION = "2027-najaar"
SECRET = "integration-secret"
MUNICIPALITIES = load_municipalities(RegistrationConfig())


@pytest.fixture
async def store(pg_database) -> AsyncIterator[MessageStore]:
    db = Database(database_url(await pg_database("registration")))
    await migrate(db, MIGRATIONS, "registration")
    store = RegistrationStore(
        db,
        "registration",
        Outbox,
        Inbox,
        RegistrationCommandRejected,
        approvals=ApprovalLinks(SECRET, "https://werkplaatsen.example", timedelta(days=14)),
    )
    await schedule_edition(store)
    yield store
    await db.dispose()


async def schedule_edition(store: MessageStore) -> None:
    """Deliver scheduling.EditionScheduled the way the consumer receives it."""
    starts = utcnow() + timedelta(days=45)
    envelope = {
        "event_id": str(uuid.uuid4()),
        "type": "EditionScheduled",
        "version": 1,
        "occurred_at": utcnow().isoformat(),
        "producer": "scheduling",
        "correlation_id": "c-edition",
        "causation_id": "c-edition",
        "data": {
            "edition": EDITION,
            "title": "Werkplaatsen wijkgericht werken",
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
                    "ends_at": (starts + timedelta(hours=4)).isoformat(),
                }
            ],
        },
    }
    consumer = consumes.consumers(store, MUNICIPALITIES)["scheduling.EditionScheduled"]
    await consumer(
        Incoming(
            body=json.dumps(envelope).encode(),
            routing_key="scheduling.EditionScheduled",
            message_id=envelope["event_id"],
            message_type="EditionScheduled",
        )
    )


def trio(prefix: str = "") -> dict[str, Any]:
    return {
        "edition": EDITION,
        "municipality": "GM0203",  # Barneveld, M50 member: no invoice needed
        "members": [
            {"name": "Anna", "email": f"{prefix}anna@barneveld.nl", "role": "wijkambtenaar", "domain": "sociaal"},
            {"name": "Bram", "email": f"{prefix}bram@barneveld.nl", "role": "sectorambtenaar", "domain": "fysiek"},
            {"name": "Chloé", "email": f"{prefix}chloe@barneveld.nl", "role": "sectorambtenaar", "domain": "economie"},
        ],
        "case": {
            "title": "Groene pleinen",
            "neighbourhood": "Centrum",
            "summary": "Samen met bewoners.",
            "domains": ["fysiek", "sociaal"],
        },
        "approver": {"name": "Dirk", "email": "dirk@barneveld.nl"},
        "consent": {"privacy": True},
    }


def command(body: dict[str, Any], message_id: str) -> Incoming:
    return Incoming(
        body=json.dumps(body).encode(),
        routing_key="registration.RegisterTrio",
        message_id=message_id,
        message_type="RegisterTrio",
        content_type="application/json",
    )


async def count(store: MessageStore, column: Any, *where: Any) -> int:
    async with store.db.sessions() as session:
        return int((await session.execute(select(func.count(column)).where(*where))).scalar_one())


async def test_the_same_command_twice_registers_once_and_emits_one_event(store: MessageStore) -> None:
    message_id = str(uuid.uuid4())
    first = await consumes.consumers(store, MUNICIPALITIES).command(RegisterTrio, command(trio(), message_id))
    second = await consumes.consumers(store, MUNICIPALITIES).command(RegisterTrio, command(trio(), message_id))
    assert first.status == second.status == "accepted"
    assert first.ids == second.ids
    assert await count(store, RegistrationRow.id) == 1
    assert await count(store, MemberRow.id) == 3
    assert await count(store, Outbox.position, Outbox.routing_key == "registration.TrioRegistered") == 1
    assert await count(store, Outbox.position, Outbox.routing_key == "registration.ApprovalRequested") == 1
    async with store.db.sessions() as session:
        row = (await session.execute(select(Outbox).where(Outbox.message_type == "TrioRegistered"))).scalar_one()
    envelope = json.loads(row.body)
    assert envelope["causation_id"] == envelope["correlation_id"] == message_id
    assert envelope["data"]["registration_id"] == first.ids["registration_id"]
    assert envelope["data"]["fee"]["waived"] is True


async def test_competing_registrations_of_one_member_let_exactly_one_through(store: MessageStore) -> None:
    same_member = [command(trio(), str(uuid.uuid4())) for _ in range(4)]
    replies = await asyncio.gather(
        *(consumes.consumers(store, MUNICIPALITIES).command(RegisterTrio, c) for c in same_member)
    )
    assert sorted(r.status for r in replies) == ["accepted", "rejected", "rejected", "rejected"]
    assert {e.code for r in replies for e in r.errors} == {"member_already_registered"}
    assert await count(store, RegistrationRow.id) == 1


ORGANIZER_TOKEN = "organiser-secret"


@pytest.fixture
async def http(store: MessageStore) -> AsyncIterator[httpx.AsyncClient]:
    routes = entrypoints.routes(store, consumes.consumers(store, MUNICIPALITIES), ORGANIZER_TOKEN)
    app = Starlette(routes=[*routes, *query_routes(store, ORGANIZER_TOKEN)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_http_registration_is_accepted_once_per_idempotency_key(
    store: MessageStore, http: httpx.AsyncClient
) -> None:
    headers = {"Idempotency-Key": "web-form-1", "X-Correlation-ID": "session-7"}
    first = await http.post("/api/registrations", json=trio(), headers=headers)
    again = await http.post("/api/registrations", json=trio(), headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["status"] == "accepted"
    assert first.json() == again.json()
    assert first.headers["x-correlation-id"] == "session-7"
    assert await count(store, RegistrationRow.id) == 1
    async with store.db.sessions() as session:
        rows = (await session.execute(select(Outbox).order_by(Outbox.position))).scalars().all()
    assert [(r.message_type, r.correlation_id) for r in rows] == [
        ("TrioRegistered", "session-7"),
        ("ApprovalRequested", "session-7"),
    ]


async def test_http_refusal_answers_422_with_the_command_rejected_errors(
    store: MessageStore, http: httpx.AsyncClient
) -> None:
    body = {**trio(), "edition": "2099-voorjaar", "consent": {"privacy": False}}
    response = await http.post("/api/registrations", json=body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        ("edition", "unknown_edition"),
        ("consent.privacy", "privacy_consent_required"),
    ]
    async with store.db.sessions() as session:
        row = (await session.execute(select(Outbox))).scalar_one()
    assert row.routing_key == "registration.CommandRejected"
    assert json.loads(row.body)["data"]["errors"] == errors


async def test_http_schema_violation_and_bad_json_answer_422(http: httpx.AsyncClient) -> None:
    members = trio()["members"]
    members[1] = {**members[1], "email": "geen-adres"}
    response = await http.post("/api/registrations", json={**trio(), "members": members})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "members[1].email"
    broken = await http.post("/api/registrations", content=b"{nope", headers={"Content-Type": "application/json"})
    assert broken.status_code == 422 and broken.json()["errors"][0]["code"] == "invalid_json"


async def test_http_body_over_64_kib_is_refused_with_413(store: MessageStore, http: httpx.AsyncClient) -> None:
    body = {**trio(), "case": {**trio()["case"], "summary": "x" * (65 * 1024)}}
    response = await http.post("/api/registrations", json=body)
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "body_too_large"
    assert await count(store, Inbox.message_id) == 1  # only the EditionScheduled event


async def test_registrations_with_personal_data_are_shown_to_organisers_only(http: httpx.AsyncClient) -> None:
    accepted = await http.post("/api/registrations", json=trio())
    anonymous = await http.get("/api/registrations")
    wrong = await http.get("/api/registrations", headers={"Authorization": "Bearer guess"})
    organiser = await http.get(
        "/api/registrations",
        params={"edition": trio()["edition"]},
        headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"},
    )
    assert anonymous.status_code == wrong.status_code == 401
    assert anonymous.json()["errors"][0]["code"] == "unauthorized"
    assert organiser.status_code == 200
    (registration,) = organiser.json()["registrations"]
    assert registration["registration_id"] == accepted.json()["registration_id"]
    assert registration["status"] == "awaiting_approval"
    assert [m["email"] for m in registration["members"]] == [m["email"].lower() for m in trio()["members"]]


async def test_the_organisers_list_filters_and_searches_in_postgresql_and_the_detail_has_the_history(
    http: httpx.AsyncClient,
) -> None:
    organiser = {"Authorization": f"Bearer {ORGANIZER_TOKEN}"}
    first = (await http.post("/api/registrations", json=trio())).json()["registration_id"]
    members = [{**m, "email": "ander." + m["email"]} for m in trio()["members"]]
    members[1]["name"] = "Zoë Ünal"
    second = (await http.post("/api/registrations", json={**trio(), "members": members})).json()["registration_id"]
    approved = await http.post(f"/api/registrations/{second}/approve", json={"reason": "Per mail."}, headers=organiser)
    assert approved.status_code == 200, approved.text

    async def listed(**params: str) -> list[str]:
        response = await http.get("/api/registrations", params=params, headers=organiser)
        assert response.status_code == 200, response.text
        return [r["registration_id"] for r in response.json()["registrations"]]

    assert await listed() == [first, second]
    assert await listed(status="approved") == [second]
    assert await listed(q="zoË ün", priority="true", size_class="middelgroot") == [second]  # any case, also non-ASCII
    assert await listed(q="no such name") == []
    assert await listed(paid="true") == []
    assert await listed(limit="1", offset="1") == [second]
    detail = (await http.get(f"/api/registrations/{second}", headers=organiser)).json()
    assert [h["type"] for h in detail["history"]] == ["TrioRegistered", "ApprovalRequested", "RegistrationApproved"]
    assert (detail["history"][-1]["reason"], detail["history"][-1]["actor"]) == ("Per mail.", "organiser-token")
