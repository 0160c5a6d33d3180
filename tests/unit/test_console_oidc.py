"""The console's OpenID Connect sign-in, piece by piece: the signed flow cookie, the ID token's verification (against
a provider faked in memory: signature, issuer, audience, expiry, nonce, key rotation), which account the verified
claims name, the login page's button and the settings. The whole flow against a real provider process is in
tests/integration/test_console_oidc.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from pydantic import ValidationError
from starlette.responses import Response

from frontends.console import accounts
from frontends.console.domain import AccountRefused
from frontends.console.oidc_accounts import SIGN_IN_OIDC, sign_in_with_oidc
from frontends.console.store import open_store, repositories
from frontends.console.web import app
from frontends.console.web.oidc import FLOW_LENGTH, Flow, Provider, ProviderProblem, open_flow, seal_flow
from frontends.console.web.sessions import Sessions
from shared.db import Database
from shared.settings import Settings
from tests.support import free_port

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
SECRET = "unit-secret"
ISSUER = "https://login.example.nl/tenant/v2.0"
CLIENT_ID = "werkplaatsen-console"
KEY = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
ROTATED = RSAKey.generate_key(2048, parameters={"kid": "key-2"})


# The flow cookie ------------------------------------------------------------------------------------------------


def test_a_sealed_flow_opens_again_until_it_expires() -> None:
    flow = Flow.new()
    sealed = seal_flow(SECRET, flow, NOW)
    assert open_flow(SECRET, sealed, NOW + FLOW_LENGTH - timedelta(seconds=1)) == flow
    assert open_flow(SECRET, sealed, NOW + FLOW_LENGTH) is None


def test_a_flow_cookie_changed_or_signed_for_something_else_does_not_open() -> None:
    sealed = seal_flow(SECRET, Flow.new(), NOW)
    assert open_flow(SECRET, sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB"), NOW) is None
    assert open_flow("another-key", sealed, NOW) is None
    # A session cookie is signed with the same key but another salt: it never passes for a flow.
    response = Sessions(SECRET, secure=False).start(Response(), "account-1", NOW, generation=0)
    session_value = response.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert open_flow(SECRET, session_value, NOW) is None
    assert open_flow(SECRET, "", NOW) is None


# The ID token ---------------------------------------------------------------------------------------------------


@dataclass
class FakeProvider:
    """The provider's three endpoints, in memory: discovery, keys and token (the ID token made from `claims`)."""

    claims: dict[str, Any]
    signing_key: RSAKey = field(default_factory=lambda: KEY)
    published: list[RSAKey] = field(default_factory=lambda: [KEY])
    issuer: str = ISSUER
    token_error: bool = False
    key_reads: int = 0
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/tenant/v2.0/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": self.issuer,
                    "authorization_endpoint": "https://login.example.nl/authorize",
                    "token_endpoint": "https://login.example.nl/token",
                    "jwks_uri": "https://login.example.nl/keys",
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                },
            )
        if path == "/keys":
            self.key_reads += 1
            return httpx.Response(200, json={"keys": [k.as_dict(private=False) for k in self.published]})
        if path == "/token":
            self.token_requests.append(parse_qs(request.content.decode()))
            if self.token_error:
                return httpx.Response(400, json={"error": "invalid_grant", "error_description": "code used"})
            header = {"alg": "RS256", "kid": self.signing_key.kid}
            id_token = jwt.encode(header, self.claims, self.signing_key)
            return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer", "id_token": id_token})
        return httpx.Response(404)


def provider_on(fake: FakeProvider) -> Provider:
    return Provider(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        client_secret="s3cret",
        name="Entra ID",
        redirect_uri="https://werkplaatsen.example.nl/console/login/oidc/callback",
        transport=httpx.MockTransport(fake),
    )


def id_claims(flow: Flow, **changes: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "sub": "ann-at-idp",
        "aud": CLIENT_ID,
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(minutes=10)).timestamp()),
        "nonce": flow.nonce,
        "email": "ann@zwolle.nl",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def test_a_genuine_id_token_gives_its_claims_and_the_code_goes_with_the_pkce_verifier() -> None:
    flow = Flow.new()
    fake = FakeProvider(id_claims(flow))
    claims = await provider_on(fake).verified_claims("the-code", flow, NOW)
    assert claims["email"] == "ann@zwolle.nl" and claims["sub"] == "ann-at-idp"
    sent = fake.token_requests[0]
    assert sent["code"] == ["the-code"] and sent["code_verifier"] == [flow.verifier]
    assert sent["redirect_uri"] == ["https://werkplaatsen.example.nl/console/login/oidc/callback"]
    assert "client_secret" not in sent  # client_secret_basic: in the Authorization header, not the body


async def test_the_authorization_url_carries_state_nonce_and_an_s256_challenge_but_not_the_verifier() -> None:
    flow = Flow.new()
    url = await provider_on(FakeProvider({})).authorization_url(flow)
    assert url.startswith("https://login.example.nl/authorize?")
    query = parse_qs(url.split("?", 1)[1])
    assert query["state"] == [flow.state] and query["nonce"] == [flow.nonce]
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0] != flow.verifier
    assert flow.verifier not in url and "s3cret" not in url


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "another-client"},
        {"aud": ["another-client"], "azp": CLIENT_ID},  # issued by us to someone else: azp does not make it ours
        {"iss": "https://elsewhere.example.nl"},
        {"nonce": "a-replayed-nonce"},
        {"nonce": None},
        {"exp": int((NOW - timedelta(minutes=5)).timestamp())},
        {"exp": None},
    ],
    ids=["audience", "audience-with-our-azp", "issuer", "nonce", "no-nonce", "expired", "no-expiry"],
)
async def test_an_id_token_for_someone_else_or_out_of_date_is_refused(changes: dict[str, Any]) -> None:
    flow = Flow.new()
    with pytest.raises(ProviderProblem) as refused:
        await provider_on(FakeProvider(id_claims(flow, **changes))).verified_claims("code", flow, NOW)
    assert refused.value.refusal == "id_token_invalid"


async def test_an_id_token_signed_with_a_key_the_provider_does_not_publish_is_refused() -> None:
    flow = Flow.new()
    forger = RSAKey.generate_key(2048, parameters={"kid": "key-1"})  # the published key's id, another key
    fake = FakeProvider(id_claims(flow), signing_key=forger)
    with pytest.raises(ProviderProblem) as refused:
        await provider_on(fake).verified_claims("code", flow, NOW)
    assert refused.value.refusal == "id_token_invalid"


async def test_a_key_the_console_has_not_seen_is_read_from_the_provider_again() -> None:
    flow = Flow.new()
    fake = FakeProvider(id_claims(flow))
    provider = provider_on(fake)
    await provider.verified_claims("code", flow, NOW)
    assert fake.key_reads == 1
    # The provider rotates its keys: the next token names one the console has not read yet.
    fake.signing_key, fake.published = ROTATED, [KEY, ROTATED]
    assert (await provider.verified_claims("code", flow, NOW))["sub"] == "ann-at-idp"
    assert fake.key_reads == 2


async def test_a_refused_code_exchange_and_a_discovery_document_of_another_issuer_are_refused() -> None:
    flow = Flow.new()
    with pytest.raises(ProviderProblem) as exchange:
        await provider_on(FakeProvider(id_claims(flow), token_error=True)).verified_claims("code", flow, NOW)
    assert exchange.value.refusal == "token_failed"
    with pytest.raises(ProviderProblem) as discovery:
        await provider_on(FakeProvider(id_claims(flow), issuer="https://evil.example.nl")).authorization_url(flow)
    assert discovery.value.refusal == "provider_unreachable"


# Which account the claims name ----------------------------------------------------------------------------------


@pytest.fixture
async def db(tmp_path) -> AsyncIterator[Database]:
    database = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'console.sqlite3'}")
    yield database
    await database.dispose()


async def invite(db: Database, email: str, role: str = "viewer") -> accounts.Invitation:
    async with repositories(db) as r:
        return await accounts.create_account(
            r.accounts, r.audit, email=email, role=role, actor="cli:root", secret_key=SECRET, now=NOW
        )


async def oidc_sign_in(db: Database, **claims: Any) -> tuple[Any, list[tuple[str, str, str, str]]]:
    async with repositories(db) as r:
        outcome = await sign_in_with_oidc(r.accounts, r.audit, claims=claims, address="192.0.2.7", now=NOW)
    async with repositories(db) as r:
        entries = [
            (e.actor, e.outcome, e.reason, e.address) for e in await r.audit.recent() if e.action == SIGN_IN_OIDC
        ]
    return outcome, entries


async def test_the_address_finds_the_account_whatever_its_case_and_an_invitation_is_then_used(db) -> None:
    invitation = await invite(db, "ann@zwolle.nl", "organiser")
    outcome, entries = await oidc_sign_in(db, sub="x", email=" Ann@Zwolle.NL", email_verified=True)
    assert outcome.account is not None and outcome.account.id == invitation.account_id
    assert outcome.account.status == "active"
    assert entries == [(invitation.account_id, "accepted", "activated", "192.0.2.7")]
    # The invitation link no longer sets a password: the account is no longer invited.
    async with repositories(db) as r:
        with pytest.raises(AccountRefused) as used:
            await accounts.accept_invitation(
                r.accounts, r.audit, token=invitation.token, password="een lang wachtwoord", secret_key=SECRET, now=NOW
            )
    assert used.value.code == "invitation_used"


@pytest.mark.parametrize(
    ("claims", "refusal", "actor"),
    [
        ({"sub": "s1"}, "no_email", "oidc:s1"),
        ({"sub": "s1", "email": "geen adres"}, "no_email", "oidc:s1"),
        ({"sub": "s1", "email": "ann@zwolle.nl", "email_verified": False}, "email_unverified", "ann@zwolle.nl"),
        ({"sub": "s1", "email": "ann@zwolle.nl", "email_verified": "true"}, "email_unverified", "ann@zwolle.nl"),
        ({"sub": "s1", "email": "olaf@elders.nl"}, "unknown_account", "olaf@elders.nl"),
    ],
    ids=["no-email", "not-an-address", "unverified", "verified-as-text", "unknown"],
)
async def test_claims_without_a_verified_address_of_an_account_are_refused(db, claims, refusal, actor) -> None:
    await invite(db, "ann@zwolle.nl")
    outcome, entries = await oidc_sign_in(db, **claims)
    assert outcome.account is None and outcome.refusal == refusal
    assert entries == [(actor, "rejected", refusal, "192.0.2.7")]


async def test_a_disabled_account_is_refused_and_stays_disabled(db) -> None:
    invitation = await invite(db, "vera@zwolle.nl")
    async with repositories(db) as r:
        await accounts.disable_account(r.accounts, r.audit, email="vera@zwolle.nl", actor="cli:root", now=NOW)
    outcome, entries = await oidc_sign_in(db, sub="v", email="vera@zwolle.nl")
    assert outcome.refusal == "disabled"
    assert entries == [(invitation.account_id, "rejected", "disabled", "192.0.2.7")]
    async with repositories(db) as r:
        row = await r.accounts.get(invitation.account_id)
        assert row is not None and row.status == "disabled"


async def test_how_the_provider_authenticated_is_kept_in_the_audit_entry_without_any_token(db) -> None:
    await invite(db, "ann@zwolle.nl", "organiser")
    await oidc_sign_in(db, sub="x", email="ann@zwolle.nl")
    _, entries = await oidc_sign_in(db, sub="x", email="ann@zwolle.nl", amr=["pwd", "mfa"], at_hash="abc")
    assert [reason for _, _, reason, _ in entries] == ["amr=pwd mfa", "activated"]


# The pages and the settings -------------------------------------------------------------------------------------


def settings(**oidc: Any) -> Settings:
    return Settings(werkplaatsen_secret_key=SECRET, werkplaatsen_public_url="http://localhost:8000", **oidc)


OIDC = {"console_oidc_issuer": ISSUER, "console_oidc_client_id": CLIENT_ID, "console_oidc_client_secret": "s3cret"}


async def client_for(db: Database, configured: Settings) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app(configured, db=db, clock=lambda: datetime.now(UTC)))
    return httpx.AsyncClient(transport=transport, base_url="http://localhost")


async def test_the_login_page_offers_the_identity_provider_only_when_it_is_configured(db) -> None:
    async with await client_for(db, settings(**OIDC, console_oidc_name="Entra ID")) as on:
        page = await on.get("/console/login")
        assert 'href="/console/login/oidc"' in page.text and "Inloggen met Entra ID" in page.text
    async with await client_for(db, settings(**OIDC)) as default_name:
        assert "Inloggen met je organisatieaccount" in (await default_name.get("/console/login")).text
    async with await client_for(db, settings()) as off:
        assert "/console/login/oidc" not in (await off.get("/console/login")).text
        assert (await off.get("/console/login/oidc")).status_code == 404
        assert (await off.get("/console/login/oidc/callback?code=c&state=s")).status_code == 404


async def test_a_callback_without_the_flow_cookie_is_refused_before_the_provider_is_asked(db) -> None:
    async with await client_for(db, settings(**OIDC)) as http:
        refused = await http.get("/console/login/oidc/callback?code=c&state=s")
    assert refused.status_code == 400
    assert "Deze inlogpoging is verlopen of in een andere browser begonnen." in refused.text
    async with repositories(db) as r:
        entries = [(e.action, e.outcome, e.reason) for e in await r.audit.recent()]
    assert entries == [(SIGN_IN_OIDC, "rejected", "state_invalid")]


def test_an_issuer_needs_a_client_id_and_secret_and_https() -> None:
    with pytest.raises(ValidationError, match="console_oidc_client_id"):
        settings(console_oidc_issuer=ISSUER, console_oidc_client_secret="s")
    with pytest.raises(ValidationError, match="console_oidc_client_secret"):
        settings(console_oidc_issuer=ISSUER, console_oidc_client_id="c")
    with pytest.raises(ValidationError, match="https"):
        settings(**{**OIDC, "console_oidc_issuer": "http://login.example.nl"})
    assert settings(**{**OIDC, "console_oidc_issuer": "http://127.0.0.1:9400"}).console_oidc_issuer
    configured = settings(**OIDC)
    assert "s3cret" not in repr(configured) and "s3cret" not in json.dumps(configured.model_dump(mode="json"))


async def test_a_provider_that_cannot_be_reached_is_said_on_the_login_page_and_recorded(db) -> None:
    unreachable = {**OIDC, "console_oidc_issuer": f"http://127.0.0.1:{free_port()}"}  # nothing listens there
    async with await client_for(db, settings(**unreachable, console_oidc_name="Keycloak")) as http:
        answer = await http.get("/console/login/oidc")
    assert answer.status_code == 502
    assert "Inloggen met Keycloak lukt nu niet: de dienst is niet bereikbaar." in answer.text
    assert 'name="password"' in answer.text  # the password form is still there
    async with repositories(db) as r:
        assert [(e.action, e.reason) for e in await r.audit.recent()] == [(SIGN_IN_OIDC, "provider_unreachable")]
