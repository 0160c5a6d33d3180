"""An organiser's announcement on notifications' real store (SQLite): one mail per member of exactly the chosen
audience, in the member's language, once however often the command arrives; and one mail sent again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from services.notifications import consumes
from services.notifications.bootstrap import MIGRATIONS
from services.notifications.domain import STATUS_PLACED, STATUS_WAITLISTED, Mail
from services.notifications.store import Inbox, MailRow, Outbox, SqlEditions, SqlRegistrations, newest_mails
from shared.contract.notifications import NotificationsCommandRejected, ResendNotification, SendAnnouncement
from shared.db import Database, migrate
from shared.messaging.delivery import deliver
from shared.messaging.messages import Incoming
from shared.messaging.processing import MessageStore
from shared.messaging.wiring import Consumers
from tests.factories import by_organiser
from tests.unit.test_notifications_consumes import ADDRESSES
from tests.unit.test_notifications_handlers import EDITION, TITLE, edition, trio_registered


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[MessageStore]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'notifications.sqlite3'}")
    await migrate(db, MIGRATIONS, "notifications")
    store = MessageStore(db, "notifications", Outbox, Inbox, NotificationsCommandRejected)
    async with db.sessions() as session, session.begin():
        await SqlEditions(session).save(edition())
        trios = (
            ("reg-1", STATUS_PLACED, ("nl", "en", "nl"), ""),
            ("reg-2", STATUS_WAITLISTED, ("nl", "nl", "nl"), "w-"),
            ("reg-3", "cancelled", ("nl", "nl", "nl"), "c-"),
        )
        registrations = SqlRegistrations(session)
        for registration_id, status, languages, prefix in trios:
            event = trio_registered(registration_id=registration_id, languages=languages, prefix=prefix)
            copy = await registrations.merge_details(event.data)
            await registrations.save(replace(copy, status=status))
    yield store
    await db.dispose()


def command(model: Any, message_id: str, **fields: Any) -> Incoming:
    return Incoming(
        body=json.dumps(by_organiser(model.routing_key, fields)).encode(),
        routing_key=model.routing_key,
        message_id=message_id,
        correlation_id=message_id,
    )


def announcement(**changes: Any) -> dict[str, Any]:
    return {
        "edition": EDITION,
        "audience": "placed",
        "subject": "Parkeren bij het Stadskantoor",
        "text": "De parkeergarage is gesloten.\n\nKom met de trein.",
        "text_en": "The car park is closed.\n\nPlease come by train.",
    } | changes


async def mails(store: MessageStore) -> list[Mail]:
    async with store.db.sessions() as session:
        return [m for m in await newest_mails(session) if m.kind == "announcement"]


def consumers_of(store: MessageStore) -> Consumers:
    return consumes.consumers(store, ADDRESSES, [])


async def test_an_announcement_to_the_placed_trios_reaches_each_of_their_members_once_in_their_language(
    store: MessageStore,
) -> None:
    consumers = consumers_of(store)
    first = await consumers.command(SendAnnouncement, command(SendAnnouncement, "ann-1", **announcement()))
    again = await consumers.command(SendAnnouncement, command(SendAnnouncement, "ann-1", **announcement()))

    assert first.status == again.status == "accepted"
    assert first.ids["recipients"] == "3"
    sent = {m.recipient: m for m in await mails(store)}
    assert set(sent) == {"anna@barneveld.nl", "bram@barneveld.nl", "chantal@barneveld.nl"}
    anna, bram = sent["anna@barneveld.nl"], sent["bram@barneveld.nl"]
    assert anna.language == "nl" and anna.subject == "Parkeren bij het Stadskantoor"
    assert anna.text.startswith("Beste Anna de Vries,\n\nDe parkeergarage is gesloten.\n\nKom met de trein.")
    assert "Met vriendelijke groet" in anna.text and TITLE in anna.text
    assert anna.html is not None and "<p>Beste Anna de Vries,</p>" in anna.html
    assert bram.language == "en" and bram.text.startswith("Dear Bram Jansen,\n\nThe car park is closed.")
    assert all(m.status == "pending" and m.registration_id == "reg-1" for m in sent.values())
    async with store.db.sessions() as session:
        rows = (await session.execute(Outbox.__table__.select())).all()
    queued = [json.loads(r.body) for r in rows if r.message_type == "AnnouncementQueued"]
    assert [e["data"]["recipients"] for e in queued] == [3]


async def test_the_waitlist_gets_the_dutch_text_when_there_is_no_english_one_and_an_empty_audience_is_fine(
    store: MessageStore,
) -> None:
    consumers = consumers_of(store)
    body = announcement(audience="waitlisted", text_en=None)
    await consumers.command(SendAnnouncement, command(SendAnnouncement, "ann-2", **body))
    assert {m.recipient for m in await mails(store)} == {
        "w-anna@barneveld.nl",
        "w-bram@barneveld.nl",
        "w-chantal@barneveld.nl",
    }

    async with store.db.sessions() as session, session.begin():
        registrations = SqlRegistrations(session)
        copy = await registrations.get("reg-2")
        assert copy is not None
        await registrations.save(replace(copy, status="cancelled"))
    empty = await consumers.command(SendAnnouncement, command(SendAnnouncement, "ann-3", **body))
    assert empty.status == "accepted" and empty.ids["recipients"] == "0"


async def test_a_subject_of_two_lines_or_an_unknown_edition_is_refused(store: MessageStore) -> None:
    consumers = consumers_of(store)
    two_lines = await consumers.command(
        SendAnnouncement, command(SendAnnouncement, "ann-4", **announcement(subject="a\nb"))
    )
    unknown = await consumers.command(
        SendAnnouncement, command(SendAnnouncement, "ann-5", **announcement(edition="2030-voorjaar"))
    )
    assert [e.field for e in two_lines.errors] == ["subject"]
    assert [e.code for e in unknown.errors] == ["unknown_edition"]


async def test_an_announcement_for_an_edition_whose_copy_is_on_its_way_waits_for_it(store: MessageStore) -> None:
    consumers = consumers_of(store)
    sent = replace(command(SendAnnouncement, "ann-6", **announcement(edition="2030-voorjaar")), retryable=True)
    verdict = await deliver("notifications", consumers, sent)
    assert verdict.action == "retry" and "unknown_edition" in verdict.reason
    # Not refused: it is tried again after the retry delay.
    assert await store.outcome("ann-6", "SendAnnouncement") is None
    assert await mails(store) == []


async def test_a_sent_mail_is_sent_again_as_a_new_notification(store: MessageStore) -> None:
    consumers = consumers_of(store)
    await consumers.command(SendAnnouncement, command(SendAnnouncement, "ann-6", **announcement()))
    anna = next(m for m in await mails(store) if m.recipient == "anna@barneveld.nl")
    pending = await consumers.command(
        ResendNotification, command(ResendNotification, "re-0", notification_id=anna.notification_id)
    )
    assert [e.code for e in pending.errors] == ["not_sent_yet"]
    async with store.db.sessions() as session, session.begin():
        await session.execute(update(MailRow).values(status="sent"))

    resent = await consumers.command(
        ResendNotification, command(ResendNotification, "re-1", notification_id=anna.notification_id)
    )

    copies = [m for m in await mails(store) if m.recipient == "anna@barneveld.nl"]
    assert len(copies) == 2 and {m.status for m in copies} == {"sent", "pending"}
    assert resent.ids["notification_id"] in {m.notification_id for m in copies}
    assert len({m.text for m in copies}) == 1
