"""Registration's web pages on PostgreSQL: a double-submitted form registers once, and a trio goes from the form
through the approver's link to its status page."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from services.registration.adapters import Outbox
from tests.support import database_url
from tests.unit.test_registration_web import PUBLIC_URL, Site, hidden, open_site, register, same_page, trio_form

pytestmark = pytest.mark.integration


@pytest.fixture
async def site(pg_database) -> AsyncIterator[Site]:
    s = await open_site(database_url(await pg_database("registration_web")))
    yield s
    await s.close()


async def events(site: Site, message_type: str) -> list[dict]:
    async with site.store.db.sessions() as session:
        rows = (await session.execute(select(Outbox).where(Outbox.message_type == message_type))).scalars()
        return [json.loads(row.body) for row in rows]


async def test_a_form_submitted_twice_at_once_registers_the_trio_once(site: Site) -> None:
    page = (await site.client.get("/")).text
    form = trio_form(page)
    first, second = await asyncio.gather(site.client.post("/", data=form), site.client.post("/", data=form))
    assert first.status_code == second.status_code == 200
    assert len(await site.registrations()) == 1
    assert same_page(first.text, second.text) and "Controleer je mail" in first.text
    (registered,) = await events(site, "TrioRegistered")
    # The form's idempotency key is the command's message id, and its correlation id.
    assert registered["correlation_id"] == registered["causation_id"]


async def test_a_trio_goes_from_the_form_through_approval_to_its_status_page(site: Site) -> None:
    link, registration_id = await register(site)
    path = (await site.approve_url(registration_id)).removeprefix(PUBLIC_URL)
    async with site.anonymous() as approver:
        assert "Anna de Vries" in (await approver.get(path)).text
        approved = await approver.post(path, data={"decision": "approve"})
    assert approved.status_code == 200
    assert "Goedgekeurd" in (await site.client.get(link)).text
    (event,) = await events(site, "RegistrationApproved")
    assert (event["data"]["registration_id"], event["data"]["by_organizer"]) == (registration_id, False)

    confirm = (await site.client.get(link.replace("?", "/cancel?"))).text
    cancelled = await site.client.post(
        f"/registrations/{registration_id}/cancel",
        data={name: hidden(confirm, name) for name in ("csrf", "token", "form_key")},
    )
    assert cancelled.status_code == 303
    assert "Geannuleerd" in (await site.client.get(link)).text
    assert len(await events(site, "RegistrationCancelled")) == 1
