"""Organisers' decisions on places (PlaceTrio, MoveOnWaitlist), reopening registration and the console's query
API: the domain rules on their own, the handlers through scheduling's consumers on its SQLite store (so the
set-based waitlist statements run for real) and the HTTP routes."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.scheduling.adapters import SqlEditions, WaitlistRow
from services.scheduling.domain import Edition, shift_for_leaving, shift_for_move
from services.scheduling.entrypoints import allocate_due
from shared.contract import Reply
from shared.contract.registration import RegistrationCancelled
from shared.contract.scheduling import (
    CloseRegistration,
    MoveOnWaitlist,
    PlaceTrio,
    RecordAttendance,
    ReopenRegistration,
    StopRegistration,
)
from shared.messaging.delivery import deliver
from shared.messaging.messages import Incoming
from shared.messaging.processing import MessageStore
from tests.factories import by_organiser
from tests.unit.test_scheduling_http import TOKEN, Scheduling, store

__all__ = ["store"]  # the fixture, shared with test_scheduling_http

ORGANISER = {"Authorization": f"Bearer {TOKEN}"}


class Organiser(Scheduling):
    """Scheduling on SQLite, with the organiser's commands and the answers they get."""

    async def run(self, model: type, **body: Any) -> Reply:
        body = by_organiser(model.routing_key, {"edition": self.slug, **body})
        message = Incoming(body=json.dumps(body).encode(), routing_key=model.routing_key, message_id=str(uuid.uuid4()))
        return await self.consumers.command(model, message)

    async def place(self, rid: str, reason: str = "Sterke casus voor het thema") -> Reply:
        return await self.run(PlaceTrio, registration_id=rid, reason=reason)

    async def move(self, rid: str, position: int, reason: str = "Afspraak met de wethouder") -> Reply:
        return await self.run(MoveOnWaitlist, registration_id=rid, position=position, reason=reason)

    async def waitlist(self) -> list[str]:
        async with self.store.db.sessions() as session:
            rows = await session.execute(
                select(WaitlistRow.registration_id, WaitlistRow.position)
                .where(WaitlistRow.edition == self.slug)
                .order_by(WaitlistRow.position)
            )
            listed = rows.all()
        assert [position for _, position in listed] == list(range(1, len(listed) + 1))  # never a gap
        return [rid for rid, _ in listed]

    async def edition(self) -> Edition:
        async with self.store.db.sessions() as session:
            edition = await SqlEditions(session).get(self.slug)
        assert edition is not None
        return edition

    async def allocated_with(self, count: int) -> list[str]:
        """`count` approved trios, registered a minute apart, allocated at the deadline (8 places)."""
        ids = [await self.approved_trio(n) for n in range(count)]
        assert await allocate_due(self.store, self.command.registration_deadline) == [self.slug]
        self.clock.now = self.command.registration_deadline + timedelta(hours=1)
        return ids

    async def after_first_session(self) -> None:
        """From the first session's start nothing fills a freed place by itself any more."""
        self.clock.now = self.command.sessions[0].starts_at + timedelta(hours=5)

    async def post_json(self, path: str, body: object, **headers: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://s") as client:
            return await client.post(path, json=body, headers=headers)


@pytest.fixture
async def organiser(store: MessageStore) -> AsyncIterator[Organiser]:
    organiser = Organiser(store)
    await organiser.send("scheduling.ScheduleEdition", organiser.command.model_dump(mode="json", exclude_none=True))
    yield organiser


def codes(reply: Reply) -> list[str]:
    assert reply.status == "rejected"
    return [e.code for e in reply.errors]


# The rules on their own


async def test_a_trio_moved_ahead_by_hand_stays_ahead_of_a_better_ranked_trio_approved_later(
    organiser: Organiser,
) -> None:
    ids = await organiser.allocated_with(11)  # 8 placed; 8, 9 and 10 waiting
    await organiser.move(ids[10], 1)
    assert await organiser.waitlist() == [ids[10], ids[8], ids[9]]
    before = len(await organiser.events("TrioWaitlisted"))

    early = await organiser.approved_trio(-5)

    assert await organiser.waitlist() == [ids[10], early, ids[8], ids[9]]
    moved = (await organiser.events("TrioWaitlisted"))[before:]
    assert [(e["registration_id"], e["position"], e["previous_position"]) for e in moved] == [
        (early, 2, None),
        (ids[8], 3, 2),
        (ids[9], 4, 3),
    ]


async def test_without_moves_by_hand_trios_approved_late_join_the_waitlist_in_rank_order_priority_first(
    organiser: Organiser,
) -> None:
    for n in range(8):
        await organiser.approved_trio(n)
    n10 = await organiser.approved_trio(10, priority=False)
    n30 = await organiser.approved_trio(30, priority=False)
    p40 = await organiser.approved_trio(40)
    assert await allocate_due(organiser.store, organiser.command.registration_deadline) == [organiser.slug]
    organiser.clock.now = organiser.command.registration_deadline + timedelta(hours=1)
    assert await organiser.waitlist() == [p40, n10, n30]

    n20 = await organiser.approved_trio(20, priority=False)
    p50 = await organiser.approved_trio(50)
    p5 = await organiser.approved_trio(5)
    n60 = await organiser.approved_trio(60, priority=False)

    assert await organiser.waitlist() == [p5, p40, p50, n10, n20, n30, n60]


@pytest.mark.parametrize(
    ("old", "new", "lo", "hi", "delta"), [(5, 2, 2, 4, 1), (2, 5, 3, 5, -1), (1, 2, 2, 2, -1), (2, 1, 1, 1, 1)]
)
def test_a_move_shifts_exactly_the_trios_between_the_old_and_the_new_position(
    old: int, new: int, lo: int, hi: int, delta: int
) -> None:
    shift = shift_for_move(old, new)
    assert (shift.lo, shift.hi, shift.delta) == (lo, hi, delta)


def test_a_trio_leaving_moves_up_everyone_behind_it() -> None:
    shift = shift_for_leaving(3)
    assert (shift.lo, shift.hi, shift.delta) == (4, None, -1)


# Placing by hand


async def test_a_waitlisted_trio_placed_by_hand_takes_a_free_place_and_those_behind_it_move_up(
    organiser: Organiser,
) -> None:
    ids = await organiser.allocated_with(11)  # 8 placed, 3 waiting
    await organiser.after_first_session()
    await organiser.publish(RegistrationCancelled(registration_id=ids[0], edition=organiser.slug))
    assert await organiser.waitlist() == ids[8:]  # the place stays free: the first session has started

    reply = await organiser.place(ids[9], "Gemeente sluit aan bij het thema van bijeenkomst 2")

    assert reply.status == "accepted" and reply.ids == {
        "edition": organiser.slug,
        "registration_id": ids[9],
        "place": 1,
        "via": "waitlist",
    }
    (placed,) = [e for e in await organiser.events("TrioPlaced") if e["registration_id"] == ids[9]]
    assert (placed["via"], placed["reason"]) == ("waitlist", "Gemeente sluit aan bij het thema van bijeenkomst 2")
    moved = [e for e in await organiser.events("TrioWaitlisted") if e["previous_position"] is not None]
    assert [(e["registration_id"], e["position"], e["previous_position"]) for e in moved] == [(ids[10], 2, 3)]
    assert await organiser.waitlist() == [ids[8], ids[10]]
    # The new trio joins a table at each session still to come; nobody else moves.
    (seated,) = await organiser.events("TrioSeated")
    assert seated["registration_id"] == ids[9]
    assert [s["session_number"] for s in seated["seats"]] == [2, 3]
    planned = await organiser.events("SeatingPlanned")
    assert [p["session_number"] for p in planned] == [1, 2, 3]  # the allocation's plan only


async def test_placing_a_trio_into_a_full_edition_is_refused_with_the_reason_and_changes_nothing(
    organiser: Organiser,
) -> None:
    ids = await organiser.allocated_with(9)
    before = len(await organiser.events("TrioPlaced"))

    reply = await organiser.place(ids[8])

    assert codes(reply) == ["edition_full"]
    assert "Alle 8 plaatsen" in reply.errors[0].message
    assert len(await organiser.events("TrioPlaced")) == before and await organiser.waitlist() == [ids[8]]


async def test_a_trio_approved_before_the_deadline_can_be_given_a_place_and_the_allocation_fills_the_rest(
    organiser: Organiser,
) -> None:
    ids = [await organiser.approved_trio(n) for n in range(10)]

    assert (await organiser.place(ids[9], "Pilotgemeente")).ids["via"] == "direct"
    await allocate_due(organiser.store, organiser.command.registration_deadline)

    edition = await organiser.edition()
    assert edition.placed_ids == [ids[9], *ids[:7]]
    assert [p.hand_reason for p in edition.placements][:2] == ["Pilotgemeente", None]
    assert await organiser.waitlist() == ids[7:9]
    (closed,) = await organiser.events("RegistrationClosed")
    assert closed["placed"] == [ids[9], *ids[:7]]


async def test_placing_by_hand_is_refused_for_a_trio_that_cannot_have_a_place(organiser: Organiser) -> None:
    ids = await organiser.allocated_with(9)
    await organiser.after_first_session()
    await organiser.publish(RegistrationCancelled(registration_id=ids[1], edition=organiser.slug))
    await organiser.publish(RegistrationCancelled(registration_id=ids[0], edition=organiser.slug))

    assert codes(await organiser.place(ids[2])) == ["already_placed"]
    cancelled = await organiser.place(ids[0])
    assert codes(cancelled) == ["not_waitlisted"] and "afgemeld" in cancelled.errors[0].message
    assert codes(await organiser.place("onbekend")) == ["unknown_registration"]
    assert codes(await organiser.run(PlaceTrio, edition="geen-editie", registration_id=ids[8], reason="x")) == [
        "unknown_edition"
    ]
    assert codes(await organiser.place(ids[8], reason="   ")) == ["schema"]  # a reason is required
    organiser.clock.now = organiser.command.sessions[-1].starts_at
    assert codes(await organiser.place(ids[8])) == ["sessions_over"]


async def test_placing_a_trio_scheduling_has_not_heard_of_yet_waits_for_its_registration_and_approval(
    organiser: Organiser,
) -> None:
    rid = str(uuid.uuid4())
    body = {"edition": organiser.slug, "registration_id": rid, "reason": "Net goedgekeurd in de console"}
    place = Incoming(
        body=json.dumps(by_organiser(PlaceTrio.routing_key, body)).encode(),
        routing_key=PlaceTrio.routing_key,
        message_id="place-1",
        retryable=True,
    )
    assert (await deliver("scheduling", organiser.consumers, place)).action == "retry"  # no TrioRegistered yet
    await organiser.approved_trio(0, rid, approve=False)
    assert (await deliver("scheduling", organiser.consumers, replace(place, attempt=2))).action == "retry"
    assert await organiser.events("CommandRejected") == []
    await organiser.approved_trio(0, rid)  # the approval arrives too (the copy is kept once)
    assert (await deliver("scheduling", organiser.consumers, replace(place, attempt=3))).action == "ack"
    assert (await organiser.edition()).placed_ids == [rid]


async def test_placing_a_trio_that_never_arrives_is_refused_once_the_wait_is_over(organiser: Organiser) -> None:
    body = {"edition": organiser.slug, "registration_id": "nooit-aangemeld", "reason": "x"}
    place = Incoming(
        body=json.dumps(by_organiser(PlaceTrio.routing_key, body)).encode(),
        routing_key=PlaceTrio.routing_key,
        message_id="place-2",
        retryable=True,
    )
    assert (await deliver("scheduling", organiser.consumers, replace(place, attempt=4))).action == "ack"
    (rejected,) = await organiser.events("CommandRejected")
    assert [e["code"] for e in rejected["errors"]] == ["unknown_registration"]


async def test_moving_a_trio_whose_approval_is_on_its_way_waits_for_it(organiser: Organiser) -> None:
    ids = await organiser.allocated_with(9)
    late = await organiser.approved_trio(20, approve=False)
    body = {"edition": organiser.slug, "registration_id": late, "position": 1, "reason": "Afspraak"}
    move = Incoming(
        body=json.dumps(by_organiser(MoveOnWaitlist.routing_key, body)).encode(),
        routing_key=MoveOnWaitlist.routing_key,
        message_id="move-1",
        retryable=True,
    )
    assert (await deliver("scheduling", organiser.consumers, move)).action == "retry"
    await organiser.approved_trio(20, late)
    assert (await deliver("scheduling", organiser.consumers, replace(move, attempt=2))).action == "ack"
    assert await organiser.waitlist() == [late, ids[8]]


# Moving on the waitlist


async def test_moving_a_trio_ahead_announces_it_and_every_trio_that_made_room(organiser: Organiser) -> None:
    ids = await organiser.allocated_with(13)  # 5 waiting: ids[8:13]
    before = len(await organiser.events("TrioWaitlisted"))

    reply = await organiser.move(ids[12], 2, "Afspraak met de wethouder")

    assert reply.ids == {"edition": organiser.slug, "registration_id": ids[12], "position": 2, "previous_position": 5}
    events = (await organiser.events("TrioWaitlisted"))[before:]
    assert [(e["registration_id"], e["position"], e["previous_position"], e["reason"]) for e in events] == [
        (ids[12], 2, 5, "Afspraak met de wethouder"),
        (ids[9], 3, 2, None),
        (ids[10], 4, 3, None),
        (ids[11], 5, 4, None),
    ]
    assert await organiser.waitlist() == [ids[8], ids[12], ids[9], ids[10], ids[11]]


async def test_moving_a_trio_back_moves_the_trios_behind_it_up(organiser: Organiser) -> None:
    ids = await organiser.allocated_with(12)  # 4 waiting
    await organiser.move(ids[8], 3)
    assert await organiser.waitlist() == [ids[9], ids[10], ids[8], ids[11]]


async def test_a_trio_moved_ahead_keeps_its_place_when_the_waitlist_changes_afterwards(organiser: Organiser) -> None:
    ids = await organiser.allocated_with(12)
    await organiser.move(ids[11], 1)
    early = await organiser.approved_trio(-1)  # registered before everyone: ranks first among the others
    assert await organiser.waitlist() == [ids[11], early, ids[8], ids[9], ids[10]]

    # A place comes free: the trio moved to the head gets it, the rest close up.
    await organiser.publish(RegistrationCancelled(registration_id=ids[0], edition=organiser.slug))
    assert (await organiser.events("TrioPlaced"))[-1]["registration_id"] == ids[11]
    assert await organiser.waitlist() == [early, ids[8], ids[9], ids[10]]


async def test_a_move_the_waitlist_cannot_make_is_refused(organiser: Organiser) -> None:
    ids = await organiser.allocated_with(10)
    before = len(await organiser.events("TrioWaitlisted"))

    assert codes(await organiser.move(ids[8], 3)) == ["position_out_of_range"]
    assert codes(await organiser.move(ids[0], 1)) == ["already_placed"]
    assert codes(await organiser.move("onbekend", 1)) == ["unknown_registration"]
    assert codes(await organiser.run(MoveOnWaitlist, registration_id=ids[8], position=0, reason="x")) == ["schema"]
    same = await organiser.move(ids[8], 1)
    assert same.status == "accepted" and len(await organiser.events("TrioWaitlisted")) == before


# Reopening registration


async def test_registration_stopped_reopens_until_its_scheduled_closing_moment(organiser: Organiser) -> None:
    planned = organiser.command.sessions[0].starts_at  # registration_closes_at defaults to the first session
    await organiser.approved_trio(0)
    assert (await organiser.run(CloseRegistration)).status == "accepted"  # allocates; registration stays open
    assert codes(await organiser.run(ReopenRegistration)) == ["not_closed"]
    assert (await organiser.run(StopRegistration, reason="Genoeg aanmeldingen")).status == "accepted"
    (stopped,) = await organiser.events("RegistrationStopped")
    assert stopped["reason"] == "Genoeg aanmeldingen"
    shown = (await organiser.get(f"/api/editions/{organiser.slug}")).json()
    assert shown["registration_open"] is False
    assert datetime.fromisoformat(shown["registration_reopen_until"]) == planned

    organiser.clock.now += timedelta(days=1)
    reply = await organiser.run(ReopenRegistration)

    assert reply.status == "accepted" and datetime.fromisoformat(reply.ids["registration_closes_at"]) == planned
    (reopened,) = await organiser.events("RegistrationReopened")
    assert datetime.fromisoformat(reopened["registration_closes_at"]) == planned
    # Registration keeps its copy of the edition from EditionScheduled: that is how the form offers it again.
    assert datetime.fromisoformat((await organiser.events("EditionScheduled"))[-1]["registration_closes_at"]) == planned
    shown = (await organiser.get(f"/api/editions/{organiser.slug}")).json()
    assert (shown["registration_open"], shown["registration_reopen_until"]) == (True, None)
    assert codes(await organiser.run(ReopenRegistration)) == ["not_closed"]


async def test_registration_cannot_reopen_once_its_scheduled_closing_moment_has_passed(organiser: Organiser) -> None:
    await organiser.run(StopRegistration)
    organiser.clock.now = organiser.command.sessions[0].starts_at
    assert codes(await organiser.run(ReopenRegistration)) == ["deadline_passed"]


async def test_registration_that_closed_at_its_time_cannot_reopen(organiser: Organiser) -> None:
    organiser.clock.now = organiser.command.sessions[0].starts_at + timedelta(minutes=1)
    assert codes(await organiser.run(ReopenRegistration)) == ["deadline_passed"]


# Over HTTP


async def test_commands_over_http_answer_a_conflicting_state_with_409_and_what_is_unknown_with_404(
    organiser: Organiser,
) -> None:
    ids = await organiser.allocated_with(9)
    trio = f"/api/editions/{organiser.slug}/trios"
    assert (await organiser.post_json(f"{trio}/{ids[8]}/place", {"reason": "x"})).status_code == 401

    full = await organiser.post_json(f"{trio}/{ids[8]}/place", {"reason": "Belangrijk"}, **ORGANISER)
    assert full.status_code == 409 and full.json()["errors"][0]["code"] == "edition_full"
    no_reason = await organiser.post_json(f"{trio}/{ids[8]}/place", {}, **ORGANISER)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    unknown = await organiser.post_json(f"{trio}/onbekend/move", {"position": 1, "reason": "x"}, **ORGANISER)
    assert unknown.status_code == 404
    moved = await organiser.post_json(f"{trio}/{ids[8]}/move", {"position": 1, "reason": "x"}, **ORGANISER)
    assert moved.status_code == 200 and moved.json()["status"] == "accepted"
    reopen = await organiser.post(f"/api/editions/{organiser.slug}/reopen", **ORGANISER)
    assert reopen.status_code == 409 and reopen.json()["errors"][0]["code"] == "not_closed"
    stop = await organiser.post_json(f"/api/editions/{organiser.slug}/stop", {"reason": "Vol"}, **ORGANISER)
    assert stop.status_code == 200 and stop.json()["reopen_until"]
    again = await organiser.post_json(f"/api/editions/{organiser.slug}/stop", {}, **ORGANISER)
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "edition_closed"


async def test_the_trios_of_an_edition_are_listed_for_organisers_a_page_at_a_time(organiser: Organiser) -> None:
    ids = await organiser.allocated_with(11)
    await organiser.move(ids[10], 1, "Afspraak")
    path = f"/api/editions/{organiser.slug}/trios"
    assert (await organiser.get(path)).status_code == 401

    first = (await organiser.get(f"{path}?limit=9", **ORGANISER)).json()
    rest = (await organiser.get(f"{path}?limit=9&offset={first['next_offset']}", **ORGANISER)).json()

    assert first["counts"] == {"placed": 8, "waitlisted": 3, "approved": 0}
    assert (first["next_offset"], rest["next_offset"]) == (9, None)
    trios = first["trios"] + rest["trios"]
    assert [(t["registration_id"], t["status"], t["place"], t["position"]) for t in trios] == [
        *[(rid, "placed", n, None) for n, rid in enumerate(ids[:8], start=1)],
        (ids[10], "waitlisted", None, 1),
        (ids[8], "waitlisted", None, 2),
        (ids[9], "waitlisted", None, 3),
    ]
    assert (trios[0]["via"], trios[0]["by_hand"]) == ("allocation", False)
    assert trios[0]["reason"].startswith("voorrangsgroep")
    assert (trios[8]["by_hand"], trios[8]["reason"], trios[8]["municipality"]) == (True, "Afspraak", "GM0010")
    waiting = (await organiser.get(f"{path}?status=waitlisted&limit=1&offset=1", **ORGANISER)).json()
    assert [t["registration_id"] for t in waiting["trios"]] == [ids[8]] and waiting["next_offset"] == 2
    bad = await organiser.get(f"{path}?status=iedereen&limit=0", **ORGANISER)
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"status", "limit"}
    assert (await organiser.get("/api/editions/geen-editie/trios", **ORGANISER)).status_code == 404


async def test_approved_trios_waiting_for_the_allocation_are_listed_in_rank_order(organiser: Organiser) -> None:
    ids = [await organiser.approved_trio(n) for n in range(3)]
    listed = (await organiser.get(f"/api/editions/{organiser.slug}/trios?status=approved", **ORGANISER)).json()
    assert [(t["registration_id"], t["status"]) for t in listed["trios"]] == [(rid, "approved") for rid in ids]
    assert listed["counts"]["approved"] == 3


async def test_a_session_shows_organisers_its_attendance_and_its_tables(organiser: Organiser) -> None:
    ids = await organiser.allocated_with(8)
    path = f"/api/editions/{organiser.slug}/sessions/1"
    before = (await organiser.get(path, **ORGANISER)).json()
    assert (before["started"], before["completed"], before["present"]) == (False, False, [])
    assert sum(len(t["registration_ids"]) for t in before["tables"]) == 8

    await organiser.after_first_session()
    assert (await organiser.run(RecordAttendance, session_number=1, present=ids[:5])).status == "accepted"
    after = (await organiser.get(path, **ORGANISER)).json()

    assert (after["started"], after["present"], after["attendance"]) == (
        True,
        ids[:5],
        {"trios": 5, "municipalities": 5},
    )
    assert after["placed"] == ids and after["notes"] is None
    shown = (await organiser.get(f"/api/editions/{organiser.slug}")).json()
    assert (shown["placed"], shown["waitlisted"]) == (8, 0)
    assert [s["present_trios"] for s in shown["sessions"]] == [5, 0, 0]
    assert (await organiser.get(path)).status_code == 401
    missing = await organiser.get(f"/api/editions/{organiser.slug}/sessions/9", **ORGANISER)
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "unknown_session"
    assert (await organiser.get(f"/api/editions/{organiser.slug}/sessions/een", **ORGANISER)).status_code == 404


async def test_the_edition_shows_the_numbers_an_organiser_needs(organiser: Organiser) -> None:
    await organiser.allocated_with(10)
    shown = (await organiser.get(f"/api/editions/{organiser.slug}")).json()
    assert (shown["placed"], shown["waitlisted"], shown["places_left"], shown["table_size"]) == (8, 2, 0, 2)
    assert shown["registration_reopen_until"] is None
