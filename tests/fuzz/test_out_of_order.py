"""Events that arrive in another order than they were published are handled, not dropped.

A real story is produced first: an edition is scheduled, a trio registers and is approved, scheduling places it
(the services in this process, each event forwarded as the broker would in publication order). Its events are then
delivered to each consuming service in other orders, with the delivery decision production uses: a message a
consumer cannot handle yet is retried (re-queued behind the others, as the retry queues do) and must succeed once
what it waited for has arrived. The end state must equal that of delivery in publication order, and no message
may end up dead-lettered.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.notifications.store import SqlMails
from services.notifications.store import SqlRegistrations as NotificationCopies
from services.reporting.adapters import SqlReports, SqlTrios
from services.scheduling.entrypoints import allocate_due
from shared.contract import Event
from shared.contract.scheduling import AttendanceRecorded, SessionCompleted
from shared.db import utcnow
from shared.messaging.messages import RETRY_DELAYS_SECONDS, Incoming
from tests import factories
from tests.fuzz.harness import DERANDOMIZE, InProcessSystem, forward, open_system

TAG = "story0001"
# A message is retried this many times before production dead-letters it.
ATTEMPTS = len(RETRY_DELAYS_SECONDS) + 1


@dataclasses.dataclass
class Story:
    registration_id: str
    edition: str
    events: dict[str, dict[str, Any]]  # by type, as published


async def command(system: InProcessSystem, routing_key: str, body: dict[str, Any]) -> dict[str, Any]:
    outcome = await system.command(
        Incoming(
            body=json.dumps(factories.by_organiser(routing_key, body)).encode(),
            routing_key=routing_key,
            message_id=str(uuid.uuid4()),
            message_type=routing_key.split(".")[1],
        )
    )
    assert outcome.reply is not None and outcome.reply.status == "accepted", outcome.reply
    return outcome.reply.ids


def edition_with_deadline_passed() -> dict[str, Any]:
    """Registration open, allocation moment passed: the deadline timer's next round places the trio."""
    now = utcnow()
    body = factories.open_edition()
    body["registration_deadline"] = (now - timedelta(hours=1)).isoformat()
    body["registration_closes_at"] = (now + timedelta(days=1)).isoformat()
    for index, session in enumerate(body["sessions"]):
        starts = now + timedelta(days=60 + 30 * index)
        session["starts_at"], session["ends_at"] = starts.isoformat(), (starts + timedelta(hours=4)).isoformat()
    return body


def envelope(data: Any, producer: str) -> dict[str, Any]:
    return json.loads(
        Event[type(data)](
            event_id=str(uuid.uuid4()),
            type=type(data).__name__,
            version=1,
            occurred_at=utcnow(),
            producer=producer,
            correlation_id="story",
            causation_id="story",
            data=data,
        ).model_dump_json()
    )


@pytest.fixture(scope="module")
async def story(tmp_path_factory) -> AsyncIterator[Story]:
    system = await open_system(Path(tmp_path_factory.mktemp("story")), names=("registration", "scheduling"))
    try:
        edition = edition_with_deadline_passed()
        await command(system, "scheduling.ScheduleEdition", edition)
        await forward(system, "scheduling", "EditionScheduled", ("registration",))
        ids = await command(system, "registration.RegisterTrio", factories.trio(edition["edition"], tag=TAG))
        rid = ids["registration_id"]
        await forward(system, "registration", "TrioRegistered", ("scheduling",))
        await command(
            system,
            "registration.ApproveRegistration",
            {"registration_id": rid, "by_organizer": True, "actor": factories.ORGANISER},
        )
        await forward(system, "registration", "RegistrationApproved", ("scheduling",))
        await allocate_due(system.services["scheduling"].store, utcnow())  # what the deadline timer does
        events = {e["type"]: e for producer in ("registration", "scheduling") for e in await system.outbox(producer)}
        assert {"EditionScheduled", "TrioRegistered", "ApprovalRequested", "RegistrationApproved", "TrioPlaced"} <= set(
            events
        ), sorted(events)
        first = edition["sessions"][0]
        events["AttendanceRecorded"] = envelope(
            AttendanceRecorded(edition=edition["edition"], session_number=1, present=[rid]), "scheduling"
        )
        events["SessionCompleted"] = envelope(
            SessionCompleted(
                edition=edition["edition"],
                session_number=1,
                title=first["title"],
                starts_at=first["starts_at"],
                attendance={"trios": 1, "municipalities": 1},
                notes={"lessons": ["Anna de Vries vertelde hoe de wijk meedeed."], "quotes": ["Bram Jansen: samen!"]},
            ),
            "scheduling",
        )
        yield Story(rid, edition["edition"], events)
    finally:
        await system.close()


def retold(story: Story, types: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """The story's events of `types`, in that order, about a new registration (new ids, names and addresses), so
    every telling is independent of the others in one database."""
    rid, tag = str(uuid.uuid4()), uuid.uuid4().hex[:9]
    told = []
    for kind in types:
        text = json.dumps(story.events[kind]).replace(story.registration_id, rid).replace(TAG, tag)
        event = json.loads(text)
        event["event_id"] = str(uuid.uuid4())
        told.append(event)
    return rid, told


async def deliver_all(system: InProcessSystem, service: str, events: list[dict[str, Any]]) -> list[str]:
    """Deliver as the broker and the retry queues would; returns what was retried. Fails on a dead letter."""
    queue = [(event, 1) for event in events]
    retried = []
    while queue:
        event, attempt = queue.pop(0)
        key = f"{event['producer']}.{event['type']}"
        verdict = await system.deliver(
            Incoming(
                body=json.dumps(event).encode(),
                routing_key=key,
                message_id=event["event_id"],
                message_type=event["type"],
                attempt=attempt,
            ),
            system.services[service],
        )
        assert verdict.action != "dead_letter", f"{service} dead-lettered {event['type']}: {verdict.reason}"
        if verdict.action == "retry":
            assert attempt < ATTEMPTS, f"{service} gave up on {event['type']} although everything arrived"
            retried.append(event["type"])
            queue.append((event, attempt + 1))
    return retried


async def notifications_state(system: InProcessSystem, rid: str) -> dict[str, Any]:
    async with system.services["notifications"].store.db.sessions() as session:
        mails = await SqlMails(session).of_registration(rid)
        copy = await NotificationCopies(session).get(rid)
    return {
        "status": copy.status if copy else None,
        "mails": sorted((m.kind, m.recipient.split("@")[0].split(".")[0]) for m in mails),
    }


async def reporting_state(system: InProcessSystem, rid: str, edition: str) -> dict[str, Any]:
    async with system.services["reporting"].store.db.sessions() as session:
        trio = await SqlTrios(session).get(rid)
        report = await SqlReports(session).get(edition, 1)
    shown = dataclasses.asdict(trio) if trio else {}
    shown.pop("registration_id", None)
    if shown.get("case"):
        shown["case"]["title"] = shown["case"]["title"].split(" ")[0]  # the title carries the telling's tag
    lessons = report.lessons if report else None
    return {"trio": shown, "lessons": lessons, "report": report.status if report else None}


@pytest.fixture(scope="module")
async def consumers(tmp_path_factory) -> AsyncIterator[InProcessSystem]:
    system = await open_system(Path(tmp_path_factory.mktemp("consumers")), names=("notifications", "reporting"))
    yield system
    await system.close()


NOTIFICATIONS = ["EditionScheduled", "TrioRegistered", "ApprovalRequested", "RegistrationApproved", "TrioPlaced"]
REPORTING = [*NOTIFICATIONS, "AttendanceRecorded", "SessionCompleted"]


async def test_notifications_mails_an_approval_that_overtook_the_registration_once_it_arrives(
    story: Story, consumers: InProcessSystem
) -> None:
    rid, (approved, registered, edition, asked) = retold(
        story, ["RegistrationApproved", "TrioRegistered", "EditionScheduled", "ApprovalRequested"]
    )
    retried = await deliver_all(consumers, "notifications", [approved, registered, edition, asked])
    assert retried == ["RegistrationApproved"]
    state = await notifications_state(consumers, rid)
    assert ("approved", "anna") in state["mails"] and state["status"] == "approved"


async def test_notifications_confirms_a_placement_that_overtook_its_edition_with_the_invitations(
    story: Story, consumers: InProcessSystem
) -> None:
    rid, events = retold(story, ["TrioRegistered", "TrioPlaced", "EditionScheduled"])
    retold_edition = events[2]
    retold_edition["data"]["edition"] = events[1]["data"]["edition"] = events[0]["data"]["edition"] = (
        f"late-{uuid.uuid4().hex[:8]}"  # an edition notifications has not heard of yet
    )
    retried = await deliver_all(consumers, "notifications", events)
    assert retried == ["TrioPlaced"]
    state = await notifications_state(consumers, rid)
    assert state["status"] == "placed"
    assert sorted(kind for kind, who in state["mails"] if kind == "placed") == ["placed"] * 3


async def test_reporting_keeps_a_session_report_that_came_before_the_trio_was_placed_and_scrubs_names_later(
    story: Story, consumers: InProcessSystem
) -> None:
    rid, events = retold(
        story, ["SessionCompleted", "AttendanceRecorded", "TrioPlaced", "RegistrationApproved", "TrioRegistered"]
    )
    assert await deliver_all(consumers, "reporting", events) == []
    state = await reporting_state(consumers, rid, story.edition)
    assert state["trio"]["status"] == "placed" and state["trio"]["municipality"]["code"] == "GM0345"
    assert state["lessons"] is not None


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(order=st.permutations(NOTIFICATIONS))
async def test_notifications_ends_the_same_whatever_order_the_events_arrive_in(
    story: Story, consumers: InProcessSystem, order: list[str]
) -> None:
    expected_rid, in_order = retold(story, NOTIFICATIONS)
    await deliver_all(consumers, "notifications", in_order)
    rid, shuffled = retold(story, order)
    await deliver_all(consumers, "notifications", shuffled)
    assert await notifications_state(consumers, rid) == await notifications_state(consumers, expected_rid)


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(order=st.permutations(REPORTING))
async def test_reporting_ends_the_same_whatever_order_the_events_arrive_in(
    story: Story, consumers: InProcessSystem, order: list[str]
) -> None:
    expected_rid, in_order = retold(story, REPORTING)
    await deliver_all(consumers, "reporting", in_order)
    expected = await reporting_state(consumers, expected_rid, story.edition)
    rid, shuffled = retold(story, order)
    await deliver_all(consumers, "reporting", shuffled)
    assert await reporting_state(consumers, rid, story.edition) == expected
