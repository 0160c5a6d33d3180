"""The console's store on real PostgreSQL: its Alembic history to head (also by replicas starting together) and in
step with its models, a token found by its hash, an audit log nobody can rewrite, check-in taps that count once
even when two requests carry the same tap at the same moment, and a TOTP code that signs in once even when two
sign-ins race."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from argon2 import PasswordHasher
from sqlalchemy import delete, inspect, text, update
from sqlalchemy.exc import DBAPIError

from frontends.console import accounts, tokens
from frontends.console.domain import AccountRefused
from frontends.console.drafts import Tap, apply_tap
from frontends.console.store import MIGRATIONS, AuditRow, Base, open_store, repositories
from shared.db import Database, migrate
from tests.support import database_url

pytestmark = pytest.mark.integration

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def url(pg_database) -> str:
    return database_url(await pg_database("console"))


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    database = await open_store(url)
    yield database
    await database.dispose()


async def test_replicas_starting_together_bring_the_schema_to_head_once(url: str) -> None:
    dbs = [Database(url) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate(d, MIGRATIONS, "console") for d in dbs))
        async with dbs[0].engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            revisions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert {"accounts", "access_tokens", "audit_log"} <= tables
        assert len(revisions) == 1
    finally:
        for d in dbs:
            await d.dispose()


async def test_a_token_is_found_by_its_hash_and_only_the_hash_is_stored(db: Database) -> None:
    async with repositories(db) as r:
        await accounts.create_account(
            r.accounts, r.audit, email="ann@zwolle.nl", role="viewer", actor="t", secret_key="s", now=NOW
        )
        made = await tokens.create_token(
            r.accounts, r.tokens, r.audit, email="ann@zwolle.nl", name="export", actor="t", now=NOW
        )
    async with db.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT token_hash FROM access_tokens"))).scalars().all()
    assert stored == [tokens.token_hash(made.token)]
    async with repositories(db) as r:
        found = await r.tokens.by_hash(tokens.token_hash(made.token))
        assert found is not None and found.id == made.id
        principal = await tokens.authenticate_token(r.accounts, r.tokens, token=made.token, now=NOW)
    assert principal is not None and principal.role == "viewer"


async def test_the_email_address_names_one_account(db: Database) -> None:
    async with repositories(db) as r:
        await accounts.create_account(
            r.accounts, r.audit, email="ann@zwolle.nl", role="viewer", actor="t", secret_key="s", now=NOW
        )
    with pytest.raises(AccountRefused):
        async with repositories(db) as r:
            await accounts.create_account(
                r.accounts, r.audit, email="Ann@Zwolle.nl", role="organiser", actor="t", secret_key="s", now=NOW
            )
    async with repositories(db) as r:
        assert [a.role for a in await r.accounts.all()] == ["viewer"]
        assert [e.outcome for e in await r.audit.recent()] == ["rejected", "accepted"]  # newest first


@pytest.mark.parametrize(
    "statement",
    [update(AuditRow).values(outcome="accepted"), delete(AuditRow), text("TRUNCATE audit_log")],
    ids=["update", "delete", "truncate"],
)
async def test_the_audit_log_is_append_only(db: Database, statement) -> None:
    async with repositories(db) as r:
        await accounts.record(r.audit, NOW, "a1", "report.publish", "2027-voorjaar/1", outcome="rejected", reason="x")
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.transaction() as session:
            await session.execute(statement)
    async with repositories(db) as r:
        [entry] = await r.audit.recent()
    assert (entry.actor, entry.action, entry.outcome, entry.at) == ("a1", "report.publish", "rejected", NOW)


async def test_the_models_and_the_migrations_agree(db: Database) -> None:
    async with db.engine.connect() as conn:
        differences = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert differences == [], "the console's models and migrations differ: add an Alembic revision"


async def test_check_in_taps_sent_at_once_by_two_requests_count_once_and_the_latest_tap_wins(db: Database) -> None:
    async def send(tap: Tap) -> bool:
        async with repositories(db) as r:
            return await apply_tap(
                r.checkin, r.audit, tap, edition="2027-voorjaar", session_number=1, account_id="a1", address="", now=NOW
            )

    later = Tap("tap-later-0001", "r1", False, NOW - timedelta(minutes=1))
    earlier = Tap("tap-earlier-01", "r1", True, NOW - timedelta(minutes=5))
    # The same tap twice at once (a retry racing the first request), and an older tap arriving after a newer one.
    assert sorted(await asyncio.gather(send(later), send(later))) == [False, True]
    assert await send(earlier) is True
    assert await send(Tap("tap-other-0001", "r2", True, NOW)) is True
    async with repositories(db) as r:
        assert await r.checkin.present("2027-voorjaar", 1) == ["r2"]
        marks = {m.registration_id: m.tap_id for m in await r.checkin.marks("2027-voorjaar", 1)}
        assert marks == {"r1": "tap-later-0001", "r2": "tap-other-0001"}
        assert [e.action for e in await r.audit.recent()].count("checkin.absent") == 1


async def test_two_sign_ins_with_one_totp_code_at_once_get_one_session(db: Database) -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    secret = pyotp.random_base32()
    async with repositories(db) as r:
        invitation = await accounts.create_account(
            r.accounts, r.audit, email="ann@zwolle.nl", role="organiser", actor="t", secret_key="s", now=NOW
        )
    async with repositories(db) as r:
        await accounts.accept_invitation(
            r.accounts,
            r.audit,
            token=invitation.token,
            password="een lang wachtwoord",
            totp_secret=secret,
            totp_code=pyotp.TOTP(secret).at(NOW),
            secret_key="s",
            now=NOW,
            hasher=hasher,
        )

    async def attempt() -> accounts.SignIn:
        async with repositories(db) as r:
            return await accounts.verify_sign_in(
                r.accounts,
                r.audit,
                email="ann@zwolle.nl",
                password="een lang wachtwoord",
                totp_code=pyotp.TOTP(secret).at(NOW),
                now=NOW,
                hasher=hasher,
            )

    outcomes = await asyncio.gather(attempt(), attempt())
    assert sorted(o.refusal or "ok" for o in outcomes) == ["ok", "totp_reused"]
