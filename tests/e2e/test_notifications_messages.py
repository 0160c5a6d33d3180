"""Every message of the notifications table, end to end: two notifications replicas as processes on RabbitMQ and
PostgreSQL, a real SMTP server, and the other services' events published on the broker as they would publish
them. Members write in Dutch and English; the approval request arrives before the registration."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import aio_pika
import httpx
import pytest
from icalendar import Calendar

from tests.support import Bus, ServiceEnv, ServiceProcess, SmtpSink, amqp_url, running, strong_secret, wait_until

pytestmark = pytest.mark.e2e

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TOKEN = strong_secret("e2e-notifications-organiser")
ORGANISER = "organisatie@platform31.example"
EDITION = "e2e-najaar"


@dataclass
class Notifications:
    replicas: list[ServiceProcess]
    smtp: SmtpSink
    vhost: str

    @property
    def url(self) -> str:
        return self.replicas[0].url


@pytest.fixture(scope="module")
async def notifications(real_services, tmp_path_factory) -> AsyncIterator[Notifications]:
    logs = tmp_path_factory.mktemp("notification-logs")
    async with ServiceEnv(
        "e2e",
        tmp_path_factory.mktemp("notification-data"),
        strong_secret("e2e-secret"),
        TOKEN,
        services=("notifications",),
        extra={
            "WERKPLAATSEN_ORGANIZER_EMAIL": ORGANISER,
            "WERKPLAATSEN_PUBLIC_URL": "https://werkplaatsen.example",
            "NOTIFICATIONS_REMINDER_OFFSETS": "40s",
        },
    ) as env:
        assert env.smtp is not None
        replicas = [env.process("notifications", logs / f"notifications-{i}.log") for i in range(2)]
        async with running(*replicas):
            yield Notifications(replicas, env.smtp, env.vhost)


class Publisher(Bus):
    """A front end's view plus the other services' voice: events published as they would publish them."""

    async def __aenter__(self) -> Publisher:
        await super().__aenter__()
        self.exchange = await self.channel.declare_exchange("werkplaatsen.events", "topic", durable=True)
        return self

    async def publish(self, routing_key: str, data: dict[str, Any], correlation_id: str = "corr-e2e") -> str:
        event_id = str(uuid.uuid4())
        producer, name = routing_key.split(".", 1)
        body = {
            "event_id": event_id,
            "type": name,
            "version": 1,
            "occurred_at": datetime.now(UTC).isoformat(),
            "producer": producer,
            "correlation_id": correlation_id,
            "causation_id": correlation_id,
            "data": data,
        }
        await self.exchange.publish(
            aio_pika.Message(
                json.dumps(body).encode(),
                message_id=event_id,
                type=name,
                correlation_id=correlation_id,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=routing_key,
        )
        return event_id


@pytest.fixture
async def bus(notifications: Notifications) -> AsyncIterator[Publisher]:
    async with Publisher(amqp_url(notifications.vhost)) as bus:
        yield bus


def registration(registration_id: str, tag: str, *, channel: str = "web", waived: bool = False) -> dict[str, Any]:
    return {
        "registration_id": registration_id,
        "edition": EDITION,
        "registered_at": datetime.now(UTC).isoformat(),
        "municipality": {
            "code": "GM0345",
            "name": "Veenendaal",
            "province": "Utrecht",
            "inhabitants": 70799,
            "size_class": "middelgroot" if waived else "groot",
            "m50_member": waived,
        },
        "members": [
            {
                "member_id": f"{tag}-1",
                "name": "Sanne de Vries",
                "email": f"sanne.{tag}@veenendaal.example",
                "role": "wijkambtenaar",
                "domain": "sociaal",
                "language": "nl",
            },
            {
                "member_id": f"{tag}-2",
                "name": "Mehmet Yilmaz",
                "email": f"mehmet.{tag}@veenendaal.example",
                "role": "sectorambtenaar",
                "domain": "fysiek",
                "language": "nl",
            },
            {
                "member_id": f"{tag}-3",
                "name": "Laura Mitchell",
                "email": f"laura.{tag}@veenendaal.example",
                "role": "sectorambtenaar",
                "domain": "veiligheid",
                "language": "en",
            },
        ],
        "case": {
            "title": f"Wonen met begeleiding {tag}",
            "neighbourhood": "Het Franse Gat",
            "summary": "Woningen voor mensen die uitstromen uit beschermd wonen.",
            "domains": ["fysiek", "sociaal", "veiligheid"],
        },
        "fee": {"amount_cents": 0, "currency": "EUR", "waived": True, "reason": "middelgroot"}
        if waived
        else {"amount_cents": 20000, "currency": "EUR", "waived": False, "reason": None},
        "priority": waived,
        "preferred_domain_mix": True,
        "consent": {"privacy": True, "publish_municipality_name": True},
        "channel": channel,
        "chat_id": f"room-{tag}" if channel == "chat" else None,
    }


def edition(first_session: datetime) -> dict[str, Any]:
    sessions = [first_session, first_session + timedelta(days=23), first_session + timedelta(days=91)]
    return {
        "edition": EDITION,
        "title": "Werkplaatsen wijkgericht werken",
        "venue": {"name": "Werkplaats wijkgericht werken", "address": "Catharijnesingel 47", "city": "Utrecht"},
        "capacity": {"min_trios": 6, "max_trios": 8},
        "registration_deadline": (first_session - timedelta(days=20)).isoformat(),
        "registration_closes_at": (first_session - timedelta(days=10)).isoformat(),
        "fee": {"amount_cents": 20000, "waived_for_size_classes": ["middelgroot"]},
        "priority_size_classes": ["middelgroot"],
        "table_size": 3,
        "sessions": [
            {
                "number": i + 1,
                "title": title,
                "outcome": f"Uitkomst {i + 1}",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=4)).isoformat(),
            }
            for i, (title, start) in enumerate(
                zip(("Positionering", "Lokale agenda", "Wat en wie"), sessions, strict=True)
            )
        ],
    }


def subject(message: EmailMessage) -> str:
    # A long subject is folded right after "Subject:"; Python's parser keeps the folding space.
    return str(message["Subject"]).strip()


def plain(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def calendar_of(message: EmailMessage) -> Calendar:
    (attachment,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert attachment.get_param("method") == "REQUEST"
    return Calendar.from_ical(attachment.get_content())


async def mails(smtp: SmtpSink, address: str, starts: str, count: int = 1) -> list[EmailMessage]:
    def found() -> list[EmailMessage]:
        return [m for m in smtp.to(address) if subject(m).startswith(starts)]

    return await wait_until(lambda: len(found()) >= count and found(), timeout=60, what=f"{count} x {starts!r}")


async def test_every_notification_of_the_table_in_dutch_and_english_once_from_two_replicas(
    notifications: Notifications, bus: Publisher
) -> None:
    smtp = notifications.smtp
    # Session 1 starts in 70 s; with the offset 40s its reminder is due in 30 s.
    first = (datetime.now(UTC) + timedelta(seconds=70)).replace(microsecond=0)
    await bus.publish("scheduling.EditionScheduled", edition(first))
    tag = uuid.uuid4().hex[:6]
    reg = f"reg-{tag}"
    sanne, mehmet, laura = (f"{n}.{tag}@veenendaal.example" for n in ("sanne", "mehmet", "laura"))

    # The approval request overtakes the registration it belongs to.
    await bus.publish(
        "registration.ApprovalRequested",
        {
            "registration_id": reg,
            "approver": {"name": "Jan van den Berg", "email": f"jan.{tag}@veenendaal.example"},
            "approve_url": f"https://werkplaatsen.example/registrations/{reg}/approval?token=abc",
            "expires_at": "2030-09-16T07:14:05Z",
        },
    )
    await bus.publish("registration.TrioRegistered", registration(reg, tag, channel="chat"))

    (ack_nl,) = await mails(smtp, sanne, "Aanmelding ontvangen")
    (ack_en,) = await mails(smtp, laura, "Registration received")
    assert "samen met Mehmet Yilmaz en Laura Mitchell" in plain(ack_nl)
    assert f"https://werkplaatsen.example/registrations/{reg}?token=" in plain(ack_nl)
    assert "Fee for your trio: 200 euro" in plain(ack_en)
    (approval,) = await mails(smtp, f"jan.{tag}@veenendaal.example", "Goedkeuring gevraagd")
    # Fixed text: the municipality, not what the registrant wrote (names, case); those are behind the link.
    assert "Een trio van de gemeente Veenendaal heeft zich aangemeld voor" in plain(approval)
    assert "Sanne de Vries" not in plain(approval) and "Jan van den Berg" not in plain(approval)
    assert "De link is geldig tot maandag 16 september 2030 om 09.14 uur." in plain(approval)
    assert f"https://werkplaatsen.example/registrations/{reg}/approval?token=abc" in plain(approval)

    await bus.publish(
        "registration.RegistrationApproved",
        {
            "registration_id": reg,
            "edition": EDITION,
            "approved_at": datetime.now(UTC).isoformat(),
            "by_organizer": False,
        },
    )
    await mails(smtp, mehmet, "Deelname goedgekeurd")
    await mails(smtp, laura, "Participation approved")

    await bus.publish("scheduling.TrioWaitlisted", {"registration_id": reg, "edition": EDITION, "position": 2})
    await mails(smtp, sanne, "Wachtlijst, plaats 2")
    for position in (2, 1):  # the same position again, then a new one: one more mail
        await bus.publish(
            "scheduling.TrioWaitlisted", {"registration_id": reg, "edition": EDITION, "position": position}
        )
    await mails(smtp, sanne, "Wachtlijst", count=2)
    await mails(smtp, laura, "Waiting list, position 1")

    await bus.publish("scheduling.TrioPlaced", {"registration_id": reg, "edition": EDITION, "via": "waitlist"})
    (placed_nl,) = await mails(smtp, sanne, "Plaats bevestigd")
    (placed_en,) = await mails(smtp, laura, "Place confirmed")
    assert "Catharijnesingel 47, Utrecht" in plain(placed_nl) and "Deelnamekosten: 200 euro." in plain(placed_nl)
    events = sorted(calendar_of(placed_en).walk("VEVENT"), key=lambda e: e.decoded("dtstart"))
    assert [e.decoded("dtstart") for e in events] == [
        first.astimezone(AMSTERDAM),
        (first + timedelta(days=23)).astimezone(AMSTERDAM),
        (first + timedelta(days=91)).astimezone(AMSTERDAM),
    ]
    assert all(e["DTSTART"].params["TZID"] == "Europe/Amsterdam" for e in events)
    assert str(events[0]["SUMMARY"]).startswith("Session 1: Positionering")

    await bus.publish(
        "scheduling.SeatingPlanned",
        {
            "edition": EDITION,
            "session_number": 1,
            "tables": [{"table": 1, "registration_ids": ["someone-else"]}, {"table": 2, "registration_ids": [reg]}],
        },
    )
    moved = first + timedelta(days=30)
    await bus.publish(
        "scheduling.SessionRescheduled",
        {
            "edition": EDITION,
            "session_number": 2,
            "starts_at": moved.isoformat(),
            "ends_at": (moved + timedelta(hours=4)).isoformat(),
            "sequence": 1,
        },
    )
    (update,) = await mails(smtp, mehmet, "Gewijzigd: bijeenkomst 2")
    (changed,) = calendar_of(update).walk("VEVENT")
    (before,) = [e for e in events if str(e["UID"]) == str(changed["UID"])]
    assert int(changed["SEQUENCE"]) == 1 > int(before["SEQUENCE"]) == 0
    assert changed.decoded("dtstart") == moved.astimezone(AMSTERDAM)
    await mails(smtp, laura, "Changed: session 2")

    await bus.publish(
        "reporting.LessonReportPublished",
        {
            "edition": EDITION,
            "session_number": 1,
            "title": "Lessen over positionering",
            "url": "https://werkplaatsen.example/reports/e2e-najaar/1",
        },
    )
    (report,) = await mails(smtp, sanne, "Verslag online")
    assert "https://werkplaatsen.example/reports/e2e-najaar/1" in plain(report)
    await mails(smtp, laura, "Report online")

    await bus.publish(
        "scheduling.RegistrationClosed",
        {"edition": EDITION, "placed": [reg], "waitlisted": [], "undersubscribed": True},
    )
    (warning,) = await mails(smtp, ORGANISER, "Te weinig aanmeldingen")
    assert "Geplaatst: 1 trio('s) (minimum 6, maximum 8)" in plain(warning)

    # A second trio is declined, a third cancels (and scheduling releases its place): one mail each.
    declined, cancelled = f"reg-{tag}-d", f"reg-{tag}-c"
    await bus.publish("registration.TrioRegistered", registration(declined, f"{tag}d", waived=True))
    await bus.publish("registration.TrioRegistered", registration(cancelled, f"{tag}c"))
    await mails(smtp, f"sanne.{tag}d@veenendaal.example", "Aanmelding ontvangen")
    await mails(smtp, f"sanne.{tag}c@veenendaal.example", "Aanmelding ontvangen")
    await bus.publish(
        "registration.RegistrationDeclined",
        {
            "registration_id": declined,
            "edition": EDITION,
            "declined_at": datetime.now(UTC).isoformat(),
            "by_organizer": True,
            "reason": "De casus is nog niet rijp.",
        },
    )
    await bus.publish(
        "registration.RegistrationCancelled",
        {"registration_id": cancelled, "edition": EDITION, "reason": "Van functie gewisseld."},
    )
    await bus.publish(
        "scheduling.PlaceReleased", {"registration_id": cancelled, "edition": EDITION, "reason": "cancelled"}
    )
    (no,) = await mails(smtp, f"mehmet.{tag}d@veenendaal.example", "Deelname niet goedgekeurd")
    assert "Toelichting: De casus is nog niet rijp." in plain(no)
    await mails(smtp, f"laura.{tag}d@veenendaal.example", "Participation not approved")
    await mails(smtp, f"sanne.{tag}c@veenendaal.example", "Afmelding bevestigd")
    await mails(smtp, f"laura.{tag}c@veenendaal.example", "Cancellation confirmed")

    # The reminder before session 1 (offset 40s), with the table from the seating plan, sent by one replica.
    (reminder,) = await mails(smtp, sanne, "Herinnering: bijeenkomst 1")
    assert "Jullie trio zit aan tafel 2." in plain(reminder)
    assert "Positionering" in plain(reminder) and "Catharijnesingel 47" in plain(reminder)
    (reminder_en,) = await mails(smtp, laura, "Reminder: session 1")
    assert "Your trio sits at table 2." in plain(reminder_en)

    # The chat room of the chat registration heard of everything too.
    chat = [e for e in bus.of("ChatMessageRequested") if e["data"]["chat_id"] == f"room-{tag}"]
    assert len(chat) == 8  # acknowledgement, approved, 2 x waitlist, placed, rescheduled, report, reminder

    # Organisers read the log; a privacy request blanks it.
    async with httpx.AsyncClient() as client:
        log = (
            await client.get(
                f"{notifications.url}/api/notifications",
                params={"registration_id": reg},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
        ).json()["notifications"]
    kinds = sorted(e["kind"] for e in log)
    assert kinds.count("acknowledgement") == 3 and kinds.count("approval_request") == 1
    assert kinds.count("waitlisted") == 6 and kinds.count("reminder") == 3
    await bus.publish("registration.ParticipantDataErased", {"registration_id": declined})

    async def erased() -> bool:
        async with httpx.AsyncClient() as client:
            found = (
                await client.get(
                    f"{notifications.url}/api/notifications",
                    params={"registration_id": declined},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
            ).json()["notifications"]
        return bool(found) and all(e["recipient"] == "" and e["subject"] == "" for e in found)

    await wait_until(erased, what="the declined trio's mails erased")

    # Exactly once, although two replicas share the work: no address got any message twice.
    subjects: dict[str, list[str]] = {}
    for recipients, message in smtp.messages:
        for address in recipients:
            subjects.setdefault(address, []).append(subject(message))
    assert all(len(s) == len(set(s)) for s in subjects.values()), subjects
    assert len(subjects[sanne]) == 8  # ack, approved, 2 x waitlist, placed, rescheduled, report, reminder
