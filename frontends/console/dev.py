"""The console inside `werkplaatsen dev`: its pages beside the services' on one port, and a first sign-in.

On every start the development organiser account (DEV_ORGANISER) exists; while it has not signed up yet, a fresh
invitation link is printed, so a newcomer's first click sets a password and a TOTP second factor and signs in.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.db import Database, utcnow
from shared.links import SecretKeys

from .accounts import Invitation, create_account, reissue_invitation
from .store import repositories

DEV_ORGANISER = "organisator@werkplaatsen.test"
PREFIX = "/console"


def beside(host: ASGIApp, console: ASGIApp) -> ASGIApp:
    """One ASGI app: /console and below to the console (whose routes carry the prefix), all else to the host, whose
    lifespan is the process's."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] in ("http", "websocket") else ""
        if path == PREFIX or path.startswith(PREFIX + "/"):
            await console(scope, receive, send)
        else:
            await host(scope, receive, send)

    return app


async def first_sign_in(db: Database, *, secret_key: SecretKeys, public_url: str) -> str:
    """The line to print: the invitation link of the development organiser, or where to sign in once signed up."""
    now = utcnow()
    async with repositories(db) as repos:
        existing = await repos.accounts.by_email(DEV_ORGANISER)
        invitation: Invitation | None
        if existing is None:
            invitation = await create_account(
                repos.accounts,
                repos.audit,
                email=DEV_ORGANISER,
                role="organiser",
                name="Organisator (ontwikkeling)",
                actor="dev",
                secret_key=secret_key,
                now=now,
            )
        else:
            invitation = await reissue_invitation(
                repos.accounts, repos.audit, email=DEV_ORGANISER, actor="dev", secret_key=secret_key, now=now
            )
    if invitation is None:
        return f"Console: {public_url}{PREFIX}/login ({DEV_ORGANISER})"
    return f"Console: eerste keer aanmelden als {DEV_ORGANISER}: {public_url}{PREFIX}/invitation/{invitation.token}"
