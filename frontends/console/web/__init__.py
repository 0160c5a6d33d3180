"""The organiser console's web front end: server-rendered Dutch pages and a JSON API under /console.

`app(settings)` is a Starlette app whose routes all start with /console, so it can run on its own or be mounted
at the root of another app. One module a job: `pages` (sign-in, sign-out, invitations, the start page), `oidc`
(sign-in with OpenID Connect), `access` (who is asking, `require`, the 401/403 answers), `sessions` (the session
and CSRF cookies), `rendering` (Dutch texts, templates, forms), `acting` (a command on the caller's behalf,
audited), `openapi` (each API operation declared once: its route and its part of /console/api/openapi.json) and
the `*_api` modules. The API's operations are listed in OPERATIONS below; each module exports its own tuple.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

from shared.db import Database, utcnow
from shared.http import RateLimit, TokenBucket, hardening, secure_cookies
from shared.settings import Settings

from ..accounts import DEFAULT_HASHER
from ..backends import Backends, ServiceUnavailable
from ..store import open_store
from .access import Console, Forbidden, NotSignedIn, forbidden, not_signed_in, require, service_unavailable
from .admin import OPERATIONS as ADMIN
from .admin import admin_routes
from .audit_api import OPERATIONS as AUDIT
from .editions_api import OPERATIONS as EDITIONS
from .editions_pages import editions_page_routes
from .invoice_pages import routes as invoice_routes
from .invoices_api import OPERATIONS as INVOICES
from .mail_pages import OPERATIONS as MAIL
from .mail_pages import mail_routes
from .navigation import navigation_routes
from .oidc import Provider, oidc_routes
from .openapi import Operation, api_routes
from .overview import OPERATIONS as OVERVIEW
from .pages import page_routes
from .probes import probe_routes
from .registration_pages import routes as registration_routes
from .registrations_api import OPERATIONS as REGISTRATIONS
from .session_pages import session_routes
from .sessions import Csrf, Sessions
from .sessions_api import OPERATIONS as SESSIONS

__all__ = ["OPERATIONS", "app", "require"]

OPERATIONS: tuple[Operation, ...] = (*EDITIONS, *OVERVIEW, *SESSIONS, *MAIL, *REGISTRATIONS, *INVOICES, *AUDIT, *ADMIN)

# Guessing a password across many accounts (each account's own lockout stops guessing one), an invitation link or
# a password reset link.
RATE_LIMITED = (
    (frozenset({"POST"}), re.compile(r"/console/login")),
    (None, re.compile(r"/console/(invitation|reset)/[^/]*")),
)


def app(
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Callable[[], datetime] = utcnow,
    hasher: PasswordHasher = DEFAULT_HASHER,
    backends: Backends | None = None,
) -> Starlette:
    """The console on its store: DB when given (the caller opens and closes it), else the store at
    CONSOLE_DATABASE_URL, opened at head by the lifespan. BACKENDS (the services' APIs and the command gateway)
    are opened and closed by the lifespan too; without them only accounts and the audit log work."""
    secret = settings.secret_keys
    secure = secure_cookies(settings.public_url)
    context = Console(
        secret, Sessions(secret, secure), Csrf(secret, secure), clock, hasher, db, backends, settings.public_url
    )

    @asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[None]:
        opened = None
        if db is None:
            opened = await open_store(settings.database_url("console"))
            application.state.db = opened
        if backends is not None:
            await backends.open()
        try:
            yield
        finally:
            if backends is not None:
                await backends.close()
            if opened is not None:
                await opened.dispose()

    middleware = hardening(settings)
    if settings.werkplaatsen_rate_limit_per_minute > 0:
        bucket = TokenBucket(settings.werkplaatsen_rate_limit_per_minute, settings.werkplaatsen_rate_limit_burst)
        middleware.append(Middleware(RateLimit, bucket=bucket, limited=RATE_LIMITED))
    application = Starlette(
        routes=[
            Mount(
                "/console",
                routes=[
                    *probe_routes(),
                    *page_routes(),
                    *navigation_routes(),
                    *oidc_routes(),
                    *admin_routes(),
                    *editions_page_routes(),
                    *registration_routes(),
                    *session_routes(),
                    *invoice_routes(),
                    *mail_routes(),
                    *api_routes(OPERATIONS),
                ],
            )
        ],
        middleware=middleware,
        exception_handlers={NotSignedIn: not_signed_in, Forbidden: forbidden, ServiceUnavailable: service_unavailable},
        lifespan=lifespan,
    )
    application.state.console = context
    application.state.db = db
    application.state.operations = OPERATIONS
    application.state.oidc = Provider.from_settings(settings)  # None while OIDC is off
    return application
