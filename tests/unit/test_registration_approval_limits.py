"""The daily limits on approval requests: past them a request is held (kept, shown, sent by an organiser), never
mailed at once and never dropped."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from services.registration import consumes
from services.registration.adapters import Outbox
from services.registration.approval_limits import CLIENT_HEADER, ApprovalLimits
from services.registration.web import web_routes
from shared.contract.registration import ApprovalRequested
from shared.settings import Settings
from tests.unit.test_registration_handlers import (
    NOW,
    FakeApprovalRequests,
    FakeEditions,
    FakeHistory,
    FakeRegistrations,
    Trio,
    edition,
    register,
    request_again,
    trio,
)
from tests.unit.test_registration_web import MUNICIPALITIES, SECRET, open_site, sqlite_url, trio_form

APPROVER = {"name": "Dirk Visser", "email": "Dirk.Visser@barneveld.nl"}


def other_trio(n: int, **changes: Any) -> dict[str, Any]:
    """A trio of other people each time, naming the same approver unless `approver` is given."""
    body = trio(**{"approver": APPROVER, **changes})
    members = copy.deepcopy(body["members"])
    for m in members:
        m["email"] = f"{n}.{m['email']}"
    return {**body, "members": members}


class Intake:
    def __init__(self, limits: ApprovalLimits) -> None:
        self.limits = limits
        self.editions, self.registrations = FakeEditions(edition()), FakeRegistrations()
        self.history, self.requests = FakeHistory(), FakeApprovalRequests()
        self.count = 0

    async def ask(self, body: dict[str, Any] | None = None, *, hours: float = 0, client: str | None = None) -> Any:
        self.count += 1
        _, emitted = await register(
            body or other_trio(self.count),
            editions=self.editions,
            registrations=self.registrations,
            history=self.history,
            now=NOW + timedelta(hours=hours),
            approval_requests=self.requests,
            limits=self.limits,
            headers={CLIENT_HEADER: client} if client else {},
        )
        (request,) = [e for e in emitted if isinstance(e, ApprovalRequested)]
        return request


async def test_approval_requests_past_the_daily_limit_of_an_approver_address_are_held_not_dropped() -> None:
    intake = Intake(ApprovalLimits(per_approver_per_day=2, per_client_per_day=100))
    first, second, third = [await intake.ask() for _ in range(3)]

    assert (first.held, second.held, third.held) == (False, False, True)
    # Held, not lost: the request is recorded and the registration's history says what happened.
    assert [row[4] for row in intake.requests.rows] == [False, False, True]
    (held_entry,) = [
        e for e in intake.history.entries if e.registration_id == third.registration_id and "aangehouden" in e.summary
    ]
    assert held_entry.event == "registration.ApprovalRequested"


async def test_the_approver_limit_counts_the_last_day_only_and_ignores_letter_case() -> None:
    intake = Intake(ApprovalLimits(per_approver_per_day=1, per_client_per_day=100))
    assert not (await intake.ask()).held
    shouting = other_trio(99, approver={"name": "D", "email": "DIRK.VISSER@BARNEVELD.NL"})
    assert (await intake.ask(shouting, hours=1)).held
    assert not (await intake.ask(hours=25)).held


async def test_approval_requests_from_one_client_past_its_daily_limit_are_held() -> None:
    intake = Intake(ApprovalLimits(per_approver_per_day=100, per_client_per_day=1))

    def to(n: int) -> dict[str, Any]:
        return other_trio(n, approver={"name": "Iemand", "email": f"approver{n}@example.nl"})

    assert not (await intake.ask(to(1), client="203.0.113.7")).held
    assert (await intake.ask(to(2), client="203.0.113.7")).held
    assert not (await intake.ask(to(3), client="198.51.100.1")).held


async def test_an_organisers_request_sends_a_held_approval_request_and_counts_towards_the_limit() -> None:
    t = Trio()
    t.approval_requests.rows = [
        ["earlier", "dirk.visser@barneveld.nl", None, NOW - timedelta(hours=1), False, None] for _ in range(5)
    ]
    rid = await t.register()
    assert t.approval_requests.rows[-1][4] is True  # the sixth of the day: held

    (sent,) = await request_again(t, rid, NOW + timedelta(minutes=5))

    assert isinstance(sent, ApprovalRequested) and not sent.held
    held_row, organisers_row = t.approval_requests.rows[-2:]
    assert held_row[5] == NOW + timedelta(minutes=5)  # released
    assert organisers_row[0] == rid and organisers_row[4] is False


async def test_the_form_counts_its_visitor_as_the_registering_client(tmp_path: Path) -> None:
    site = await open_site(sqlite_url(tmp_path))
    try:
        site.store.approval_limits = ApprovalLimits(per_approver_per_day=100, per_client_per_day=1)
        settings = Settings(werkplaatsen_secret_key=SECRET, werkplaatsen_public_url="http://localhost")
        app = Starlette(
            routes=web_routes(site.store, consumes.consumers(site.store, MUNICIPALITIES), MUNICIPALITIES, settings)
        )
        transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
            for tag in ("one", "two"):
                page = (await browser.get("/")).text
                assert (await browser.post("/", data=trio_form(page, tag=tag))).status_code == 200
        async with site.store.db.sessions() as session:
            rows = (await session.execute(select(Outbox).where(Outbox.message_type == "ApprovalRequested"))).scalars()
            held = [json.loads(r.body)["data"]["held"] for r in rows]
        assert held == [False, True]
    finally:
        await site.close()
