"""The console's account handlers on a SQLite store migrated to head: invitations, sign-in with lockout and TOTP,
personal access tokens, disabling, and an audit entry for every one of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from argon2 import PasswordHasher

from frontends.console import accounts, tokens
from frontends.console.domain import FIRST_LOCKOUT, LOCKOUT_THRESHOLD, AccountRefused, may
from frontends.console.store import AuditRow, Repositories, open_store, repositories
from shared.db import Database

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
SECRET = "unit-secret"
PASSWORD = "een lang wachtwoord"
# The production parameters cost ~50 ms and 64 MiB a hash; these keep the tests quick with the same code paths.
HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
async def db(tmp_path) -> AsyncIterator[Database]:
    database = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'console.sqlite3'}")
    yield database
    await database.dispose()


async def invite(db: Database, email: str = "ann@zwolle.nl", role: str = "viewer", **kw: object) -> accounts.Invitation:
    async with repositories(db) as r:
        return await accounts.create_account(
            r.accounts,
            r.audit,
            email=email,
            role=role,
            actor="cli:root",
            secret_key=SECRET,
            now=NOW,
            **kw,  # type: ignore[arg-type]
        )


async def activate(db: Database, email: str = "ann@zwolle.nl", role: str = "viewer") -> str | None:
    """An active account; returns its TOTP secret when the role needs one."""
    invitation = await invite(db, email, role)
    secret = pyotp.random_base32() if role == "organiser" else None
    async with repositories(db) as r:
        await accounts.accept_invitation(
            r.accounts,
            r.audit,
            token=invitation.token,
            password=PASSWORD,
            totp_secret=secret,
            totp_code=pyotp.TOTP(secret).at(NOW) if secret else None,
            secret_key=SECRET,
            now=NOW,
            hasher=HASHER,
        )
    return secret


async def sign_in(
    db: Database, password: str = PASSWORD, *, at: datetime = NOW, code: str | None = None, email: str = "ann@zwolle.nl"
) -> accounts.SignIn:
    async with repositories(db) as r:
        return await accounts.verify_sign_in(
            r.accounts,
            r.audit,
            email=email,
            password=password,
            totp_code=code,
            address="203.0.113.7",
            now=at,
            hasher=HASHER,
        )


async def audit(db: Database) -> list[AuditRow]:
    async with repositories(db) as r:
        return list(reversed(await r.audit.recent(1000)))


async def test_creating_an_account_invites_it_with_a_link_valid_for_seven_days(db) -> None:
    invitation = await invite(db, " Ann@Zwolle.NL", "facilitator", name="Ann", editions=["2027-voorjaar"])
    assert invitation.email == "ann@zwolle.nl"
    assert invitation.expires_at == NOW + timedelta(days=7)
    async with repositories(db) as r:
        account = await r.accounts.by_email("ann@zwolle.nl")
    assert account is not None
    assert (account.status, account.role, account.name, account.editions) == (
        "invited",
        "facilitator",
        "Ann",
        ["2027-voorjaar"],
    )
    assert account.password_hash is None
    [entry] = await audit(db)
    assert (entry.actor, entry.action, entry.subject, entry.outcome) == (
        "cli:root",
        "account.create",
        f"account:{account.id}",
        "accepted",
    )


async def test_a_second_account_for_the_same_address_is_refused_and_the_refusal_is_audited(db) -> None:
    await invite(db)
    with pytest.raises(AccountRefused) as refused:
        await invite(db, "ANN@zwolle.nl", "organiser")
    assert refused.value.code == "account_exists"
    assert [(e.action, e.outcome, e.reason) for e in await audit(db)][-1] == ("account.create", "rejected", "exists")


async def test_accepting_the_invitation_sets_an_argon2_password_and_activates_the_account(db) -> None:
    invitation = await invite(db)
    async with repositories(db) as r:
        account = await accounts.accept_invitation(
            r.accounts, r.audit, token=invitation.token, password=PASSWORD, secret_key=SECRET, now=NOW, hasher=HASHER
        )
    assert account.status == "active"
    assert account.password_hash is not None and account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash
    assert (await sign_in(db)).ok


async def test_an_invitation_opens_the_account_once(db) -> None:
    invitation = await invite(db)
    for attempt in range(2):
        async with repositories(db) as r:
            call = accounts.accept_invitation(
                r.accounts,
                r.audit,
                token=invitation.token,
                password=PASSWORD,
                secret_key=SECRET,
                now=NOW,
                hasher=HASHER,
            )
            if attempt == 0:
                await call
            else:
                with pytest.raises(AccountRefused, match="invitation_used"):
                    await call


@pytest.mark.parametrize(
    ("token_change", "later", "code"),
    [
        (lambda t: t, timedelta(days=7, seconds=1), "invitation_expired"),
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), timedelta(0), "invitation_invalid"),
    ],
)
async def test_an_expired_or_tampered_invitation_is_refused(db, token_change, later, code) -> None:
    invitation = await invite(db)
    async with repositories(db) as r:
        with pytest.raises(AccountRefused, match=code):
            await accounts.accept_invitation(
                r.accounts,
                r.audit,
                token=token_change(invitation.token),
                password=PASSWORD,
                secret_key=SECRET,
                now=NOW + later,
                hasher=HASHER,
            )
    assert (await audit(db))[-1].outcome == "rejected"


async def test_an_organiser_cannot_accept_the_invitation_without_a_proven_second_factor(db) -> None:
    invitation = await invite(db, role="organiser")
    secret = pyotp.random_base32()
    for totp_secret, code, refusal in [(None, None, "totp_required"), (secret, "000000", "bad_totp")]:
        async with repositories(db) as r:
            with pytest.raises(AccountRefused, match=refusal):
                await accounts.accept_invitation(
                    r.accounts,
                    r.audit,
                    token=invitation.token,
                    password=PASSWORD,
                    totp_secret=totp_secret,
                    totp_code=code,
                    secret_key=SECRET,
                    now=NOW,
                    hasher=HASHER,
                )
    async with repositories(db) as r:
        account = await r.accounts.by_email("ann@zwolle.nl")
    assert account is not None and account.status == "invited"


async def test_a_short_password_is_refused(db) -> None:
    invitation = await invite(db)
    async with repositories(db) as r:
        with pytest.raises(AccountRefused, match="password_too_short"):
            await accounts.accept_invitation(
                r.accounts, r.audit, token=invitation.token, password="kort", secret_key=SECRET, now=NOW, hasher=HASHER
            )


async def test_an_organiser_signs_in_with_password_and_a_current_totp_code(db) -> None:
    secret = await activate(db, role="organiser")
    assert secret is not None
    asked = await sign_in(db)
    assert asked.refusal == "totp_required"
    assert (
        await sign_in(db, code="123456" if pyotp.TOTP(secret).at(NOW) != "123456" else "654321")
    ).refusal == "bad_totp"
    signed_in = await sign_in(db, code=pyotp.TOTP(secret).at(NOW))
    assert signed_in.ok and signed_in.account is not None
    assert signed_in.account.failed_attempts == 0  # the bad code's failure is forgotten


async def test_five_wrong_passwords_lock_the_account_and_each_later_failure_doubles_the_wait(db) -> None:
    await activate(db)
    for _ in range(LOCKOUT_THRESHOLD - 1):
        assert (await sign_in(db, "verkeerd wachtwoord")).refusal == "bad_password"
    fifth = await sign_in(db, "verkeerd wachtwoord")
    assert fifth.retry_at == NOW + FIRST_LOCKOUT
    # While locked even the right password is not checked.
    locked = await sign_in(db, at=NOW + timedelta(seconds=30))
    assert (locked.refusal, locked.retry_at) == ("locked", NOW + FIRST_LOCKOUT)
    after_wait = NOW + FIRST_LOCKOUT
    sixth = await sign_in(db, "verkeerd wachtwoord", at=after_wait)
    assert sixth.retry_at == after_wait + 2 * FIRST_LOCKOUT
    assert (await sign_in(db, at=after_wait + 2 * FIRST_LOCKOUT)).ok


async def test_every_sign_in_attempt_is_audited_without_the_password_or_code(db) -> None:
    secret = await activate(db, role="organiser")
    assert secret is not None
    code = pyotp.TOTP(secret).at(NOW)
    await sign_in(db, "verkeerd wachtwoord")
    await sign_in(db, email="onbekend@zwolle.nl")
    await sign_in(db, code=code)
    entries = [e for e in await audit(db) if e.action == "account.sign_in"]
    assert [(e.outcome, e.reason) for e in entries] == [
        ("rejected", "bad_password"),
        ("rejected", "unknown_account"),
        ("accepted", ""),
    ]
    assert entries[1].actor == "onbekend@zwolle.nl"
    assert all(e.address == "203.0.113.7" for e in entries)
    for e in await audit(db):
        text = " ".join((e.actor, e.action, e.subject, e.address, e.reason))
        assert PASSWORD not in text and "verkeerd" not in text and code not in text


async def test_an_invited_account_cannot_sign_in_yet(db) -> None:
    await invite(db)
    assert (await sign_in(db)).refusal == "not_active"


async def new_token(r: Repositories, email: str = "ann@zwolle.nl", name: str = "rapportage") -> accounts.NewToken:
    return await tokens.create_token(r.accounts, r.tokens, r.audit, email=email, name=name, actor="cli:root", now=NOW)


async def test_a_personal_access_token_is_shown_once_stored_hashed_and_carries_the_role(db) -> None:
    await activate(db, role="facilitator")
    async with repositories(db) as r:
        made = await new_token(r)
        [listed] = await tokens.list_tokens(r.accounts, r.tokens, email="ann@zwolle.nl")
    assert made.token.startswith("wpc_") and len(made.token) > 40
    assert listed.token_hash == tokens.token_hash(made.token) != made.token
    assert made.token not in " ".join(e.subject + e.reason for e in await audit(db))
    async with repositories(db) as r:
        principal = await tokens.authenticate_token(r.accounts, r.tokens, token=made.token, now=NOW)
        assert principal is not None and principal.role == "facilitator"
        assert not may(principal, "editions.write")
        assert (await r.tokens.get(made.id)).last_used_at == NOW  # type: ignore[union-attr]
        assert await tokens.authenticate_token(r.accounts, r.tokens, token=made.token + "x", now=NOW) is None
        assert await tokens.authenticate_token(r.accounts, r.tokens, token="nonsense", now=NOW) is None


async def test_a_revoked_token_no_longer_authenticates(db) -> None:
    await activate(db)
    async with repositories(db) as r:
        made = await new_token(r)
        await tokens.revoke_token(r.tokens, r.audit, token_id=made.id, actor="a1", now=NOW)
        assert await tokens.authenticate_token(r.accounts, r.tokens, token=made.token, now=NOW) is None
    assert (await audit(db))[-1].action == "token.revoke"


async def test_a_disabled_account_cannot_sign_in_and_its_tokens_stop_working(db) -> None:
    await activate(db)
    async with repositories(db) as r:
        made = await new_token(r)
        await accounts.disable_account(r.accounts, r.audit, email="ann@zwolle.nl", actor="cli:root", now=NOW)
        assert await tokens.authenticate_token(r.accounts, r.tokens, token=made.token, now=NOW) is None
        with pytest.raises(AccountRefused, match="disabled"):
            await new_token(r)
    assert (await sign_in(db)).refusal == "disabled"
    assert [e.action for e in await audit(db) if e.outcome == "accepted"][-1] == "account.disable"
