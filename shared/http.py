"""Small HTTP helpers the services share: organiser authentication, error responses, and the hardening every
service's app gets (`hardening`): the client's address from a trusted proxy's X-Forwarded-For only, security
headers on every response (HSTS on https), no NUL in URLs, a request size limit, and a per-client rate limit on the
public endpoints where a guess or a flood does harm (registration, approval and status links, the organiser's
login)."""

from __future__ import annotations

import hmac
import ipaddress
import math
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.contract import Command, ErrorItem, message_name
from shared.messaging.messages import Incoming
from shared.messaging.processing import MAX_ID_LENGTH


def is_organizer(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    # compare_digest takes as long for a near miss as for a wild guess: the token cannot be found byte by byte.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def unauthorized() -> JSONResponse:
    return JSONResponse(
        {
            "errors": [
                ErrorItem(
                    field="", code="unauthorized", message="Alleen voor organisatoren: log in met een geldig token."
                ).model_dump()
            ]
        },
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def error_response(errors: list[ErrorItem], status: int = 422) -> JSONResponse:
    return JSONResponse({"errors": [e.model_dump() for e in errors]}, status_code=status)


def http_command(request: Request, command: type[Command], body: bytes) -> Incoming | JSONResponse:
    """The request as a command message (Idempotency-Key is its message id, X-Correlation-ID its correlation), or
    the 400 answer when those headers are too long to record in the inbox and outbox."""
    message_id = request.headers.get("idempotency-key") or str(uuid.uuid4())
    correlation_id = request.headers.get("x-correlation-id") or message_id
    too_long = [
        ErrorItem(
            field=f"headers.{name}",
            code="header_too_long",
            message=f"De header {name} is te lang (hoogstens {MAX_ID_LENGTH} tekens).",
        )
        for name, value in (("Idempotency-Key", message_id), ("X-Correlation-ID", correlation_id))
        if len(value) > MAX_ID_LENGTH
    ]
    if too_long:
        return error_response(too_long, 400)
    return Incoming(
        body=body,
        routing_key=command.routing_key,
        message_id=message_id,
        correlation_id=correlation_id,
        message_type=message_name(command.routing_key),
        content_type=request.headers.get("content-type"),
    )


# Security headers

# For an HTML page that sets no policy of its own: nothing from elsewhere, no script, no framing.
DEFAULT_HTML_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
BASELINE_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))
HTML_HEADERS = ((b"content-security-policy", DEFAULT_HTML_POLICY.encode()), (b"x-frame-options", b"DENY"))
# A year, the usual minimum for preload lists; without includeSubDomains, since the organisation's other hosts are
# not ours to commit to https.
HSTS_HEADER = (b"strict-transport-security", b"max-age=31536000")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def is_development_url(public_url: str) -> bool:
    """Plain http on the developer's own machine (`werkplaatsen dev`, the tests): the one place where cookies are not
    Secure (a browser would not send them back over http) and no HSTS is sent."""
    parts = urlsplit(public_url)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def secure_cookies(public_url: str) -> bool:
    """Whether a cookie gets the Secure flag: everywhere except in development (is_development_url), so a
    deployment on plain http fails visibly instead of sending sessions and CSRF cookies readable over the wire."""
    return not is_development_url(public_url)


class SecurityHeaders:
    """Adds the headers a response lacks: nosniff and no-referrer everywhere, for HTML a strict policy with
    frame-ancestors 'none', and Strict-Transport-Security when the request came over https (directly or through a
    trusted proxy, see ForwardedClient) or the public base URL is https. Pages that set their own (the registration
    pages' nonce policy) keep theirs."""

    def __init__(self, app: ASGIApp, https_base: bool = False) -> None:
        self.app = app
        self.https_base = https_base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                wanted = BASELINE_HEADERS + (HTML_HEADERS if content_type.startswith(b"text/html") else ())
                if self.https_base or scope.get("scheme") == "https":
                    wanted += (HSTS_HEADER,)
                headers.extend((name, value) for name, value in wanted if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


# The client behind a reverse proxy

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _trusted(address: str, proxies: Collection[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def forwarded_client(peer: str, forwarded_for: Sequence[str], proxies: Collection[Network]) -> str:
    """The client's address: the socket peer, unless that is a trusted proxy; then the right-most address in
    X-Forwarded-For that is not a trusted proxy. Only what trusted proxies appended counts: everything left of the
    first untrusted hop may have been written by the client itself."""
    if not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        client = hop
        if not _trusted(hop, proxies):
            break
    return client


class ForwardedClient:
    """Sets the request's client address (and scheme, from X-Forwarded-Proto) from the forwarded headers when, and
    only when, the connection comes from one of `proxies` (WERKPLAATSEN_TRUSTED_PROXIES). With none configured the
    socket peer is the client, whatever the headers say. Uvicorn's own proxy-header handling is turned off
    (services/cli.py) so that this is the one place that decides."""

    def __init__(self, app: ASGIApp, proxies: Collection[Network] = ()) -> None:
        self.app = app
        self.proxies = tuple(proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] != "http" or not self.proxies or not peer:
            await self.app(scope, receive, send)
            return
        if not _trusted(peer[0], self.proxies):
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        forwarded_for = [v.decode("latin-1") for n, v in headers if n.lower() == b"x-forwarded-for"]
        client = forwarded_client(peer[0], forwarded_for, self.proxies)
        scope = {**scope, "client": (client, 0 if client != peer[0] else peer[1])}
        protos = [v.decode("latin-1") for n, v in headers if n.lower() == b"x-forwarded-proto"]
        proto = protos[-1].split(",")[-1].strip().lower() if protos else ""
        if proto in ("http", "https"):
            scope["scheme"] = proto
        await self.app(scope, receive, send)


# Characters no URL of ours has a use for


class NoNulInUrls:
    """Refuses a URL with a NUL character (%00) with 400: no path or query value of ours can contain one, and
    PostgreSQL refuses it in text, so it would otherwise surface as a server error in whichever lookup gets it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ("\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")):
            response = error_response(
                [
                    ErrorItem(
                        field="",
                        code="invalid_character",
                        message="Het adres bevat een teken dat niet is toegestaan (NUL).",
                    )
                ],
                400,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


# Request size


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await too_large(self.limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if not started:
                await too_large(self.limit)(scope, receive, send)


def too_large(limit: int) -> JSONResponse:
    return error_response(
        [
            ErrorItem(
                field="", code="body_too_large", message=f"Het verzoek is te groot (hoogstens {limit // 1024} KiB)."
            )
        ],
        413,
    )


# Rate limit


@dataclass
class TokenBucket:
    """Per client: `burst` requests at once, refilled at `per_minute`. Remembers at most `max_clients` clients
    (the least recently seen are forgotten), so a flood of made-up addresses cannot exhaust memory."""

    per_minute: float
    burst: int
    max_clients: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)

    def take(self, client: str) -> float:
        """0 when the request may go ahead (and counts), else the seconds until it may."""
        now = self.clock()
        rate = self.per_minute / 60
        tokens, then = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


# (methods, path pattern): what a guess or a flood can abuse. `None` = every method.
RATE_LIMITED: tuple[tuple[frozenset[str] | None, re.Pattern[str]], ...] = (
    (frozenset({"POST"}), re.compile(r"/")),  # the registration form
    (frozenset({"POST"}), re.compile(r"/api/registrations")),
    (None, re.compile(r"/approve/[^/]*")),  # the approver's page and decision: guessing tokens
    (None, re.compile(r"/registrations/[^/]+(/cancel)?")),  # the trio's status link: guessing tokens
    (frozenset({"POST"}), re.compile(r"/dashboard/login")),  # guessing the organiser token
)


class RateLimit:
    """Answers 429 with Retry-After (and a Dutch explanation) to a client past its budget on a limited path.

    The client is the request's address as ForwardedClient left it: the connection's, or behind a trusted proxy
    (WERKPLAATSEN_TRUSTED_PROXIES) the right-most untrusted hop of X-Forwarded-For, which a client cannot choose."""

    def __init__(
        self,
        app: ASGIApp,
        bucket: TokenBucket,
        limited: Sequence[tuple[frozenset[str] | None, re.Pattern[str]]] = RATE_LIMITED,
    ) -> None:
        self.app = app
        self.bucket = bucket
        self.limited = limited

    def applies(self, method: str, path: str) -> bool:
        return any(
            (methods is None or method in methods) and pattern.fullmatch(path) for methods, pattern in self.limited
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.bucket.take(client)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        seconds = max(1, math.ceil(wait))
        await too_many(seconds, scope)(scope, receive, send)


def too_many(seconds: int, scope: Scope) -> Any:
    message = (
        f"Te veel verzoeken in korte tijd vanaf dit adres. Probeer het over {seconds} "
        f"{'seconde' if seconds == 1 else 'seconden'} opnieuw."
    )
    headers = {"Retry-After": str(seconds), "Cache-Control": "no-store"}
    accept = dict(scope.get("headers", [])).get(b"accept", b"")
    if b"text/html" in accept:
        from starlette.responses import HTMLResponse

        body = (
            f'<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Even geduld</title></head>'
            f"<body><h1>Even geduld</h1><p>{message}</p></body></html>"
        )
        return HTMLResponse(body, status_code=429, headers=headers)
    return JSONResponse(
        {"errors": [ErrorItem(field="", code="rate_limited", message=message).model_dump()]},
        status_code=429,
        headers=headers,
    )


def hardening(settings: Any = None) -> list[Middleware]:
    """The middleware every service's app runs behind (see shared/runtime.build_app)."""
    if settings is None:
        from shared.settings import load_settings

        settings = load_settings()
    stack = [
        # Outermost, so that every later layer (the HSTS decision, the rate limit) sees the client and scheme it
        # sets, and refusals of the layers below still carry the headers.
        Middleware(ForwardedClient, proxies=settings.trusted_proxies),
        Middleware(SecurityHeaders, https_base=settings.public_url.startswith("https://")),
        Middleware(NoNulInUrls),
        Middleware(BodyLimit, limit=settings.werkplaatsen_max_body_bytes),
    ]
    if settings.werkplaatsen_rate_limit_per_minute > 0:
        bucket = TokenBucket(settings.werkplaatsen_rate_limit_per_minute, settings.werkplaatsen_rate_limit_burst)
        stack.append(Middleware(RateLimit, bucket=bucket))
    return stack
