"""Sign-in with OpenID Connect (docs/console.md), on when CONSOLE_OIDC_ISSUER is set: the authorization-code flow
with PKCE, state and nonce.

`GET /console/login/oidc` sends the browser to the provider; what the callback needs to check the answer (the state,
the nonce and the PKCE verifier) travels in a short-lived signed HttpOnly cookie, so no server-side store is needed
and the state can only come back to the browser that started. `GET /console/login/oidc/callback` exchanges the
code at the provider's token endpoint (Authlib), verifies the ID token against the keys its discovery document
names (joserfc, Authlib's JOSE library; claims by authlib.oidc.core: iss, aud, exp, nonce, at_hash), and hands its
claims to oidc_accounts, which finds the account; the session is then the one a password sign-in gets. The state
is what protects the callback against a forged request: it has no form to carry a CSRF field.
"""

from __future__ import annotations

import hmac
import secrets
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import httpx
import structlog
from itsdangerous import BadSignature, URLSafeSerializer
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shared.links import SecretKeys
from shared.settings import Settings

from ..oidc_accounts import OidcRefusal, refuse_oidc, sign_in_with_oidc
from ..store import repositories
from .access import address, console, database
from .pages import START_PATH, _login_page
from .rendering import problem

with warnings.catch_warnings():
    # Authlib 1.9 warns on import that it falls back from the httpx2 fork to httpx, which is what this project pins.
    # Its own module sets its warnings to "always" when imported, so that filter has to be there before ours.
    import authlib.deprecate  # type: ignore[import-untyped]

    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError  # type: ignore[import-untyped]
    from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]

log = structlog.get_logger()

START_ROUTE: Final = "/login/oidc"
CALLBACK_ROUTE: Final = "/login/oidc/callback"
FLOW_COOKIE: Final = "werkplaatsen_console_oidc"
FLOW_SALT: Final = "werkplaatsen:console-oidc"  # its own salt: no other signed value passes for a flow
FLOW_PATH: Final = "/console/login/oidc"  # sent to the start and the callback only
FLOW_LENGTH: Final = timedelta(minutes=10)  # time enough to sign in at the provider, not to reuse a copied cookie
SCOPE: Final = "openid email profile"
METADATA_SECONDS: Final = 3600.0  # the discovery document is read again after an hour (endpoints rarely change)
LEEWAY_SECONDS: Final = 60  # clock skew between the provider and the console
HTTP_TIMEOUT: Final = httpx.Timeout(10.0)


# The flow cookie ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flow:
    state: str
    nonce: str
    verifier: str  # PKCE: only its S256 hash goes to the provider; the code is worthless without it

    @classmethod
    def new(cls) -> Flow:
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48))


def seal_flow(secret: SecretKeys, flow: Flow, now: datetime) -> str:
    expires = int((now + FLOW_LENGTH).timestamp())
    data = {"state": flow.state, "nonce": flow.nonce, "verifier": flow.verifier, "expires": expires}
    return URLSafeSerializer(secret, salt=FLOW_SALT).dumps(data)


def open_flow(secret: SecretKeys, value: str, now: datetime) -> Flow | None:
    """The flow sealed in VALUE while it is genuine and unexpired (the expiry is inside the signature, as for the
    session: a copied cookie expires all the same), else None."""
    try:
        data = URLSafeSerializer(secret, salt=FLOW_SALT).loads(value)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    state, nonce, verifier, expires = (data.get(k) for k in ("state", "nonce", "verifier", "expires"))
    if not (isinstance(state, str) and isinstance(nonce, str) and isinstance(verifier, str)):
        return None
    if not isinstance(expires, int) or now.timestamp() >= expires:
        return None
    return Flow(state, nonce, verifier)


def state_matches(flow: Flow, state: str) -> bool:
    return hmac.compare_digest(flow.state.encode(), state.encode())


# The provider ---------------------------------------------------------------------------------------------------


class ProviderProblem(Exception):
    def __init__(self, refusal: OidcRefusal) -> None:
        super().__init__(refusal)
        self.refusal: OidcRefusal = refusal


class Provider:
    """The identity provider as the console uses it: its discovery document (kept an hour) and keys (read again
    when a token names a key they lack: providers rotate keys), the authorization URL and the verified claims."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        name: str,
        redirect_uri: str,
        transport: httpx.AsyncBaseTransport | None = None,  # None: the network (unit tests give a fake provider)
    ) -> None:
        self.issuer, self.client_id, self.name, self.redirect_uri = issuer, client_id, name, redirect_uri
        self._client_secret = client_secret
        self._transport = transport
        self._metadata: dict[str, Any] | None = None
        self._metadata_read = 0.0
        self._keys: KeySet | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Provider | None:
        """None while OIDC is off (no issuer); the settings make sure an issuer comes with a client id and secret."""
        issuer, client_id, secret = (
            settings.console_oidc_issuer,
            settings.console_oidc_client_id,
            settings.console_oidc_client_secret,
        )
        if not issuer or not client_id or secret is None:
            return None
        return cls(
            issuer=issuer,
            client_id=client_id,
            client_secret=secret.get_secret_value(),
            name=settings.console_oidc_name,
            redirect_uri=settings.public_url + FLOW_PATH + "/callback",
        )

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=HTTP_TIMEOUT, transport=self._transport)

    async def metadata(self) -> Mapping[str, Any]:
        if self._metadata is not None and time.monotonic() - self._metadata_read < METADATA_SECONDS:
            return self._metadata
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            async with self._http() as http:
                response = await http.get(url)
                response.raise_for_status()
                data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("console.oidc.discovery_failed", url=url, error=type(exc).__name__)
            raise ProviderProblem("provider_unreachable") from None
        endpoints = ("authorization_endpoint", "token_endpoint", "jwks_uri")
        # OpenID Connect Discovery 1.0 §4.3: the document must be the configured issuer's own.
        if not (
            isinstance(data, dict)
            and isinstance(data.get("issuer"), str)
            and data["issuer"].rstrip("/") == self.issuer.rstrip("/")
            and all(isinstance(data.get(key), str) for key in endpoints)
        ):
            log.warning("console.oidc.discovery_invalid", url=url)
            raise ProviderProblem("provider_unreachable")
        self._metadata, self._metadata_read, self._keys = data, time.monotonic(), None
        return data

    def _client(self, metadata: Mapping[str, Any]) -> Any:
        methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        # client_secret_basic is the default of the specification; Entra ID and Keycloak take either.
        method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            token_endpoint_auth_method=method,
            scope=SCOPE,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT,
            transport=self._transport,
        )

    async def authorization_url(self, flow: Flow) -> str:
        metadata = await self.metadata()
        async with self._client(metadata) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"], state=flow.state, code_verifier=flow.verifier, nonce=flow.nonce
            )
        return str(url)

    async def verified_claims(self, code: str, flow: Flow, now: datetime) -> dict[str, Any]:
        """The ID token's claims once the code is exchanged and the token verified; ProviderProblem otherwise."""
        metadata = await self.metadata()
        try:
            async with self._client(metadata) as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"], grant_type="authorization_code", code=code, code_verifier=flow.verifier
                )
        except (OAuthError, httpx.HTTPError, ValueError) as exc:
            # OAuthError's text is the provider's error code and description: no secret, no token.
            log.warning("console.oidc.token_failed", error=str(exc)[:200])
            raise ProviderProblem("token_failed") from None
        id_token = token.get("id_token") if isinstance(token, Mapping) else None
        if not isinstance(id_token, str):
            raise ProviderProblem("id_token_invalid")
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        # Signed with one of the provider's published keys: never unsigned, never with a shared secret.
        # (An empty list would let joserfc fall back to its recommended algorithms, HS256 among them.)
        algorithms = [a for a in offered if isinstance(a, str) and a != "none" and not a.startswith("HS")] or ["RS256"]
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)  # providers add header fields
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(metadata), registry=registry)
            except InvalidKeyIdError:
                decoded = jwt.decode(id_token, await self._key_set(metadata, again=True), registry=registry)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": metadata["issuer"]},
                    "aud": {"essential": True, "value": self.client_id},
                },
                {"nonce": flow.nonce, "client_id": self.client_id, "access_token": token.get("access_token")},
            )
            claims.validate(now=int(now.timestamp()), leeway=LEEWAY_SECONDS)
        except (JoseError, ValueError) as exc:
            log.warning("console.oidc.id_token_invalid", error=type(exc).__name__, detail=str(exc)[:200])
            raise ProviderProblem("id_token_invalid") from None
        return dict(claims)

    async def _key_set(self, metadata: Mapping[str, Any], *, again: bool = False) -> KeySet:
        if self._keys is None or again:
            try:
                async with self._http() as http:
                    response = await http.get(metadata["jwks_uri"])
                    response.raise_for_status()
                    self._keys = KeySet.import_key_set(response.json())
            except (httpx.HTTPError, ValueError, JoseError) as exc:
                log.warning("console.oidc.jwks_failed", error=type(exc).__name__)
                raise ProviderProblem("provider_unreachable") from None
        return self._keys


# The pages ------------------------------------------------------------------------------------------------------


def provider(request: Request) -> Provider | None:
    found = getattr(request.app.state, "oidc", None)
    return found if isinstance(found, Provider) else None


def refusal_text(refusal: OidcRefusal, name: str, email: str) -> str:
    """What the login page says, in Dutch. Unlike a password sign-in's, it may name the address: the provider has
    just proven that it is the visitor's own."""
    retry = "Probeer het opnieuw, of log in met je e-mailadres en wachtwoord."
    texts: dict[OidcRefusal, str] = {
        "state_invalid": "Deze inlogpoging is verlopen of in een andere browser begonnen. " + retry,
        "provider_error": f"Inloggen met {name} is afgebroken of niet gelukt. " + retry,
        "provider_unreachable": f"Inloggen met {name} lukt nu niet: de dienst is niet bereikbaar. " + retry,
        "token_failed": f"Inloggen met {name} lukte niet: het antwoord kon niet worden opgehaald. " + retry,
        "id_token_invalid": f"Inloggen met {name} lukte niet: het antwoord kon niet worden gecontroleerd. " + retry,
        "no_email": (
            f"Inloggen met {name} lukte niet: er kwam geen e-mailadres mee. Vraag de beheerder van je "
            "organisatieaccount om het e-mailadres mee te sturen."
        ),
        "email_unverified": (
            f"Inloggen met {name} lukte niet: je e-mailadres is daar nog niet bevestigd. Bevestig het en probeer "
            "het opnieuw."
        ),
        "unknown_account": (
            f"Met het e-mailadres {email} is er geen actief account voor de console. Vraag een organisator om een "
            "account voor dit adres."
        ),
    }
    texts["disabled"] = texts["unknown_account"]
    return texts[refusal]


REFUSAL_STATUS: Final[Mapping[OidcRefusal, int]] = {
    "state_invalid": 400,
    "provider_error": 401,
    "provider_unreachable": 502,
    "token_failed": 502,  # nosec B105  # an HTTP status
    "id_token_invalid": 401,  # nosec B105  # an HTTP status
    "no_email": 403,
    "email_unverified": 403,
    "unknown_account": 403,
    "disabled": 403,
}


def _not_configured() -> Response:
    return problem(
        404, "Deze pagina bestaat niet", "Inloggen met een organisatieaccount is voor deze console niet ingesteld."
    )


def _end_flow(response: Response, request: Request) -> Response:
    secure = console(request).sessions.secure
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH, httponly=True, samesite="lax", secure=secure)
    return response


def _refused(request: Request, idp: Provider, refusal: OidcRefusal, *, email: str = "") -> Response:
    page = _login_page(request, error=refusal_text(refusal, idp.name, email), status=REFUSAL_STATUS[refusal])
    return _end_flow(page, request)


async def start(request: Request) -> Response:
    idp = provider(request)
    if idp is None:
        return _not_configured()
    context = console(request)
    flow = Flow.new()
    try:
        url = await idp.authorization_url(flow)
    except ProviderProblem as trouble:
        async with repositories(database(request)) as repos:
            await refuse_oidc(repos.audit, context.clock(), trouble.refusal, address=address(request))
        return _refused(request, idp, trouble.refusal)
    response = RedirectResponse(url, 303)
    response.set_cookie(
        FLOW_COOKIE,
        seal_flow(context.secret_key, flow, context.clock()),
        max_age=int(FLOW_LENGTH.total_seconds()),
        httponly=True,
        # Lax: the provider sends the browser back with a top-level GET from its own site, which Strict would not
        # give the cookie.
        samesite="lax",
        secure=context.sessions.secure,
        path=FLOW_PATH,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def callback(request: Request) -> Response:
    idp = provider(request)
    if idp is None:
        return _not_configured()
    context = console(request)
    now = context.clock()
    params = request.query_params
    flow = open_flow(context.secret_key, request.cookies.get(FLOW_COOKIE, ""), now)
    code = params.get("code", "")
    refusal: OidcRefusal | None = None
    claims: dict[str, Any] = {}
    if flow is None or not state_matches(flow, params.get("state", "")):
        refusal = "state_invalid"
    elif "error" in params or not code:
        log.info("console.oidc.provider_error", error=params.get("error", "")[:100])
        refusal = "provider_error"
    else:
        try:
            claims = await idp.verified_claims(code, flow, now)
        except ProviderProblem as trouble:
            refusal = trouble.refusal
    async with repositories(database(request)) as repos:
        if refusal is not None:
            await refuse_oidc(repos.audit, now, refusal, address=address(request))
            return _refused(request, idp, refusal)
        outcome = await sign_in_with_oidc(repos.accounts, repos.audit, claims=claims, address=address(request), now=now)
    if outcome.account is None or outcome.refusal is not None:
        return _refused(request, idp, outcome.refusal or "unknown_account", email=outcome.email)
    response = context.sessions.start(
        RedirectResponse(START_PATH, 303), outcome.account.id, now, generation=outcome.account.session_generation
    )
    return _end_flow(response, request)


def oidc_routes() -> list[Route]:
    return [Route(START_ROUTE, start, methods=["GET"]), Route(CALLBACK_ROUTE, callback, methods=["GET"])]
