"""`werkplaatsen accounts ...`: the console's accounts from the command line, for the first organiser and for
operators. services/cli.py mounts this sub-app; the console's store is migrated to head before each command."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from shared.settings import Settings, load_settings

from .domain import ROLES, AccountRefused, InvalidEmail

if TYPE_CHECKING:
    from .accounts import Invitation
    from .resets import ResetLink
    from .store import AccountRow, Repositories
    from .tokens import NewToken

T = TypeVar("T")

accounts_app = typer.Typer(
    no_args_is_help=True, help="Organiser console accounts: invitations, password resets, access tokens, disabling."
)

MESSAGES = {
    "account_exists": "an account with that email address exists already",
    "unknown_account": "no account has that email address",
    "unknown_role": f"unknown role: choose one of {', '.join(ROLES)}",
    "disabled": "the account is disabled",
    "no_password": "the account has no password yet: it has not accepted its invitation",  # nosec B105  # a message, no secret
}
# The console cannot send mail yet: whoever runs a command that makes a link passes it on.
NOT_MAILED = "(not mailed: the console cannot send mail yet; send the link to the account yourself)"


def _operator() -> str:
    """The actor of a command-line action in the audit log: the operator's login on this machine."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # a container's user without a passwd entry
        return "cli"


def _run(work: Callable[[Repositories, Settings], Awaitable[T]]) -> T:
    """Run WORK(repositories, settings) in one transaction on the console's store, migrated to head. A refusal
    (its audit entry committed) is reported on stderr with exit status 1."""
    from .store import open_store, repositories

    settings = load_settings()

    async def go() -> T:
        db = await open_store(settings.database_url("console"))
        try:
            async with repositories(db) as repos:
                return await work(repos, settings)
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except InvalidEmail as exc:
        typer.echo(f"werkplaatsen: not an email address: {exc.args[0]!r}", err=True)
        raise typer.Exit(1) from None
    except AccountRefused as refused:
        typer.echo(f"werkplaatsen: {MESSAGES.get(refused.code, refused.code)}", err=True)
        raise typer.Exit(1) from None


@accounts_app.command("create")
def create(
    email: Annotated[str, typer.Argument(help="The account's email address (its sign-in name)")],
    role: Annotated[str, typer.Option(help="organiser, facilitator or viewer")],
    name: Annotated[str, typer.Option(help="The name shown in the console")] = "",
    edition: Annotated[
        list[str] | None, typer.Option(help="Edition (slug) a facilitator is assigned to; repeatable")
    ] = None,
) -> None:
    """Invite EMAIL: create the account and print the invitation link (valid 7 days, usable once)."""
    from shared.db import utcnow

    from .accounts import create_account

    if role not in ROLES:
        raise typer.BadParameter(MESSAGES["unknown_role"], param_hint="--role")

    async def work(repos: Repositories, settings: Settings) -> Invitation:
        return await create_account(
            repos.accounts,
            repos.audit,
            email=email,
            role=role,
            name=name,
            editions=edition or [],
            actor=_operator(),
            address="cli",
            secret_key=settings.secret_keys,
            now=utcnow(),
        )

    invitation = _run(work)
    settings = load_settings()
    typer.echo(
        f"invited {invitation.email} as {role}; the link is valid until {invitation.expires_at:%Y-%m-%d %H:%M} UTC:"
    )
    typer.echo(NOT_MAILED)
    typer.echo(f"{settings.public_url}/console/invitation/{invitation.token}")


@accounts_app.command("list")
def list_accounts() -> None:
    """Every account: email, role, status, name and (facilitators) editions."""

    async def work(repos: Repositories, settings: Settings) -> list[tuple[str, str, str, str, str]]:
        return [(a.email, a.role, a.status, a.name, ",".join(a.editions)) for a in await repos.accounts.all()]

    rows = _run(work)
    if not rows:
        typer.echo("no accounts yet: `werkplaatsen accounts create EMAIL --role organiser` invites the first")
        return
    width = max(len(row[0]) for row in rows)
    for email, role, status, name, editions in rows:
        typer.echo(f"{email:<{width}}  {role:<11}  {status:<8}  {name}" + (f"  [{editions}]" if editions else ""))


@accounts_app.command("disable")
def disable(email: Annotated[str, typer.Argument()]) -> None:
    """Disable EMAIL's account: no more sign-ins, its access tokens stop working. Its audit entries stay."""
    from shared.db import utcnow

    from .accounts import disable_account

    async def work(repos: Repositories, settings: Settings) -> AccountRow:
        return await disable_account(
            repos.accounts, repos.audit, email=email, actor=_operator(), address="cli", now=utcnow()
        )

    account = _run(work)
    typer.echo(f"disabled {account.email}")


@accounts_app.command("reset")
def reset(email: Annotated[str, typer.Argument()]) -> None:
    """Print a password reset link for EMAIL's account (valid 24 hours, usable once; the authenticator app stays).
    Setting the new password ends every session of the account."""
    from shared.db import utcnow

    from .resets import issue_password_reset

    async def work(repos: Repositories, settings: Settings) -> ResetLink:
        return await issue_password_reset(
            repos.accounts,
            repos.audit,
            email=email,
            actor=_operator(),
            address="cli",
            secret_key=settings.secret_keys,
            now=utcnow(),
        )

    link = _run(work)
    settings = load_settings()
    typer.echo(f"password reset link for {link.email}, valid until {link.expires_at:%Y-%m-%d %H:%M} UTC:")
    typer.echo(NOT_MAILED)
    typer.echo(f"{settings.public_url}/console/reset/{link.token}")


@accounts_app.command("token")
def token(
    email: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="What the token is for, as listed in the console")] = "cli",
) -> None:
    """Create a personal access token for EMAIL, carrying its role. The token is printed once, as the last line."""
    from shared.db import utcnow

    from .tokens import create_token

    async def work(repos: Repositories, settings: Settings) -> NewToken:
        return await create_token(
            repos.accounts,
            repos.tokens,
            repos.audit,
            email=email,
            name=name,
            actor=_operator(),
            address="cli",
            now=utcnow(),
        )

    new = _run(work)
    typer.echo(f"token {new.name!r} for {email} (shown only now; the console keeps only its hash):")
    typer.echo(new.token)
