"""Notifications killed with SIGKILL in the middle of a burst of registrations: every mail arrives exactly once."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.factories import open_edition, trio
from tests.support import Bus, wait_until

pytestmark = pytest.mark.e2e

BURST = 50


async def schedule(bus: Bus, body: dict) -> str:
    command_id = await bus.send("scheduling.ScheduleEdition", body)
    (event,) = await bus.wait_for("EditionScheduled", correlation_id=command_id)
    return event["data"]["edition"]


async def register_once_known(bus: Bus, slug: str) -> None:
    """Registration hears of a new edition through an event; wait until it accepts registrations for it."""
    for _ in range(100):
        command_id = await bus.send("registration.RegisterTrio", trio(slug))
        outcome = await wait_until(
            lambda: (
                bus.of("TrioRegistered", correlation_id=command_id)
                or bus.of("CommandRejected", correlation_id=command_id)
            ),
            what="RegisterTrio outcome",
        )
        if outcome[0]["type"] == "TrioRegistered":
            return
        await asyncio.sleep(0.1)
    raise AssertionError("registration never learnt of the edition")


def subject(message: object) -> str:
    # A long subject is folded right after "Subject:"; Python's parser keeps the folding space.
    return str(message["Subject"]).strip()  # type: ignore[index]


def acknowledgements(bus: Bus) -> set[str]:
    return {e["data"]["notification_id"] for e in bus.of("NotificationSent", kind="acknowledgement")}


async def test_notifications_killed_mid_burst_and_restarted_sends_every_acknowledgement_exactly_once(
    system, bus
) -> None:
    smtp = system.smtp
    slug = await schedule(bus, open_edition())
    await register_once_known(bus, slug)  # one trio: three acknowledgements before the burst
    already = len(smtp.messages)
    bodies = [trio(slug) for _ in range(BURST)]
    members = [m["email"] for body in bodies for m in body["members"]]
    approvers = [body["approver"]["email"] for body in bodies]
    for body in bodies:
        await bus.send("registration.RegisterTrio", body, message_id=str(uuid.uuid4()))

    # Kill while the mails are going out: some delivered, most not yet.
    await wait_until(lambda: len(smtp.messages) >= already + 20, timeout=60, interval=0.002, what="the burst under way")
    system["notifications"].kill()
    delivered_before_kill = len(smtp.messages) - already
    system["notifications"].start()
    await system["notifications"].wait_ready()

    for address in members + approvers:
        await wait_until(lambda a=address: smtp.to(a), timeout=90, what="every member and approver mailed")
    # One more trio through every service, so that a duplicate still under way would have arrived by now.
    await register_once_known(bus, slug)
    await wait_until(
        lambda: len(acknowledgements(bus)) >= 3 + len(members) + 3,
        timeout=60,
        what="NotificationSent for every acknowledgement",
    )

    assert delivered_before_kill < len(members) + len(approvers), "the kill should land in the middle of the burst"
    for address in members:
        mails = smtp.to(address)
        assert len(mails) == 1, f"{len(mails)} acknowledgements to one member"
        assert subject(mails[0]).startswith(("Aanmelding ontvangen", "Registration received"))
    for address in approvers:
        (mail,) = smtp.to(address)
        assert subject(mail).startswith("Goedkeuring gevraagd")
    assert len(acknowledgements(bus)) == 3 + len(members) + 3
