"""The mail sender keeps up with mail as it commits: new mail widens the pool of SMTP sessions at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from services.notifications.delivery import SmtpDelivery
from services.notifications.sender import MailSender
from shared.messaging.processing import MessageStore
from tests.integration.test_notifications_mail import database, mails, receive, store, trio_registered
from tests.support import free_port, wait_until

pytestmark = pytest.mark.integration
__all__ = ["database", "store"]  # the fixtures, shared with test_notifications_mail

SENT = "sent"


class SlowServer:
    """Answers each message after `delay` seconds and records how many conversations overlapped."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.in_flight = 0
        self.most_in_flight = 0
        self.accepted: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        self.accepted.extend(envelope.rcpt_tos)
        return "250 OK"


async def test_mail_committed_while_workers_are_busy_starts_at_once_on_another_connection(store: MessageStore) -> None:
    server = SlowServer(delay=1.0)
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    # A poll interval far beyond the test: only the wakes that follow commits can start work.
    sender = MailSender(
        store,
        lambda: SmtpDelivery(f"smtp://127.0.0.1:{controller.port}"),
        mail_from="wp@platform31.nl",
        concurrency=4,
        poll_interval=300,
    )
    running = asyncio.create_task(sender.run())
    try:
        await receive(store, trio_registered(registration_id="reg-1", prefix="a."))
        sender.wake()
        await wait_until(lambda: server.in_flight == 3, timeout=60, what="the first trio's three mails in flight")

        await receive(store, trio_registered(registration_id="reg-2", prefix="b."))
        sender.wake()
        await wait_until(lambda: len(server.accepted) == 6, timeout=60, what="all six mails accepted")
        await wait_until(lambda: _all_sent(store), timeout=60, what="all six recorded as sent")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        controller.stop()

    # The fourth worker started while the first three were still talking to the server, instead of the second
    # trio's mails waiting for those three to finish.
    assert server.most_in_flight == 4
    assert sorted(server.accepted) == sorted(f"{p}.{n}@barneveld.nl" for p in "ab" for n in ("anna", "bram", "chantal"))


async def test_a_stopped_sender_finishes_the_mails_in_hand_and_starts_no_other(store: MessageStore) -> None:
    server = SlowServer(delay=0.5)
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    sender = MailSender(
        store,
        lambda: SmtpDelivery(f"smtp://127.0.0.1:{controller.port}"),
        mail_from="wp@platform31.nl",
        concurrency=2,
        poll_interval=300,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    try:
        await receive(store, trio_registered(registration_id="reg-1"))
        sender.wake()
        await wait_until(lambda: server.in_flight == 2, timeout=60, what="two mails in flight")
        stop.set()
        await asyncio.wait_for(running, timeout=60)
    finally:
        controller.stop()

    statuses = sorted(r.status for r in await mails(store.db))
    assert len(server.accepted) == 2
    assert statuses == ["pending", SENT, SENT]


async def _all_sent(store: MessageStore) -> bool:
    rows = await mails(store.db)
    return len(rows) == 6 and all(r.status == SENT for r in rows)
