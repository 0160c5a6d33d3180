"""The shared wiring: a service's table becomes consumers whose handlers get their dependencies by name."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.scheduling.adapters import Inbox, Outbox
from services.scheduling.bootstrap import MIGRATIONS
from shared.contract import ErrorItem
from shared.contract.registration import RegistrationCancelled
from shared.contract.scheduling import CloseRegistration, SchedulingCommandRejected
from shared.db import Database, migrate
from shared.messaging.messages import CommandRefused, Incoming
from shared.messaging.processing import MessageStore
from shared.messaging.wiring import Dependencies, on, subscribe

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[MessageStore]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'wiring.sqlite3'}")
    await migrate(db, MIGRATIONS, "scheduling")
    yield MessageStore(db, "scheduling", Outbox, Inbox, SchedulingCommandRejected)
    await db.dispose()


def cancelled_event(event_id: str) -> Incoming:
    body = {
        "event_id": event_id,
        "type": "RegistrationCancelled",
        "version": 1,
        "occurred_at": NOW.isoformat(),
        "producer": "registration",
        "correlation_id": "c-1",
        "causation_id": "c-1",
        "data": {"registration_id": "r-1", "edition": "2027-voorjaar"},
    }
    return Incoming(body=json.dumps(body).encode(), routing_key=RegistrationCancelled.routing_key, message_id=event_id)


class Repository:
    def __init__(self, session: Any) -> None:
        self.session = session


async def test_handlers_of_one_line_get_their_dependencies_by_name_and_share_one_repository(
    store: MessageStore,
) -> None:
    seen: list[dict[str, Any]] = []

    async def first(
        event: RegistrationCancelled, *, trios: Repository, now: datetime, occurred_at: datetime, setting: str
    ) -> None:
        seen.append({"event": event.registration_id, "trios": trios, "now": now, "at": occurred_at, "setting": setting})

    async def second(event: RegistrationCancelled, *, trios: Repository, envelope: Any) -> None:
        seen.append({"trios": trios, "event_id": envelope.event_id})

    consumers = subscribe(
        [on(RegistrationCancelled, first, second)],
        store,
        Dependencies(per_transaction={"trios": Repository}, fixed={"setting": "fixed value"}, clock=lambda: NOW),
    )
    event_id = str(uuid.uuid4())
    assert await consumers[RegistrationCancelled.routing_key](cancelled_event(event_id)) is True
    assert seen[0]["event"] == "r-1" and seen[0]["now"] == NOW and seen[0]["at"] == NOW
    assert seen[0]["setting"] == "fixed value"
    assert seen[0]["trios"] is seen[1]["trios"]
    assert seen[1]["event_id"] == event_id
    # The same event again: the inbox has it, no handler runs.
    assert await consumers[RegistrationCancelled.routing_key](cancelled_event(event_id)) is False
    assert len(seen) == 2


async def test_a_handler_that_needs_what_the_service_does_not_provide_stops_the_wiring_naming_both(
    store: MessageStore,
) -> None:
    async def needy(event: RegistrationCancelled, *, mailer: object) -> None: ...

    with pytest.raises(TypeError, match="needs mailer"):
        subscribe([on(RegistrationCancelled, needy)], store)


async def test_a_command_line_has_one_handler_whose_return_is_the_reply_ids(store: MessageStore) -> None:
    async def close(cmd: CloseRegistration, *, emit: Any) -> dict[str, str]:
        return {"edition": cmd.edition}

    async def other(cmd: CloseRegistration) -> None: ...

    with pytest.raises(ValueError, match="exactly one handler"):
        on(CloseRegistration, close, other)
    consumers = subscribe([on(CloseRegistration, close)], store)
    reply = await consumers.command(
        CloseRegistration,
        Incoming(body=b'{"edition": "2027-voorjaar"}', routing_key=CloseRegistration.routing_key, message_id="m-1"),
    )
    assert reply.status == "accepted" and reply.ids == {"edition": "2027-voorjaar"}


async def test_a_step_after_commit_that_fails_leaves_the_committed_work_standing(store: MessageStore) -> None:
    applied: list[str] = []

    async def record(event: RegistrationCancelled) -> None:
        applied.append(event.registration_id)

    async def broken(event: RegistrationCancelled) -> None:
        raise ConnectionError("broker away")

    consumers = subscribe([on(RegistrationCancelled, record, after_commit=[broken])], store)
    assert await consumers[RegistrationCancelled.routing_key](cancelled_event(str(uuid.uuid4()))) is True
    assert applied == ["r-1"]


async def test_a_command_handler_gets_the_message_headers_its_route_passed_along(store: MessageStore) -> None:
    seen: list[Any] = []

    async def close(cmd: CloseRegistration, *, headers: Any) -> None:
        seen.append(dict(headers))

    consumers = subscribe([on(CloseRegistration, close)], store)
    await consumers.command(
        CloseRegistration,
        Incoming(
            body=b'{"edition": "2027-voorjaar"}',
            routing_key=CloseRegistration.routing_key,
            message_id="m-h",
            headers={"x-werkplaatsen-client": "203.0.113.7"},
        ),
    )
    assert seen == [{"x-werkplaatsen-client": "203.0.113.7"}]


async def test_events_a_refusal_carries_are_published_with_its_command_rejected_once(store: MessageStore) -> None:
    async def close(cmd: CloseRegistration, *, emit: Any) -> None:
        emit(RegistrationCancelled(registration_id="kept-back", edition=cmd.edition))  # undone with the refusal
        raise CommandRefused(
            [ErrorItem(field="edition", code="some_reason", message="Nee.")],
            events=[RegistrationCancelled(registration_id="told", edition=cmd.edition)],
        )

    consumers = subscribe([on(CloseRegistration, close)], store)
    msg = Incoming(body=b'{"edition": "2027-voorjaar"}', routing_key=CloseRegistration.routing_key, message_id="m-r")
    first = await consumers.command(CloseRegistration, msg)
    again = await consumers.command(CloseRegistration, msg)

    assert first.status == again.status == "rejected"
    async with store.db.sessions() as session:
        rows = (await session.execute(select(Outbox).order_by(Outbox.position))).scalars().all()
    published = [(r.message_type, json.loads(r.body)["data"].get("registration_id")) for r in rows]
    assert published == [("CommandRejected", None), ("RegistrationCancelled", "told")]
