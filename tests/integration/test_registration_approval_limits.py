"""Against real PostgreSQL over the HTTP API: the daily limits on approval requests (the client's address is
counted; a request past a limit is held, in the outbox as held and in the history; an organiser sends it; erasure
forgets the approver's address), and a registration of someone already registered answered as an accepted one."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from services.registration import consumes, entrypoints
from services.registration.adapters import ApprovalRequestRow, HistoryRow
from services.registration.approval_limits import ApprovalLimits
from services.registration.query_routes import query_routes
from tests.integration.test_registration_lifecycle import (
    MUNICIPALITIES,
    ORGANIZER_TOKEN,
    Registration,
    reg,  # noqa: F401  # the fixture
    trio,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def limited(reg: Registration) -> AsyncIterator[tuple[Registration, httpx.AsyncClient]]:  # noqa: F811
    reg.store = dataclasses.replace(
        reg.store, approval_limits=ApprovalLimits(per_approver_per_day=1, per_client_per_day=2)
    )
    app = Starlette(
        routes=[
            *entrypoints.routes(reg.store, consumes.consumers(reg.store, MUNICIPALITIES), ORGANIZER_TOKEN),
            *query_routes(reg.store, ORGANIZER_TOKEN),
        ]
    )
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield reg, client


async def rows(registration: Registration) -> list[tuple[str, str, str | None, bool, bool]]:
    async with registration.store.db.sessions() as session:
        found = (await session.execute(select(ApprovalRequestRow).order_by(ApprovalRequestRow.id))).scalars().all()
    return [(r.registration_id, r.approver_email, r.client, r.held, r.released_at is not None) for r in found]


async def test_approval_requests_past_the_limits_are_held_and_an_organiser_sends_them(
    limited: tuple[Registration, httpx.AsyncClient],
) -> None:
    registration, http = limited
    first = trio(registration.edition, "one")
    same_approver = {**trio(registration.edition, "two"), "approver": first["approver"]}
    other_approver = trio(registration.edition, "three")
    fourth = trio(registration.edition, "four")
    ids = []
    for body in (first, same_approver, other_approver, fourth):
        # A header of the request's own does not make it another client.
        forged = {"X-Werkplaatsen-Client": str(uuid.uuid4())}
        response = await http.post("/api/registrations", json=body, headers=forged)
        assert response.status_code == 202, response.text
        ids.append(response.json()["registration_id"])

    held = {e["data"]["registration_id"]: e["data"]["held"] for e in await registration.outbox("ApprovalRequested")}
    # Two: the approver's limit (1); four: the client's (2 mailed: one and three).
    assert [held[i] for i in ids] == [False, True, False, True]
    assert {client for _, _, client, _, _ in await rows(registration)} == {"http:203.0.113.7"}
    async with registration.store.db.sessions() as session:
        summaries = (
            (await session.execute(select(HistoryRow.summary).where(HistoryRow.registration_id == ids[1])))
            .scalars()
            .all()
        )
    assert any("aangehouden" in s for s in summaries)
    organiser = {"Authorization": f"Bearer {ORGANIZER_TOKEN}"}
    listed = (await http.get("/api/approval-requests/held", headers=organiser)).json()["held"]
    assert [h["registration_id"] for h in listed] == [ids[1], ids[3]]
    assert (await http.get("/api/approval-requests/held")).status_code == 401

    sent = await http.post(
        f"/api/registrations/{ids[1]}/approval-request", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}
    )
    assert sent.status_code == 200
    last = (await registration.outbox("ApprovalRequested"))[-1]["data"]
    assert (last["registration_id"], last["held"]) == (ids[1], False)
    assert [(held, released) for rid, _, _, held, released in await rows(registration) if rid == ids[1]] == [
        (True, True),
        (False, False),
    ]
    listed = (await http.get("/api/approval-requests/held", headers=organiser)).json()["held"]
    assert [h["registration_id"] for h in listed] == [ids[3]]

    erased = await http.post(
        f"/api/registrations/{ids[1]}/erase", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}
    )
    assert erased.status_code == 200
    assert [rid for rid, *_ in await rows(registration)] == [ids[0], ids[2], ids[3]]


async def test_a_registration_of_someone_already_registered_is_answered_as_accepted_and_the_member_told(
    limited: tuple[Registration, httpx.AsyncClient],
) -> None:
    registration, http = limited
    first = trio(registration.edition, "first")
    registered = await http.post("/api/registrations", json=first)
    again = {**trio(registration.edition, "again"), "members": [*trio(registration.edition, "x")["members"][:2]]}
    again["members"].append({**first["members"][2], "name": "Iemand Anders"})
    answered = await http.post("/api/registrations", json=again)

    assert registered.status_code == answered.status_code == 202
    (told,) = await registration.outbox("RegistrationAttemptRefused")
    assert told["data"]["already_registered"] == [
        {
            "email": first["members"][2]["email"],
            "language": "nl",
            "registration_id": registered.json()["registration_id"],
        }
    ]
    (rejected,) = await registration.outbox("CommandRejected")
    assert rejected["data"]["errors"][0]["code"] == "member_already_registered"
