"""What the organiser console reads of registration and the organisers' commands behind it, on registration's own
SQLite store built by the migrations: the filtered list, one registration's detail with its history, replacing a
member and correcting a registration through the service's consumers."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from services.registration import consumes
from services.registration.adapters import Inbox, MemberRow, Outbox, RegistrationStore
from services.registration.bootstrap import MIGRATIONS
from services.registration.query_routes import query_routes
from services.registration.tokens import ApprovalLinks, InvoiceLinks
from shared.contract import Reply
from shared.contract.registration import RegistrationCommandRejected
from shared.db import Database, migrate, utcnow
from shared.messaging.messages import Incoming
from tests.factories import ORGANISER, trio
from tests.integration.test_invoicing_counter import MUNICIPALITIES, POLICY, paying_trio
from tests.integration.test_registration_store import EDITION, schedule_edition

TOKEN = "console-api-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "console-api-secret"


@dataclass
class Registration:
    store: RegistrationStore
    http: httpx.AsyncClient

    async def command(self, routing_key: str, body: dict[str, Any]) -> Reply:
        consumer = consumes.consumers(self.store, MUNICIPALITIES)[routing_key]
        reply = await consumer(
            Incoming(
                body=json.dumps(body).encode(),
                routing_key=routing_key,
                message_id=str(uuid.uuid4()),
                message_type=routing_key.split(".")[1],
            )
        )
        assert isinstance(reply, Reply)
        return reply

    async def register(self, body: dict[str, Any]) -> str:
        reply = await self.command("registration.RegisterTrio", body)
        assert reply.status == "accepted", reply.errors
        return str(reply.ids["registration_id"])

    async def scheduling(self, name: str, data: dict[str, Any]) -> None:
        envelope = {
            "event_id": str(uuid.uuid4()),
            "type": name,
            "version": 1,
            "occurred_at": utcnow().isoformat(),
            "producer": "scheduling",
            "correlation_id": "c-scheduling",
            "causation_id": "c-scheduling",
            "data": data,
        }
        consumer = consumes.consumers(self.store, MUNICIPALITIES)[f"scheduling.{name}"]
        await consumer(
            Incoming(
                body=json.dumps(envelope).encode(),
                routing_key=f"scheduling.{name}",
                message_id=envelope["event_id"],
                message_type=name,
            )
        )

    async def listed(self, **params: str) -> dict[str, Any]:
        response = await self.http.get("/api/registrations", params=params, headers=BEARER)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def detail(self, registration_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/registrations/{registration_id}", headers=BEARER)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def outbox_text(self) -> str:
        async with self.store.db.sessions() as session:
            return "\n".join(row.body.decode() for row in (await session.execute(select(Outbox))).scalars())


@pytest.fixture
async def registration(tmp_path: Path) -> AsyncIterator[Registration]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'registration.sqlite3'}")
    await migrate(db, MIGRATIONS, "registration")
    store = RegistrationStore(
        db,
        "registration",
        Outbox,
        Inbox,
        RegistrationCommandRejected,
        approvals=ApprovalLinks(SECRET, "http://testserver", timedelta(days=14)),
        billing=POLICY,
        invoice_links=InvoiceLinks(SECRET, "http://testserver"),
    )
    await schedule_edition(store)
    app = Starlette(routes=query_routes(store, TOKEN))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield Registration(store, http)
    await db.dispose()


def names(page: dict[str, Any]) -> list[str]:
    return [r["municipality"]["name"] for r in page["registrations"]]


async def test_the_list_filters_searches_and_pages_with_the_total(registration: Registration) -> None:
    veenendaal = await registration.register(trio(EDITION))
    utrecht = await registration.register(paying_trio("u"))
    small = trio(EDITION, municipality="GM1680", invoice={"address": "Postbus 1\n9460 AA Gieten", "reference": "7"})
    await registration.register(small)
    approved = await registration.command(
        "registration.ApproveRegistration", {"registration_id": veenendaal, "by_organizer": True, "actor": ORGANISER}
    )
    assert approved.status == "accepted"
    await registration.scheduling("TrioPlaced", {"registration_id": utrecht, "edition": EDITION, "via": "direct"})

    everything = await registration.listed()
    assert names(everything) == ["Veenendaal", "Utrecht", "Aa en Hunze"]  # in registration order
    assert (everything["total"], everything["limit"], everything["next_offset"]) == (3, 50, None)
    assert names(await registration.listed(status="approved,placed")) == ["Veenendaal", "Utrecht"]
    assert names(await registration.listed(size_class="klein")) == ["Aa en Hunze"]
    assert names(await registration.listed(priority="true", edition=EDITION)) == ["Veenendaal"]
    assert names(await registration.listed(q="UTRE")) == ["Utrecht"]
    assert names(await registration.listed(q="chloé")) == ["Utrecht"]  # a member's name
    assert names(await registration.listed(paid="false")) == ["Utrecht"]  # invoiced at its place, still open
    assert names(await registration.listed(paid="true")) == []
    assert names(await registration.listed(q="100%_")) == []  # LIKE's wildcards are plain characters here
    first = await registration.listed(limit="2")
    assert (names(first), first["total"], first["next_offset"]) == (["Veenendaal", "Utrecht"], 3, 2)
    assert names(await registration.listed(limit="2", offset="2")) == ["Aa en Hunze"]
    invoiced = next(r for r in everything["registrations"] if r["registration_id"] == utrecht)
    assert invoiced["invoice_state"]["state"] == "open" and invoiced["invoice_state"]["open_cents"] == 24200
    assert [m["position"] for m in invoiced["members"]] == [0, 1, 2] and invoiced["members"][0]["member_id"]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "geplaatst"},
        {"size_class": "middel"},
        {"paid": "ja"},
        {"limit": "0"},
        {"limit": "501"},
        {"offset": "-1"},
        {"q": "x" * 101},
        {"sort": "name"},
    ],
)
async def test_a_wrong_filter_is_refused_rather_than_ignored(
    registration: Registration, params: dict[str, str]
) -> None:
    response = await registration.http.get("/api/registrations", params=params, headers=BEARER)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["code"] == "invalid_query" and error["field"] in (*params, "sort")


async def test_registrations_are_for_organisers_only(registration: Registration) -> None:
    rid = await registration.register(trio(EDITION))
    for path in ("/api/registrations", f"/api/registrations/{rid}"):
        assert (await registration.http.get(path)).status_code == 401
        assert (await registration.http.get(path, headers={"Authorization": "Bearer guess"})).status_code == 401
    answer = await registration.http.get(f"/api/registrations/{rid}", headers=BEARER)
    assert answer.headers["cache-control"] == "private, no-store"
    missing = await registration.http.get(f"/api/registrations/{uuid.uuid4()}", headers=BEARER)
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "unknown_registration"


async def test_the_detail_shows_the_placement_with_tables_and_the_history_in_order(registration: Registration) -> None:
    rid = await registration.register(trio(EDITION))
    await registration.command(
        "registration.ApproveRegistration",
        {"registration_id": rid, "by_organizer": True, "actor": ORGANISER, "reason": "Akkoord per telefoon."},
    )
    await registration.scheduling("TrioPlaced", {"registration_id": rid, "edition": EDITION, "via": "allocation"})
    seating = {"edition": EDITION, "session_number": 1, "tables": [{"table": 2, "registration_ids": [rid]}]}
    await registration.scheduling("SeatingPlanned", seating)
    await registration.scheduling("SeatingPlanned", seating)  # a replan with the same table tells nothing new
    seats = [{"session_number": 1, "table": 2}, {"session_number": 2, "table": 4}]
    await registration.scheduling("TrioSeated", {"edition": EDITION, "registration_id": rid, "seats": seats})

    detail = await registration.detail(rid)
    assert detail["placement"]["status"] == "placed" and detail["placement"]["tables"] == seats
    assert detail["edition_title"] == "Werkplaatsen wijkgericht werken" and detail["consent"]["privacy"] is True
    assert [(h["producer"], h["type"]) for h in detail["history"]] == [
        ("registration", "TrioRegistered"),
        ("registration", "ApprovalRequested"),
        ("registration", "RegistrationApproved"),
        ("scheduling", "TrioPlaced"),
        ("scheduling", "SeatingPlanned"),
        ("scheduling", "TrioSeated"),  # session 2 only: its table at session 1 is the one it had
    ]
    assert detail["history"][-1]["summary"] == "Tafel 4 bij bijeenkomst 2"
    approval = detail["history"][2]
    assert approval["summary"] == "Goedgekeurd door de organisatie namens de goedkeurder"
    assert (approval["reason"], approval["actor"]) == ("Akkoord per telefoon.", ORGANISER["account_id"])
    assert detail["decision_reason"] == "Akkoord per telefoon." and detail["decided_by_organizer"] is True


async def test_replacing_a_member_leaves_nothing_of_them_in_the_trio_nor_in_its_waiting_events(
    registration: Registration,
) -> None:
    body = trio(EDITION, tag="weg")
    rid = await registration.register(body)
    assert "bram.weg@veenendaal.example" in await registration.outbox_text()  # TrioRegistered, not yet published
    noor = {"name": "Noor El Amrani", "email": "noor@veenendaal.example", "role": "sectorambtenaar", "domain": "fysiek"}
    reply = await registration.command(
        "registration.ReplaceMember",
        {
            "registration_id": rid,
            "member_index": 1,
            "member": noor,
            "reason": "Van functie gewisseld.",
            "actor": ORGANISER,
        },
    )
    assert reply.status == "accepted", reply.errors

    detail = await registration.detail(rid)
    assert [m["name"] for m in detail["members"]] == ["Anna de Vries", "Noor El Amrani", "Chris Bakker"]
    assert detail["members"][1]["member_id"] == reply.ids["member_id"]
    async with registration.store.db.sessions() as session:
        stored = list((await session.execute(select(MemberRow.email))).scalars())
    assert "bram.weg@veenendaal.example" not in stored
    waiting = await registration.outbox_text()
    assert "bram.weg@veenendaal.example" not in waiting and "Bram Jansen" not in waiting
    assert '"type": "MemberReplaced"' in waiting and "noor@veenendaal.example" in waiting
    entry = detail["history"][-1]
    assert (entry["type"], entry["summary"], entry["reason"]) == (
        "MemberReplaced",
        "Lid 2 van het trio vervangen door een nieuw lid",
        "Van functie gewisseld.",
    )
    again = await registration.command(
        "registration.ReplaceMember",
        {"registration_id": rid, "member_id": "no-such-member", "member": noor, "reason": "x", "actor": ORGANISER},
    )
    assert [(e.field, e.code) for e in again.errors] == [("member_id", "unknown_member")]


async def test_a_correction_is_shown_and_kept_in_the_history(registration: Registration) -> None:
    rid = await registration.register(trio(EDITION))
    case = {**trio(EDITION)["case"], "title": "Groene pleinen en veilige routes"}
    reply = await registration.command(
        "registration.CorrectRegistration",
        {"registration_id": rid, "case": case, "reason": "Titel aangepast op verzoek.", "actor": ORGANISER},
    )
    assert reply.status == "accepted" and reply.ids["changed"] == ["case.title"]
    detail = await registration.detail(rid)
    assert detail["case"]["title"] == "Groene pleinen en veilige routes"
    assert detail["history"][-1]["summary"] == "Gecorrigeerd: titel van de casus"


async def test_an_issued_invoice_keeps_its_details(registration: Registration) -> None:
    rid = await registration.register(paying_trio("f"))
    await registration.scheduling("TrioPlaced", {"registration_id": rid, "edition": EDITION, "via": "direct"})
    reply = await registration.command(
        "registration.CorrectRegistration",
        {
            "registration_id": rid,
            "invoice": {"address": "Postbus 16200\n3500 CE Utrecht", "reference": "PO-2"},
            "reason": "Nieuw inkoopnummer.",
            "actor": ORGANISER,
        },
    )
    assert [(e.field, e.code) for e in reply.errors] == [("invoice", "invoice_already_issued")]
    detail = await registration.detail(rid)
    assert [h["type"] for h in detail["history"]][-2:] == ["TrioPlaced", "InvoiceIssued"]
