"""Whether an address is registered already is not told to whoever registers (the form, the API): they get the
accepted answer, the refusal is still recorded (CommandRejected with its code), and the member is told by mail
(RegistrationAttemptRefused)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from services.registration import consumes, entrypoints
from services.registration.adapters import Outbox
from shared.contract.registration import RegistrationAttemptRefused
from tests.unit.test_registration_handlers import FakeEditions, FakeRegistrations, edition, refusal, register, trio
from tests.unit.test_registration_web import MUNICIPALITIES, Site, open_site, same_page, sqlite_url, trio_form
from tests.unit.test_registration_web import register as register_by_form

COLLEAGUES = [
    {"name": "Eva Smit", "email": "eva.smit@barneveld.nl", "role": "wijkambtenaar", "domain": "fysiek"},
    {"name": "Bram Jansen", "email": "Bram.Jansen@barneveld.nl", "role": "sectorambtenaar", "domain": "sociaal"},
    {"name": "Finn Mulder", "email": "finn.mulder@barneveld.nl", "role": "sectorambtenaar", "domain": "economie"},
]


# The rule


async def test_a_registration_refused_only_for_a_member_already_registered_tells_that_member() -> None:
    from shared.messaging.messages import CommandRefused

    editions, registrations = FakeEditions(edition()), FakeRegistrations()
    first, _ = await register(trio(), editions=editions, registrations=registrations)
    with pytest.raises(CommandRefused) as refused:
        await register(trio(members=COLLEAGUES), editions=editions, registrations=registrations)

    assert [e.code for e in refused.value.errors] == ["member_already_registered"]
    (notice,) = refused.value.events
    assert isinstance(notice, RegistrationAttemptRefused)
    assert (notice.edition, notice.municipality) == ("2027-najaar", "Barneveld")
    # With the registration Bram is in: erasing it erases the mail about this attempt too.
    assert [(str(a.email), a.language, a.registration_id) for a in notice.already_registered] == [
        ("bram.jansen@barneveld.nl", "nl", first["registration_id"])
    ]
    # Nothing of the attempt beyond the municipality: no names, no case, no approver.
    assert set(notice.model_dump()) == {"edition", "attempted_at", "municipality", "already_registered"}


async def test_a_registration_refused_for_other_reasons_as_well_tells_nobody() -> None:
    from shared.messaging.messages import CommandRefused

    editions, registrations = FakeEditions(edition()), FakeRegistrations()
    await register(trio(), editions=editions, registrations=registrations)
    body = trio(members=COLLEAGUES, consent={"privacy": False})
    with pytest.raises(CommandRefused) as refused:
        await register(body, editions=editions, registrations=registrations)
    assert refused.value.events == ()
    assert await refusal(body, editions=editions, registrations=registrations) == [
        ("consent.privacy", "privacy_consent_required"),
        ("members[1].email", "member_already_registered"),
    ]


# The form and the API


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    s = await open_site(sqlite_url(tmp_path))
    yield s
    await s.close()


async def outbox(site: Site) -> list[tuple[str, dict[str, Any]]]:
    async with site.store.db.sessions() as session:
        rows = (await session.execute(select(Outbox).order_by(Outbox.position))).scalars().all()
    return [(r.message_type, json.loads(r.body)) for r in rows]


async def test_the_form_answers_a_registration_of_someone_already_registered_like_an_accepted_one(site: Site) -> None:
    _, first = await register_by_form(site, tag="first")
    page = (await site.client.get("/")).text
    accepted = await site.client.post("/", data=trio_form(page, tag="other"))
    page = (await site.client.get("/")).text
    again = await site.client.post(
        "/", data=trio_form(page, tag="third", **{"members[1].email": "bram.first@veenendaal.example"})
    )

    assert again.status_code == accepted.status_code == 200
    assert same_page(again.text, accepted.text)
    assert "al aangemeld" not in again.text
    messages = await outbox(site)
    (rejected,) = [m for t, m in messages if t == "CommandRejected"]
    assert [e["code"] for e in rejected["data"]["errors"]] == ["member_already_registered"]
    (told,) = [m for t, m in messages if t == "RegistrationAttemptRefused"]
    assert told["causation_id"] == rejected["data"]["command_id"]
    assert told["data"]["already_registered"] == [
        {"email": "bram.first@veenendaal.example", "language": "nl", "registration_id": first}
    ]
    assert told["data"]["municipality"] == "Veenendaal"
    assert len(await site.registrations()) == 2


async def test_the_form_shows_the_other_problems_of_such_a_registration_but_not_that_one(site: Site) -> None:
    await register_by_form(site, tag="first")
    page = (await site.client.get("/")).text
    form = trio_form(page, tag="x", **{"members[1].email": "bram.first@veenendaal.example", "consent.privacy": None})
    response = await site.client.post("/", data=form)

    assert response.status_code == 422
    assert "toestemming" in response.text
    assert "al aangemeld" not in response.text
    assert [t for t, _ in await outbox(site) if t == "RegistrationAttemptRefused"] == []


@pytest.fixture
async def api(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=entrypoints.routes(site.store, consumes.consumers(site.store, MUNICIPALITIES), "token"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_the_api_answers_a_registration_of_someone_already_registered_like_an_accepted_one(
    site: Site, api: httpx.AsyncClient
) -> None:
    body = {**trio(edition="2027-najaar", municipality="GM0345"), "invoice": None}
    first = await api.post("/api/registrations", json=body)
    others = [{**m, "email": f"other.{m['email']}"} for m in body["members"]]
    accepted = await api.post("/api/registrations", json={**body, "members": others})
    key = {"Idempotency-Key": str(uuid.uuid4())}
    again = await api.post("/api/registrations", json=body, headers=key)
    repeated = await api.post("/api/registrations", json=body, headers=key)

    assert first.status_code == accepted.status_code == again.status_code == repeated.status_code == 202
    assert set(again.json()) == set(accepted.json()) == {"registration_id", "status"}
    stand_in = again.json()["registration_id"]
    assert uuid.UUID(stand_in).version == uuid.UUID(accepted.json()["registration_id"]).version == 4
    assert repeated.json() == again.json()
    assert stand_in not in {r["registration_id"] for r in await site.registrations()}
    assert [t for t, _ in await outbox(site)].count("RegistrationAttemptRefused") == 1  # the repeat did nothing

    mixed = await api.post("/api/registrations", json={**body, "consent": {"privacy": False}})
    assert mixed.status_code == 422
    assert [e["code"] for e in mixed.json()["errors"]] == ["privacy_consent_required"]
