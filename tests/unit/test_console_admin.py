"""The console's admin pages and their API on a SQLite store: the audit log filtered and paged (and read through
its indexes), personal access tokens (shown once, revoked, last use to the minute), accounts (invite, a new
invitation, a password reset link, disabling), sign out everywhere, and a TOTP code that signs in only once."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher
from openapi_spec_validator import validate
from sqlalchemy.dialects import sqlite
from starlette.applications import Starlette

from frontends.console import accounts, resets, tokens
from frontends.console.store import AuditQuery, open_store, repositories
from frontends.console.store.repositories import audit_page_query
from frontends.console.web import app
from shared.db import Database
from shared.settings import Settings
from tests.console_support import active_account as make_active_account
from tests.console_support import new_edition, running_console
from tests.support import hidden

SECRET = "unit-secret"
PASSWORD = "een lang wachtwoord"
NEW_PASSWORD = "een ander lang wachtwoord"
HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PUBLIC_URL = "https://werkplaatsen.example.nl"


@dataclass
class Clock:
    """The real time (TOTP codes are made with it), moved on by `ahead` where a test needs time to pass."""

    ahead: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@pytest.fixture
async def db(tmp_path) -> AsyncIterator[Database]:
    database = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'console.sqlite3'}")
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def console(db: Database, clock: Clock) -> Starlette:
    return app(
        Settings(werkplaatsen_secret_key=SECRET, werkplaatsen_public_url=PUBLIC_URL), db=db, clock=clock, hasher=HASHER
    )


def browser(console: Starlette) -> httpx.AsyncClient:
    """A client with cookies of its own: one browser."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=console), base_url="https://localhost")


@pytest.fixture
async def client(console: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(console) as http:
        yield http


async def active_account(
    db: Database, email: str, role: str = "viewer", editions: tuple[str, ...] = (), name: str = ""
) -> str | None:
    return await make_active_account(db, email, role, editions, name=name, secret_key=SECRET, password=PASSWORD)


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD, code: str = "") -> httpx.Response:
    login = await client.get("/console/login")
    form = {"csrf": hidden(login.text, "csrf"), "email": email, "password": password, "code": code}
    return await client.post("/console/login", data=form)


async def signed_in(client: httpx.AsyncClient, db: Database, email: str, role: str = "viewer", **kw: object) -> None:
    secret = await active_account(db, email, role, **kw)  # type: ignore[arg-type]
    answer = await sign_in(client, email, code=pyotp.TOTP(secret).now() if secret else "")
    assert answer.status_code == 303, answer.text


async def post_form(client: httpx.AsyncClient, page: str, action: str, **fields: str) -> httpx.Response:
    """Open PAGE and post its form to ACTION with the page's CSRF token."""
    shown = await client.get(page)
    return await client.post(action, data={"csrf": hidden(shown.text, "csrf"), **fields})


async def account_id(db: Database, email: str) -> str:
    async with repositories(db) as r:
        account = await r.accounts.by_email(email)
    assert account is not None
    return account.id


async def token_for(db: Database, email: str) -> str:
    async with repositories(db) as r:
        made = await tokens.create_token(
            r.accounts, r.tokens, r.audit, email=email, name="script", actor="cli:root", now=datetime.now(UTC)
        )
    return made.token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def table_rows(page: str) -> list[str]:
    """The text of each row in the page's tables' bodies, tags stripped."""
    bodies = "".join(re.findall(r"<tbody>(.*?)</tbody>", page, re.S))
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", " ", row)).split()) for row in re.findall(r"<tr>(.*?)</tr>", bodies, re.S)
    ]


def link_on(page: str) -> str:
    match = re.search(r'id="link" name="link" value="([^"]+)"', page)
    assert match, "no link on the page"
    return unescape(match.group(1))


# The audit log ---------------------------------------------------------------------------------------------------

DAY = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


async def seed_log(db: Database, actor: str) -> None:
    """Entries over three days: what an organiser did about two editions and one registration, and a refusal."""
    async with repositories(db) as r:
        for at, action, subject, outcome in [
            (DAY, "ScheduleEdition", "edition:2027-najaar", "accepted"),
            (DAY + timedelta(hours=1), "ScheduleEdition", "edition:2028-voorjaar", "rejected"),
            (DAY + timedelta(days=1), "CancelRegistration", "registration:r-17", "accepted"),
            (DAY + timedelta(days=2), "CloseRegistration", "edition:2027-najaar", "pending"),
        ]:
            await accounts.record(r.audit, at, actor, action, subject, outcome=outcome)  # type: ignore[arg-type]


async def test_an_organiser_filters_the_audit_page_by_who_what_about_what_outcome_and_dates(db, client) -> None:
    await signed_in(client, db, "ann@zwolle.nl", "organiser", name="Ann de Vries")
    ann = await account_id(db, "ann@zwolle.nl")
    await seed_log(db, ann)

    everything = await client.get("/console/audit")
    assert everything.status_code == 200
    rows = table_rows(everything.text)
    # Newest first (as written): the four entries, then the organiser's own sign-in, named by the account's name.
    assert [row.split(" ")[0] for row in rows[:4]] == ["3", "2", "1", "1"]
    assert "inloggen" in rows[4] and "Ann de Vries" in rows[4] and "gelukt" in rows[4]

    about = await client.get("/console/audit", params={"subject": "edition:2027-najaar"})
    assert [("CloseRegistration" in r, "ScheduleEdition" in r) for r in table_rows(about.text)] == [
        (True, False),
        (False, True),
    ]
    refused = await client.get("/console/audit", params={"actor": ann, "outcome": "rejected"})
    [row] = table_rows(refused.text)
    assert "edition:2028-voorjaar" in row and "geweigerd" in row and "Ann de Vries" in row

    one_day = await client.get("/console/audit", params={"from": "2027-03-02", "to": "2027-03-02"})
    [row] = table_rows(one_day.text)
    assert "registration:r-17" in row
    by_action = await client.get("/console/audit", params={"action": "ScheduleEdition", "to": "2027-03-01"})
    assert len(table_rows(by_action.text)) == 2
    nothing = await client.get("/console/audit", params={"action": "EraseParticipantData"})
    assert table_rows(nothing.text) == [] and "Geen regels die hieraan voldoen." in nothing.text


async def test_the_audit_page_pages_older_entries_by_id_and_keeps_its_filters(db, client) -> None:
    await signed_in(client, db, "ann@zwolle.nl", "organiser")
    async with repositories(db) as r:
        for n in range(120):
            await accounts.record(r.audit, DAY + timedelta(minutes=n), "cli:root", "RecordAttendance", f"session:{n}")
    first = await client.get("/console/audit", params={"action": "RecordAttendance"})
    assert len(table_rows(first.text)) == 50 and "session:119" in table_rows(first.text)[0]
    older = unescape(re.search(r'href="([^"]+)">Oudere regels', first.text).group(1))  # type: ignore[union-attr]
    assert "action=RecordAttendance" in older and "before=" in older
    second = await client.get(older)
    assert "session:69" in table_rows(second.text)[0]
    third = await client.get(unescape(re.search(r'href="([^"]+)">Oudere regels', second.text).group(1)))  # type: ignore[union-attr]
    assert "session:0 " in table_rows(third.text)[-1] + " "
    assert len(table_rows(third.text)) == 20 and "Oudere regels" not in third.text
    assert "Terug naar de nieuwste regels" in third.text


async def test_a_bad_filter_is_shown_next_to_its_field(db, client) -> None:
    await signed_in(client, db, "ann@zwolle.nl", "organiser")
    answer = await client.get("/console/audit", params={"from": "1 maart", "to": "2027-02-01", "outcome": "misschien"})
    assert answer.status_code == 422
    assert 'id="from-error"' in answer.text and 'aria-describedby="from-error"' in answer.text
    assert "Vul een datum in als JJJJ-MM-DD" in answer.text
    assert "Kies accepted, rejected of pending." in answer.text
    reversed_range = await client.get("/console/audit", params={"from": "2027-03-02", "to": "2027-03-01"})
    assert reversed_range.status_code == 422 and "De einddatum ligt vóór de begindatum." in reversed_range.text


async def test_the_audit_api_takes_the_same_filters_and_names_the_next_page(db, client) -> None:
    await active_account(db, "ann@zwolle.nl", "organiser", name="Ann de Vries")
    ann = await account_id(db, "ann@zwolle.nl")
    await seed_log(db, ann)
    token = await token_for(db, "ann@zwolle.nl")

    answer = await client.get(
        "/console/api/audit",
        params={"actor": "Ann@Zwolle.nl", "action": "ScheduleEdition", "limit": "1"},
        headers=bearer(token),
    )
    assert answer.status_code == 200
    body = answer.json()
    [item] = body["items"]
    assert set(item) == {"actor", "action", "subject", "at", "outcome", "reason"}
    assert (item["actor"], item["subject"], item["outcome"]) == (ann, "edition:2028-voorjaar", "rejected")
    assert body["actors"] == {ann: {"email": "ann@zwolle.nl", "name": "Ann de Vries"}}
    assert isinstance(body["next_before"], int)
    rest = await client.get(
        "/console/api/audit",
        params={"actor": ann, "action": "ScheduleEdition", "before": body["next_before"]},
        headers=bearer(token),
    )
    assert [i["subject"] for i in rest.json()["items"]] == ["edition:2027-najaar"]
    assert rest.json()["next_before"] is None

    moments = await client.get(
        "/console/api/audit",
        params={"from": "2027-03-01T09:30:00+00:00", "to": "2027-03-03T09:00:00+00:00"},
        headers=bearer(token),
    )
    assert [i["action"] for i in moments.json()["items"]] == ["CancelRegistration", "ScheduleEdition"]

    bad = await client.get("/console/api/audit", params={"before": "x", "to": "gisteren"}, headers=bearer(token))
    assert bad.status_code == 422
    assert {(e["field"], e["code"]) for e in bad.json()["errors"]} == {
        ("before", "invalid_before"),
        ("to", "invalid_date"),
    }


@pytest.mark.parametrize(
    ("where", "read"),
    [
        (AuditQuery(), "SCAN audit_log"),  # backwards along the primary key, stopping at the LIMIT
        (AuditQuery(actor="a1"), "USING INDEX ix_audit_log_actor_id"),
        (AuditQuery(action="ScheduleEdition"), "USING INDEX ix_audit_log_action_id"),
        (AuditQuery(subject="edition:2027-najaar"), "USING INDEX ix_audit_log_subject_id"),
        (AuditQuery(outcome="rejected"), "USING INDEX ix_audit_log_outcome_id"),
        (AuditQuery(since=DAY, until=DAY + timedelta(days=1)), "USING INDEX ix_audit_log_at"),
    ],
    ids=["none", "actor", "action", "subject", "outcome", "dates"],
)
async def test_every_filter_of_the_log_reads_an_index_not_the_whole_table(db, where, read) -> None:
    for before_id in (None, 1000):
        query = audit_page_query(where, 51, before_id=before_id)
        statement = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
        async with db.engine.connect() as conn:
            plan = " | ".join(r[-1] for r in (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}")).all())
        if before_id is None:
            assert read in plan, plan
        else:
            assert "USING" in plan, plan  # the page's start found in an index, not by reading up to it
        if where.since is None:
            assert "TEMP B-TREE" not in plan, plan  # the index yields the rows in the page's order


async def test_a_viewer_and_a_facilitator_may_not_read_the_audit_log(db, console) -> None:
    for email, role, editions in [
        ("vera@zwolle.nl", "viewer", ()),
        ("piet@zwolle.nl", "facilitator", ("2027-najaar",)),
    ]:
        async with browser(console) as client:
            await signed_in(client, db, email, role, editions=editions)
            refused = await client.get("/console/audit")
            assert refused.status_code == 403
            assert "het auditlogboek lezen" in refused.text
            assert 'href="/console/audit"' not in (await client.get("/console/tokens")).text


# Personal access tokens ------------------------------------------------------------------------------------------


async def test_a_viewer_makes_a_token_on_the_page_sees_it_once_and_it_works_on_the_api(db, client) -> None:
    await signed_in(client, db, "vera@zwolle.nl")
    assert "Je hebt nog geen tokens." in (await client.get("/console/tokens")).text
    nameless = await post_form(client, "/console/tokens", "/console/tokens", name="  ")
    assert nameless.status_code == 422
    assert 'id="name-error"' in nameless.text and "Geef het token een naam" in nameless.text

    made = await post_form(client, "/console/tokens", "/console/tokens", name="export jaarrapportage")
    assert made.status_code == 201
    token = hidden(made.text, "new_token")
    assert token.startswith("wpc_") and "maar één keer getoond" in made.text
    again = await client.get("/console/tokens")
    assert token not in again.text
    [row] = table_rows(again.text)
    assert row.startswith("export jaarrapportage") and "nog niet" in row and "actief" in row

    listed = await client.get("/console/api/tokens", headers=bearer(token))
    assert listed.status_code == 200
    [item] = listed.json()["tokens"]
    assert item["name"] == "export jaarrapportage" and item["last_used_at"] is not None
    assert "token" not in item
    assert "nog niet" not in table_rows((await client.get("/console/tokens")).text)[0]


async def test_a_token_remembers_its_last_use_to_the_minute_without_an_audit_entry_per_request(db) -> None:
    await active_account(db, "vera@zwolle.nl")
    token = await token_for(db, "vera@zwolle.nl")
    first = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    async with repositories(db) as r:
        entries = len(await r.audit.recent(1000))
    for seconds, remembered in [(0, 0), (30, 0), (59, 0), (60, 60), (61, 60), (125, 125)]:
        async with repositories(db) as r:
            assert await tokens.authenticate_token(
                r.accounts, r.tokens, token=token, now=first + timedelta(seconds=seconds)
            )
            [row] = await r.tokens.all()
        assert row.last_used_at == first + timedelta(seconds=remembered), seconds
    async with repositories(db) as r:
        assert len(await r.audit.recent(1000)) == entries


async def test_a_viewer_revokes_its_own_token_but_not_another_accounts(db, client) -> None:
    await signed_in(client, db, "vera@zwolle.nl")
    own = await token_for(db, "vera@zwolle.nl")
    await active_account(db, "otto@zwolle.nl")
    other = await token_for(db, "otto@zwolle.nl")
    vera, otto = await account_id(db, "vera@zwolle.nl"), await account_id(db, "otto@zwolle.nl")
    async with repositories(db) as r:
        [own_row], [other_row] = await r.tokens.of_account(vera), await r.tokens.of_account(otto)
    page = await client.get("/console/tokens")
    assert "Tokens van andere accounts" not in page.text and other_row.id not in page.text

    refused = await post_form(client, "/console/tokens", f"/console/tokens/{other_row.id}/revoke")
    assert refused.status_code == 404
    assert (await client.get("/console/api/tokens", headers=bearer(other))).status_code == 200
    revoked = await post_form(client, "/console/tokens", f"/console/tokens/{own_row.id}/revoke")
    assert revoked.status_code == 303 and revoked.headers["location"] == "/console/tokens?ingetrokken=1"
    assert (await client.get("/console/api/tokens", headers=bearer(own))).status_code == 401
    assert "ingetrokken" in table_rows((await client.get("/console/tokens?ingetrokken=1")).text)[0]
    async with repositories(db) as r:
        log = [(e.action, e.subject, e.outcome, e.reason) for e in await r.audit.recent(3)]
    assert log[:2] == [
        ("token.revoke", f"token:{own_row.id}", "accepted", ""),
        ("token.revoke", f"token:{other_row.id}", "rejected", "not_own"),
    ]


async def test_an_organiser_sees_and_revokes_everyones_tokens(db, client) -> None:
    await signed_in(client, db, "ann@zwolle.nl", "organiser")
    await active_account(db, "otto@zwolle.nl", name="Otto Smit")
    other = await token_for(db, "otto@zwolle.nl")
    otto = await account_id(db, "otto@zwolle.nl")
    async with repositories(db) as r:
        [other_row] = await r.tokens.of_account(otto)
    page = await client.get("/console/tokens")
    assert "Tokens van andere accounts" in page.text
    [row] = table_rows(page.text)
    assert row.startswith("Otto Smit otto@zwolle.nl script")
    revoked = await post_form(client, "/console/tokens", f"/console/tokens/{other_row.id}/revoke")
    assert revoked.status_code == 303
    assert (await client.get("/console/api/tokens", headers=bearer(other))).status_code == 401


async def test_the_token_api_lists_creates_and_revokes_and_only_organisers_see_everyones(db, client) -> None:
    await active_account(db, "vera@zwolle.nl")
    vera = await token_for(db, "vera@zwolle.nl")
    await active_account(db, "ann@zwolle.nl", "organiser")
    ann = await token_for(db, "ann@zwolle.nl")

    created = await client.post("/console/api/tokens", json={"name": " rapport "}, headers=bearer(vera))
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "rapport" and body["token"].startswith("wpc_") and body["revoked_at"] is None
    assert (await client.post("/console/api/tokens", json={"name": ""}, headers=bearer(vera))).status_code == 422
    mine = (await client.get("/console/api/tokens", headers=bearer(body["token"]))).json()["tokens"]
    assert [t["name"] for t in mine] == ["script", "rapport"]
    assert (await client.get("/console/api/tokens?all=true", headers=bearer(vera))).status_code == 403
    everyone = (await client.get("/console/api/tokens?all=true", headers=bearer(ann))).json()["tokens"]
    assert len(everyone) == 3

    assert (await client.post(f"/console/api/tokens/{body['id']}/revoke", headers=bearer(vera))).status_code == 200
    ann_tokens = (await client.get("/console/api/tokens", headers=bearer(ann))).json()["tokens"]
    refused = await client.post(f"/console/api/tokens/{ann_tokens[0]['id']}/revoke", headers=bearer(vera))
    assert refused.status_code == 404 and refused.json()["errors"][0]["code"] == "unknown_token"
    by_organiser = await client.post(f"/console/api/tokens/{mine[0]['id']}/revoke", headers=bearer(ann))
    assert by_organiser.status_code == 200 and by_organiser.json()["revoked_at"] is not None
    assert (await client.get("/console/api/tokens", headers=bearer(vera))).status_code == 401


# Sessions: sign out everywhere, a TOTP code once -----------------------------------------------------------------


async def test_signing_out_everywhere_ends_every_session_of_the_account_but_not_its_tokens(db, console) -> None:
    await active_account(db, "vera@zwolle.nl")
    token = await token_for(db, "vera@zwolle.nl")
    async with browser(console) as laptop, browser(console) as phone:
        for client in (laptop, phone):
            assert (await sign_in(client, "vera@zwolle.nl")).status_code == 303
        out = await post_form(laptop, "/console/tokens", "/console/sessions/end")
        assert out.status_code == 303 and out.headers["location"] == "/console/login?overal=1"
        assert "Je bent overal uitgelogd" in (await laptop.get(out.headers["location"])).text
        for client in (laptop, phone):
            assert (await client.get("/console/tokens")).headers["location"] == "/console/login"
        assert (await client.get("/console/api/tokens", headers=bearer(token))).status_code == 200
        assert (await sign_in(phone, "vera@zwolle.nl")).status_code == 303  # signing in again works
        assert (await phone.get("/console/tokens")).status_code == 200
    async with repositories(db) as r:
        assert "account.end_sessions" in [e.action for e in await r.audit.recent(5)]


async def test_a_totp_code_signs_in_once(db, console) -> None:
    secret = await active_account(db, "ann@zwolle.nl", "organiser")
    assert secret is not None
    code = pyotp.TOTP(secret).now()
    async with browser(console) as first, browser(console) as second:
        assert (await sign_in(first, "ann@zwolle.nl", code=code)).status_code == 303
        replayed = await sign_in(second, "ann@zwolle.nl", code=code)
        assert replayed.status_code == 401
        assert "Deze code is al gebruikt" in replayed.text
    async with repositories(db) as r:
        [entry] = [e for e in await r.audit.recent(10) if e.outcome == "rejected"]
    assert (entry.action, entry.reason) == ("account.sign_in", "totp_reused")


async def test_a_code_of_the_step_that_signed_in_or_an_earlier_one_is_refused_and_a_later_one_works(db) -> None:
    secret = await active_account(db, "ann@zwolle.nl", "organiser")
    assert secret is not None
    totp, now = pyotp.TOTP(secret), datetime(2027, 3, 1, 9, 0, 10, tzinfo=UTC)

    async def attempt(code: str, at: datetime) -> accounts.SignIn:
        async with repositories(db) as r:
            return await accounts.verify_sign_in(
                r.accounts, r.audit, email="ann@zwolle.nl", password=PASSWORD, totp_code=code, now=at, hasher=HASHER
            )

    assert (await attempt(totp.at(now), now)).ok
    assert (await attempt(totp.at(now), now + timedelta(seconds=5))).refusal == "totp_reused"
    # The previous step's code is still inside the window, but older than the one used: refused too.
    assert (await attempt(totp.at(now - timedelta(seconds=30)), now)).refusal == "totp_reused"
    assert (await attempt(totp.at(now + timedelta(seconds=30)), now + timedelta(seconds=30))).ok


async def test_a_session_cookie_from_before_session_generations_no_longer_counts(db, client, console) -> None:
    await active_account(db, "vera@zwolle.nl")
    old = console.state.console.sessions._serializer().dumps(  # noqa: SLF001  # the old cookie's exact form
        {"account": await account_id(db, "vera@zwolle.nl"), "expires": int(datetime.now(UTC).timestamp()) + 3600}
    )
    client.cookies.set("werkplaatsen_console_session", old, domain="localhost", path="/console")
    assert (await client.get("/console/tokens")).headers["location"] == "/console/login"


# Accounts --------------------------------------------------------------------------------------------------------


async def test_an_organiser_invites_a_facilitator_and_copies_the_link_the_console_cannot_mail(
    db, client, console
) -> None:
    await signed_in(client, db, "ann@zwolle.nl", "organiser")
    invited = await post_form(
        client,
        "/console/accounts",
        "/console/accounts",
        email="Piet@Zwolle.nl",
        name="Piet Jansen",
        role="facilitator",
        editions="2027-najaar, 2028-voorjaar",
    )
    assert invited.status_code == 201
    assert "De console kan deze link nog niet zelf mailen" in invited.text and "piet@zwolle.nl" in invited.text
    link = link_on(invited.text)
    assert link.startswith(f"{PUBLIC_URL}/console/invitation/")

    listed = await client.get("/console/accounts")
    [row] = [r for r in table_rows(listed.text) if "piet@zwolle.nl" in r]
    assert row.startswith("Piet Jansen piet@zwolle.nl begeleider uitgenodigd 2027-najaar, 2028-voorjaar")
    assert "Nieuwe uitnodigingslink" in row

    async with browser(console) as piet:
        path = link.removeprefix(PUBLIC_URL)
        form = await piet.get(path)
        accepted = await piet.post(
            path, data={"csrf": hidden(form.text, "csrf"), "password": PASSWORD, "password_again": PASSWORD}
        )
        assert accepted.status_code == 303
    async with repositories(db) as r:
        piet_account = await r.accounts.by_email("piet@zwolle.nl")
        assert piet_account is not None
        assert (piet_account.status, piet_account.editions) == ("active", ["2027-najaar", "2028-voorjaar"])
        [entry] = [e for e in await r.audit.recent(10) if e.action == "account.create"][:1]
    assert (entry.actor, entry.subject) == (await account_id(db, "ann@zwolle.nl"), f"account:{piet_account.id}")


async def test_an_invitation_with_bad_fields_is_refused_next_to_each_field(db, client) -> None:
    await signed_in(client, db, "ann@zwolle.nl", "organiser")
    refused = await post_form(
        client, "/console/accounts", "/console/accounts", email="geen adres", role="", editions="2027 najaar!"
    )
    assert refused.status_code == 422
    for field_id, text in [("email", "Vul een geldig e-mailadres in"), ("role", "Kies een rol.")]:
        assert f'id="{field_id}-error"' in refused.text and text in refused.text
    assert 'value="geen adres"' in refused.text  # what was typed stays
    bad_edition = await post_form(
        client,
        "/console/accounts",
        "/console/accounts",
        email="piet@zwolle.nl",
        role="facilitator",
        editions="2027 Najaar!",
    )
    assert 'id="editions-error"' in bad_edition.text and "Geen editie: najaar!" in bad_edition.text
    taken = await post_form(client, "/console/accounts", "/console/accounts", email="ANN@zwolle.nl", role="viewer")
    assert taken.status_code == 422 and "Er is al een account met dit e-mailadres." in taken.text
    async with repositories(db) as r:
        assert [a.email for a in await r.accounts.all()] == ["ann@zwolle.nl"]


async def test_a_new_invitation_link_replaces_a_lost_one_while_the_account_is_invited(db, client) -> None:
    await signed_in(client, db, "ann@zwolle.nl", "organiser")
    await post_form(client, "/console/accounts", "/console/accounts", email="vera@zwolle.nl", role="viewer")
    vera = await account_id(db, "vera@zwolle.nl")
    again = await post_form(client, "/console/accounts", f"/console/accounts/{vera}/invitation")
    assert again.status_code == 201 and "/console/invitation/" in link_on(again.text)
    active = await account_id(db, "ann@zwolle.nl")
    assert (await post_form(client, "/console/accounts", f"/console/accounts/{active}/invitation")).status_code == 409
    assert (await post_form(client, "/console/accounts", "/console/accounts/nobody/invitation")).status_code == 404
    async with repositories(db) as r:
        log = [(e.action, e.subject, e.outcome) for e in await r.audit.recent(2)]
    assert log == [
        ("account.reinvite", "account:nobody", "rejected"),
        ("account.reinvite", f"account:{vera}", "accepted"),
    ]


async def test_disabling_an_account_asks_first_and_then_ends_its_session_at_once(db, client, console) -> None:
    await signed_in(client, db, "ann@zwolle.nl", "organiser")
    async with browser(console) as vera_browser:
        await signed_in(vera_browser, db, "vera@zwolle.nl")
        vera = await account_id(db, "vera@zwolle.nl")
        confirm = await client.get(f"/console/accounts/{vera}/disable")
        assert confirm.status_code == 200 and "uitschakelen?" in confirm.text
        done = await client.post(f"/console/accounts/{vera}/disable", data={"csrf": hidden(confirm.text, "csrf")})
        assert done.status_code == 303 and done.headers["location"] == "/console/accounts?gedaan=uitgeschakeld"
        assert (await vera_browser.get("/console/tokens")).headers["location"] == "/console/login"
    listed = await client.get(done.headers["location"])
    assert "Het account is uitgeschakeld" in listed.text
    assert "uitgeschakeld" in next(r for r in table_rows(listed.text) if "vera@zwolle.nl" in r)
    ann = await account_id(db, "ann@zwolle.nl")
    assert f"/console/accounts/{ann}/disable" not in listed.text  # not offered for one's own account
    own = await post_form(client, "/console/accounts", f"/console/accounts/{ann}/disable")
    assert own.status_code == 409 and (await client.get("/console/accounts")).status_code == 200


async def test_an_organiser_ends_another_accounts_sessions_from_the_accounts_page(db, client, console) -> None:
    await signed_in(client, db, "ann@zwolle.nl", "organiser")
    async with browser(console) as vera_browser:
        await signed_in(vera_browser, db, "vera@zwolle.nl")
        vera = await account_id(db, "vera@zwolle.nl")
        ended = await post_form(client, "/console/accounts", f"/console/accounts/{vera}/sessions/end")
        assert ended.headers["location"] == "/console/accounts?gedaan=uitgelogd"
        assert (await vera_browser.get("/console/tokens")).status_code == 303
    assert (await client.get("/console/accounts")).status_code == 200  # the organiser's own session goes on


async def test_viewers_and_facilitators_may_not_manage_accounts(db, console) -> None:
    for email, role in [("vera@zwolle.nl", "viewer"), ("piet@zwolle.nl", "facilitator")]:
        async with browser(console) as client:
            await signed_in(client, db, email, role, editions=("2027-najaar",) if role == "facilitator" else ())
            assert (await client.get("/console/accounts")).status_code == 403
            posted = await post_form(
                client, "/console/tokens", "/console/accounts", email="x@zwolle.nl", role="organiser"
            )
            assert posted.status_code == 403
            assert 'href="/console/accounts"' not in (await client.get("/console/tokens")).text
    async with repositories(db) as r:
        assert await r.accounts.by_email("x@zwolle.nl") is None


# Password reset --------------------------------------------------------------------------------------------------


async def test_a_reset_link_sets_a_new_password_once_keeps_the_authenticator_and_ends_every_session(
    db, client, console
) -> None:
    await signed_in(client, db, "ann@zwolle.nl", "organiser")
    async with browser(console) as otto_browser:
        secret = await active_account(db, "otto@zwolle.nl", "organiser")
        assert secret is not None
        assert (await sign_in(otto_browser, "otto@zwolle.nl", code=pyotp.TOTP(secret).now())).status_code == 303
        otto = await account_id(db, "otto@zwolle.nl")
        issued = await post_form(client, "/console/accounts", f"/console/accounts/{otto}/reset")
        assert issued.status_code == 200 and "De console kan deze link nog niet zelf mailen" in issued.text
        path = link_on(issued.text).removeprefix(PUBLIC_URL)
        assert path.startswith("/console/reset/")

        async with browser(console) as anywhere:
            form = await anywhere.get(path)
            assert form.status_code == 200 and "otto@zwolle.nl" in form.text
            csrf = hidden(form.text, "csrf")
            differ = await anywhere.post(path, data={"csrf": csrf, "password": NEW_PASSWORD, "password_again": "x"})
            assert differ.status_code == 422 and "De twee wachtwoorden zijn niet gelijk." in differ.text
            short = await anywhere.post(path, data={"csrf": csrf, "password": "kort", "password_again": "kort"})
            assert short.status_code == 422 and "minstens 12 tekens" in short.text
            done = await anywhere.post(
                path, data={"csrf": csrf, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
            )
            assert done.status_code == 303 and done.headers["location"] == "/console/login?hersteld=1"
            assert "Je nieuwe wachtwoord is ingesteld" in (await anywhere.get(done.headers["location"])).text
            used = await anywhere.get(path)
            assert used.status_code == 410 and "al gebruikt" in used.text

        assert (await otto_browser.get("/console/tokens")).headers["location"] == "/console/login"
        assert (await sign_in(otto_browser, "otto@zwolle.nl", code=pyotp.TOTP(secret).now())).status_code == 401
        later = pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30))  # the used code is spent
        async with repositories(db) as r:
            outcome = await accounts.verify_sign_in(
                r.accounts,
                r.audit,
                email="otto@zwolle.nl",
                password=NEW_PASSWORD,
                totp_code=later,
                now=datetime.now(UTC) + timedelta(seconds=30),
                hasher=HASHER,
            )
        assert outcome.ok  # the same authenticator app, the new password
    async with repositories(db) as r:
        actions = [(e.action, e.outcome) for e in await r.audit.recent(30)]
    assert ("account.issue_reset", "accepted") in actions and ("account.reset_password", "accepted") in actions


async def test_a_reset_link_expires_after_a_day_and_a_changed_one_is_not_found(db) -> None:
    await active_account(db, "vera@zwolle.nl")
    issued_at = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    async with repositories(db) as r:
        link = await resets.issue_password_reset(
            r.accounts, r.audit, email="vera@zwolle.nl", actor="cli:root", secret_key=SECRET, now=issued_at
        )
    assert link.expires_at == issued_at + timedelta(hours=24)
    for token, at, code in [
        (link.token, issued_at + timedelta(hours=24, seconds=1), "reset_expired"),
        (link.token[:-3] + "xyz", issued_at, "reset_invalid"),
    ]:
        async with repositories(db) as r:
            with pytest.raises(accounts.AccountRefused, match=code):
                await resets.reset_password(
                    r.accounts, r.audit, token=token, password=NEW_PASSWORD, secret_key=SECRET, now=at, hasher=HASHER
                )


async def test_an_invited_or_disabled_account_gets_no_reset_link(db) -> None:
    await active_account(db, "vera@zwolle.nl")
    now = datetime.now(UTC)
    async with repositories(db) as r:
        await accounts.create_account(
            r.accounts, r.audit, email="nieuw@zwolle.nl", role="viewer", actor="t", secret_key=SECRET, now=now
        )
        await accounts.disable_account(r.accounts, r.audit, email="vera@zwolle.nl", actor="t", now=now)
    for email, code in [("nieuw@zwolle.nl", "no_password"), ("vera@zwolle.nl", "disabled")]:
        async with repositories(db) as r:
            with pytest.raises(accounts.AccountRefused, match=code):
                await resets.issue_password_reset(
                    r.accounts, r.audit, email=email, actor="t", secret_key=SECRET, now=now
                )


# The accounts API and the document ------------------------------------------------------------------------------


async def test_the_accounts_api_invites_resets_disables_and_ends_sessions(db, client) -> None:
    await active_account(db, "ann@zwolle.nl", "organiser")
    ann = await token_for(db, "ann@zwolle.nl")
    invited = await client.post(
        "/console/api/accounts",
        json={"email": "Piet@Zwolle.nl", "role": "facilitator", "name": "Piet", "editions": ["2027-najaar"]},
        headers=bearer(ann),
    )
    assert invited.status_code == 201
    body = invited.json()
    assert body["link"].startswith(f"{PUBLIC_URL}/console/invitation/") and body["mailed"] is False
    assert (body["account"]["status"], body["account"]["editions"]) == ("invited", ["2027-najaar"])
    piet = body["account"]["id"]
    again = await client.post(
        "/console/api/accounts", json={"email": "piet@zwolle.nl", "role": "viewer"}, headers=bearer(ann)
    )
    assert again.status_code == 409 and again.json()["errors"][0] == {
        "field": "email",
        "code": "account_exists",
        "message": "Er is al een account met dit e-mailadres.",
    }
    bad = await client.post(
        "/console/api/accounts", json={"email": "x@zwolle.nl", "role": "admin"}, headers=bearer(ann)
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "role"

    assert (await client.post(f"/console/api/accounts/{piet}/invitation", headers=bearer(ann))).status_code == 200
    assert (await client.post(f"/console/api/accounts/{piet}/reset", headers=bearer(ann))).status_code == 409
    await active_account(db, "vera@zwolle.nl")
    vera_id, vera = await account_id(db, "vera@zwolle.nl"), await token_for(db, "vera@zwolle.nl")
    reset = await client.post(f"/console/api/accounts/{vera_id}/reset", headers=bearer(ann))
    assert reset.status_code == 200 and "/console/reset/" in reset.json()["link"]

    assert (await client.get("/console/api/accounts", headers=bearer(vera))).status_code == 403
    assert (await client.post(f"/console/api/accounts/{piet}/sessions/end", headers=bearer(vera))).status_code == 403
    assert (await client.post(f"/console/api/accounts/{vera_id}/sessions/end", headers=bearer(vera))).status_code == 200
    listed = (await client.get("/console/api/accounts", headers=bearer(ann))).json()["accounts"]
    assert [a["email"] for a in listed] == ["ann@zwolle.nl", "piet@zwolle.nl", "vera@zwolle.nl"]

    disabled = await client.post(f"/console/api/accounts/{vera_id}/disable", headers=bearer(ann))
    assert disabled.status_code == 200 and disabled.json()["account"]["status"] == "disabled"
    assert (await client.get("/console/api/tokens", headers=bearer(vera))).status_code == 401
    missing = await client.post("/console/api/accounts/nobody/disable", headers=bearer(ann))
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "unknown_account"


async def test_the_openapi_document_declares_the_admin_operations_and_the_audit_filters(client) -> None:
    document = (await client.get("/console/api/openapi.json")).json()
    validate(document)
    audit_parameters = {p["name"] for p in document["paths"]["/api/audit"]["get"]["parameters"]}
    assert audit_parameters == {"limit", "actor", "action", "subject", "outcome", "from", "to", "before"}
    for path, method in [
        ("/api/tokens", "get"),
        ("/api/tokens", "post"),
        ("/api/tokens/{token_id}/revoke", "post"),
        ("/api/accounts", "get"),
        ("/api/accounts", "post"),
        ("/api/accounts/{account_id}/reset", "post"),
        ("/api/accounts/{account_id}/disable", "post"),
        ("/api/accounts/{account_id}/sessions/end", "post"),
    ]:
        assert method in document["paths"][path], (path, method)


async def test_a_facilitator_gets_to_the_start_page_with_the_assigned_editions(db, client) -> None:
    await signed_in(client, db, "piet@zwolle.nl", "facilitator", editions=("2027-najaar",))
    start = await client.get("/console/")
    assert start.status_code == 200
    assert "begeleider" in start.text and "2027-najaar" in start.text


async def test_on_the_whole_system_a_facilitator_is_assigned_only_to_an_edition_that_exists(tmp_path) -> None:
    async with running_console(tmp_path / "var") as system:
        token = await system.token("anna@platform31.nl", "organiser")
        async with system.browser("bob@platform31.nl", "organiser") as organiser:
            unknown = await post_form(
                organiser,
                "/console/accounts",
                "/console/accounts",
                email="piet@zwolle.nl",
                role="facilitator",
                editions="2031-najaar",
            )
            assert unknown.status_code == 422 and "Deze editie bestaat niet: 2031-najaar." in unknown.text
            created = await system.api("POST", "/console/api/editions", token, json=new_edition("2031-najaar"))
            assert created.status_code == 201, created.text
            invited = await post_form(
                organiser,
                "/console/accounts",
                "/console/accounts",
                email="piet@zwolle.nl",
                role="facilitator",
                editions="2031-najaar",
            )
            assert invited.status_code == 201
            logged = await organiser.get("/console/audit", params={"subject": "edition:2031-najaar"})
            [row] = table_rows(logged.text)
            assert "ScheduleEdition" in row and "anna@platform31.nl" in row and "gelukt" in row
