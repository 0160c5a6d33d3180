"""Who may give a command: organisers' (and facilitators') commands need a trusted actor of their role, declared
once per command in each service's consumes table and checked by the shared command path."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.scheduling.adapters import Inbox, Outbox
from services.scheduling.bootstrap import MIGRATIONS
from shared.contract import COMMANDS, Command
from shared.contract.scheduling import SchedulingCommandRejected
from shared.db import Database, migrate
from shared.messaging.messages import Incoming
from shared.messaging.processing import ORGANISER, STAFF, MessageStore, Roles, UnitOfWork, run_command
from shared.settings import SERVICES
from tests.factories import ORGANISER as ORGANISER_ACTOR
from tests.fuzz.bodies import valid_body

# The specification: every command only staff may give, and who. Participants' and approvers' commands
# (RegisterTrio, Approve/DeclineRegistration with a token, CancelRegistration through a link) are not here.
GIVEN_BY: dict[str, Roles] = {
    "registration.EraseParticipantData": ORGANISER,
    "registration.RegisterPayment": ORGANISER,
    "registration.IssueCreditNote": ORGANISER,
    "registration.ResendInvoice": ORGANISER,
    "registration.ReplaceMember": ORGANISER,
    "registration.CorrectRegistration": ORGANISER,
    "scheduling.ScheduleEdition": ORGANISER,
    "scheduling.CloseRegistration": ORGANISER,
    "scheduling.ReopenRegistration": ORGANISER,
    "scheduling.RescheduleSession": ORGANISER,
    "scheduling.PlaceTrio": ORGANISER,
    "scheduling.MoveOnWaitlist": ORGANISER,
    "scheduling.PlanSeating": ORGANISER,
    "scheduling.RecordAttendance": STAFF,
    "scheduling.CompleteSession": STAFF,
    "reporting.PublishReport": ORGANISER,
    "reporting.MarkFalsePositive": ORGANISER,
    "scheduling.StopRegistration": ORGANISER,
    "reporting.RetractReport": ORGANISER,
    "reporting.ReviseReport": STAFF,
    "notifications.SendAnnouncement": ORGANISER,
    "notifications.ResendNotification": ORGANISER,
}
VIEWER = {**ORGANISER_ACTOR, "role": "viewer"}
FACILITATOR = {**ORGANISER_ACTOR, "role": "facilitator"}


def declared() -> dict[str, Roles]:
    return {
        line.routing_key: line.given_by
        for service in SERVICES
        for line in importlib.import_module(f"services.{service}.consumes").CONSUMES
        if line.given_by
    }


def test_every_command_only_staff_may_give_says_so_in_its_services_consumes_table() -> None:
    assert declared() == GIVEN_BY


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[MessageStore]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'givers.sqlite3'}")
    await migrate(db, MIGRATIONS, "scheduling")
    yield MessageStore(db, "scheduling", Outbox, Inbox, SchedulingCommandRejected)
    await db.dispose()


class Work:
    """The command's handler: it only counts; the refusals under test come before it."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, command: Command, uow: UnitOfWork) -> dict[str, Any]:
        self.calls += 1
        return {}


def message(routing_key: str, actor: Any, message_id: str | None = None, **properties: Any) -> Incoming:
    body = {k: v for k, v in valid_body(routing_key).items() if k != "actor"}
    if actor is not None:
        body["actor"] = actor
    return Incoming(
        body=json.dumps(body).encode(),
        routing_key=routing_key,
        message_id=message_id or str(uuid.uuid4()),
        **properties,
    )


async def give(store: MessageStore, msg: Incoming) -> tuple[list[tuple[str, str]], int]:
    work = Work()
    roles = GIVEN_BY.get(msg.routing_key, frozenset())
    reply = await run_command(store, msg, COMMANDS[msg.routing_key], work, given_by=roles)
    return [(e.field, e.code) for e in reply.errors], work.calls


@pytest.mark.parametrize("routing_key", sorted(GIVEN_BY))
async def test_a_staff_command_without_an_actor_or_from_a_viewer_is_refused_and_not_carried_out(
    routing_key: str, store: MessageStore
) -> None:
    assert await give(store, message(routing_key, None)) == ([("actor", "actor_required")], 0)
    code = "actor_not_organiser" if GIVEN_BY[routing_key] == ORGANISER else "actor_not_staff"
    assert await give(store, message(routing_key, VIEWER)) == ([("actor", code)], 0)
    assert await give(store, message(routing_key, ORGANISER_ACTOR)) == ([], 1)


async def test_a_facilitator_records_attendance_and_notes_but_does_not_schedule(store: MessageStore) -> None:
    assert await give(store, message("scheduling.RecordAttendance", FACILITATOR)) == ([], 1)
    assert await give(store, message("reporting.ReviseReport", FACILITATOR)) == ([], 1)
    refused = await give(store, message("scheduling.ScheduleEdition", FACILITATOR))
    assert refused == ([("actor", "actor_not_organiser")], 0)


async def test_an_organisers_actor_counts_only_from_the_consoles_broker_user_or_the_services_own_route(
    store: MessageStore,
) -> None:
    store.actor_publishers = frozenset({"werkplaatsen-console"})
    from_chat = message("scheduling.CloseRegistration", ORGANISER_ACTOR, user_id="werkplaatsen-chat")
    assert await give(store, from_chat) == ([("actor", "untrusted_actor")], 0)
    unknown = message("scheduling.CloseRegistration", ORGANISER_ACTOR)
    assert await give(store, unknown) == ([("actor", "untrusted_actor")], 0)
    console = message("scheduling.CloseRegistration", ORGANISER_ACTOR, user_id="werkplaatsen-console")
    assert await give(store, console) == ([], 1)
    route = message("scheduling.CloseRegistration", ORGANISER_ACTOR, local=True)
    assert await give(store, route) == ([], 1)


# The inbox: keyed by type and id, a reused id refused


def command(routing_key: str, message_id: str, reply_to: str | None = None, **changes: Any) -> Incoming:
    body = {**valid_body(routing_key), **changes}
    if reply_to:
        body["reply_to"] = reply_to
    return Incoming(body=json.dumps(body).encode(), routing_key=routing_key, message_id=message_id)


async def test_an_id_used_by_one_type_of_command_does_not_take_it_from_another(store: MessageStore) -> None:
    taken = await give(store, command("scheduling.CloseRegistration", "shared-id"))
    assert taken == ([], 1)
    assert await give(store, command("scheduling.ReopenRegistration", "shared-id")) == ([], 1)


async def test_a_reused_id_with_another_body_is_refused_and_the_first_outcome_stays(store: MessageStore) -> None:
    first = command("scheduling.CloseRegistration", "id-1", edition="2027-voorjaar")
    assert await give(store, first) == ([], 1)
    other = command("scheduling.CloseRegistration", "id-1", edition="2027-najaar")
    assert await give(store, other) == ([("message_id", "message_id_reused")], 0)
    assert (await store.outcome("id-1", "CloseRegistration") or {})["status"] == "accepted"
    async with store.db.sessions() as session:
        rejected = (await session.execute(select(Outbox.body).where(Outbox.message_type == "CommandRejected"))).all()
    assert [json.loads(p)["data"]["errors"][0]["code"] for (p,) in rejected] == ["message_id_reused"]


async def test_a_true_repeat_on_another_reply_queue_gets_the_first_outcome_marked_repeated(store: MessageStore) -> None:
    first = command("scheduling.CloseRegistration", "id-2", reply_to="werkplaatsen.console.replies.a")
    assert await give(store, first) == ([], 1)
    work = Work()
    again = command("scheduling.CloseRegistration", "id-2", reply_to="werkplaatsen.console.replies.b")
    reply = await run_command(store, again, COMMANDS[again.routing_key], work, given_by=ORGANISER)
    assert (reply.status, work.calls) == ("accepted", 0)
    async with store.db.sessions() as session:
        replies = (await session.execute(select(Outbox.routing_key, Outbox.body).where(Outbox.exchange == ""))).all()
    assert [(key, json.loads(p)["repeated"]) for key, p in replies] == [
        ("werkplaatsen.console.replies.a", False),
        ("werkplaatsen.console.replies.b", True),
    ]


async def test_a_refused_command_repeated_gets_its_refusal_and_one_with_another_body_the_reuse_code(
    store: MessageStore,
) -> None:
    assert await give(store, message("scheduling.CloseRegistration", None, message_id="x")) == (
        [("actor", "actor_required")],
        0,
    )
    work = Work()
    again = message("scheduling.CloseRegistration", None, message_id="x")
    reply = await run_command(store, again, COMMANDS[again.routing_key], work, given_by=ORGANISER)
    assert [e.code for e in reply.errors] == ["actor_required"]
    other = message("scheduling.CloseRegistration", ORGANISER_ACTOR, message_id="x")
    assert await give(store, other) == ([("message_id", "message_id_reused")], 0)
