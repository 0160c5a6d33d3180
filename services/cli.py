"""`werkplaatsen`: run the system, one service, or the maintenance commands."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from frontends.console.commands import accounts_app
from shared.logs import configure_logging
from shared.settings import SERVICES, SettingsError, load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Werkplaatsen wijkgericht werken.")
db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
contract_app = typer.Typer(no_args_is_help=True, help="The published message contract.")
editions_app = typer.Typer(no_args_is_help=True, help="Editions (rounds of sessions) of the programme.")
dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters: messages a service could not process.")
broker_app = typer.Typer(no_args_is_help=True, help="RabbitMQ users: who may publish what.")
app.add_typer(db_app, name="db")
app.add_typer(contract_app, name="contract")
app.add_typer(editions_app, name="editions")
app.add_typer(dlq_app, name="dlq")
app.add_typer(broker_app, name="broker")
app.add_typer(accounts_app, name="accounts")

ServiceArgument = Annotated[str, typer.Argument(help="registration, scheduling, notifications or reporting")]


def bootstrap(service: str):  # noqa: ANN201
    return importlib.import_module(f"services.{service}.bootstrap")


def known_service(service: str) -> str:
    if service not in SERVICES:
        raise SettingsError(f"unknown service {service!r}: choose one of {', '.join(SERVICES)}")
    return service


def server_config(asgi: Any, host: str, port: int) -> uvicorn.Config:
    """How `run` and `console` serve their app."""
    from shared.runtime import HTTP_GRACE_SECONDS

    return uvicorn.Config(
        asgi,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=int(HTTP_GRACE_SECONDS),
        # The forwarded headers are read by shared/http.py ForwardedClient, from WERKPLAATSEN_TRUSTED_PROXIES only.
        # Uvicorn's own reading would rewrite the client first, and with FORWARDED_ALLOW_IPS="*" it takes the
        # left-most X-Forwarded-For entry: the one a client writes itself.
        proxy_headers=False,
    )


@app.command()
def run(
    service: ServiceArgument,
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    host: Annotated[str, typer.Option(help="HTTP interface")] = "0.0.0.0",  # nosec B104  # a container listens on all its interfaces
) -> None:
    """Run one service on RabbitMQ and its own database (production)."""
    from shared.messaging.rabbit import RabbitTransport
    from shared.runtime import build_app
    from shared.tracing import configure_tracing

    known_service(service)
    settings = load_settings()
    if not settings.werkplaatsen_broker_url:
        raise SettingsError(
            "WERKPLAATSEN_BROKER_URL: not set (required for `werkplaatsen run`; "
            "use `werkplaatsen dev` for the embedded broker)"
        )
    settings.require_production()
    if not settings.console_publishers:
        # Without it every publisher's `actor` would be believed: anyone on the broker could act as an organiser.
        raise SettingsError(
            "WERKPLAATSEN_CONSOLE_BROKER_USERS: not set (required for `werkplaatsen run`: the broker users of the "
            "console and the operators, whose commands may carry an actor; docs/broker-permissions.md)"
        )
    configure_logging(settings.werkplaatsen_log_format)
    tracer_provider = configure_tracing(service)
    transport = RabbitTransport(settings.werkplaatsen_broker_url, service, tracer_provider=tracer_provider)
    svc = bootstrap(service).build(settings, transport)
    try:
        # SIGTERM: uvicorn stops accepting requests, lets running ones finish (HTTP_GRACE_SECONDS), then the
        # lifespan stops the service gracefully (shared/runtime.py).
        uvicorn.Server(server_config(build_app([svc]), host, port)).run()
    finally:
        if tracer_provider is not None:
            tracer_provider.shutdown()  # sends the spans still buffered


@app.command()
def console(
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    host: Annotated[str, typer.Option(help="HTTP interface")] = "0.0.0.0",  # nosec B104  # a container listens on all its interfaces
) -> None:
    """Run the organiser console (production): pages and API under /console, commands on RabbitMQ, the services'
    APIs at CONSOLE_<SERVICE>_URL (default WERKPLAATSEN_PUBLIC_URL)."""
    from frontends.console.run import production_app

    settings = load_settings()
    if not settings.werkplaatsen_broker_url:
        raise SettingsError(
            "WERKPLAATSEN_BROKER_URL: not set (required for `werkplaatsen console`; "
            "`werkplaatsen dev` includes the console on the embedded broker)"
        )
    settings.require_production()
    configure_logging(settings.werkplaatsen_log_format)
    uvicorn.Server(server_config(production_app(settings), host, port)).run()


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="HTTP port for every surface")] = 8000,
    host: Annotated[str, typer.Option(help="HTTP interface")] = "127.0.0.1",
) -> None:
    """Run the whole system in one process: embedded broker, SQLite under ./var, mail in /dev/mailbox, the organiser
    console under /console (a first sign-in link is printed)."""
    from services.dev import dev_app

    settings = load_settings()
    if settings.werkplaatsen_public_url == "http://localhost:8000" and port != 8000:
        settings.werkplaatsen_public_url = f"http://localhost:{port}"
    configure_logging(settings.werkplaatsen_log_format)
    typer.echo(
        f"Werkplaatsen draait op http://{host}:{port}  (mail: /dev/mailbox, data: {settings.werkplaatsen_data_dir})"
    )
    uvicorn.run(dev_app(settings), host=host, port=port, log_level="warning", lifespan="on", proxy_headers=False)


@db_app.command("revision")
def db_revision(
    service: Annotated[str, typer.Argument()], message: Annotated[str, typer.Option("-m", "--message")]
) -> None:
    """Autogenerate a migration for SERVICE from its models (against a scratch SQLite database at head)."""
    from alembic import command

    from shared.db import Database, alembic_config, migrate

    script_location = bootstrap(service).MIGRATIONS
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'scratch.sqlite3'}"

        async def to_head() -> None:
            db = Database(url)
            await migrate(db, script_location, service)
            await db.dispose()

        asyncio.run(to_head())
        command.revision(alembic_config(script_location, url), message=message, autogenerate=True)


@db_app.command("upgrade")
def db_upgrade(service: ServiceArgument) -> None:
    """Bring SERVICE's database (its *_DATABASE_URL) to the newest migration, as `run` does at start.

    For a release step that migrates before new replicas start; safe beside running replicas, which wait on the
    same PostgreSQL advisory lock.
    """
    from shared.db import Database, migrate

    known_service(service)
    settings = load_settings()
    configure_logging(settings.werkplaatsen_log_format)

    async def upgrade() -> str:
        db = Database(settings.database_url(service))  # type: ignore[arg-type]
        try:
            await migrate(db, bootstrap(service).MIGRATIONS, service)
            return await _revision(db)
        finally:
            await db.dispose()

    typer.echo(f"{service}: database at revision {asyncio.run(upgrade())}")


async def _revision(db) -> str:  # noqa: ANN001
    from sqlalchemy import text

    async with db.engine.connect() as conn:
        return str((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one())


@contract_app.command("asyncapi")
def contract_asyncapi(
    check: Annotated[bool, typer.Option(help="Fail if docs/asyncapi.json is not current")] = False,
    output: Annotated[Path, typer.Option(help="Where to write")] = Path("docs/asyncapi.json"),
) -> None:
    """Write the AsyncAPI document of the message contract (generated by FastStream from the models)."""
    from services.ops.topology import subscriptions
    from shared.contract.asyncapi import render

    _write_or_check(output, render(subscriptions()), check=check, command="asyncapi")


@contract_app.command("topology")
def contract_topology(
    check: Annotated[bool, typer.Option(help="Fail if docs/architecture.md's pictures are not current")] = False,
    output: Annotated[Path, typer.Option(help="The document whose generated section to rewrite")] = Path(
        "docs/architecture.md"
    ),
) -> None:
    """Redraw the picture of each service (what it consumes, emits and stores) from its table of consumed messages."""
    from services.ops.topology import updated

    _write_or_check(output, updated(output.read_text(encoding="utf-8")), check=check, command="topology")


def _write_or_check(output: Path, text: str, *, check: bool, command: str) -> None:
    """Write a generated document, or with --check fail when the one on disk differs from TEXT."""
    if check:
        if not output.exists() or output.read_text(encoding="utf-8") != text:
            typer.echo(f"{output} is out of date: run `werkplaatsen contract {command}`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{output} is current")
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}")


@editions_app.command("load")
def editions_load(
    file: Annotated[Path, typer.Argument(help="Programme file, like services/scheduling/seed/werkplaatsen-2019.json")],
    future: Annotated[bool, typer.Option(help="Move the programme whole years ahead, like `werkplaatsen dev`")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the scheduling service's answer")] = 30.0,
    wait: Annotated[bool, typer.Option(help="Wait for the answer (EditionScheduled or CommandRejected)")] = True,
) -> None:
    """Schedule the edition in FILE: publish ScheduleEdition on WERKPLAATSEN_BROKER_URL and print the outcome."""
    from services.scheduling.loader import load
    from shared.db import utcnow

    settings = load_settings()
    if not settings.werkplaatsen_broker_url:
        raise SettingsError("WERKPLAATSEN_BROKER_URL: not set (the edition is sent to the scheduling service over it)")
    code = asyncio.run(
        load(
            settings.werkplaatsen_broker_url,
            file,
            future=future,
            now=utcnow(),
            timeout=timeout if wait else None,
            echo=typer.echo,
        )
    )
    raise typer.Exit(code)


def _dead_letters(service: str):  # noqa: ANN202
    from shared.messaging.dead_letters import broker_location, dead_letter_queue

    known_service(service)
    return dead_letter_queue(broker_location(load_settings()), service)


def _selection(ids: list[str], everything: bool):  # noqa: ANN202
    from shared.messaging.dead_letters import every, with_ids

    if everything == bool(ids):
        raise typer.BadParameter("give the ids of the dead letters, or --all (not both)")
    return every if everything else with_ids(ids)


def _missing(ids: list[str], done: list) -> list[str]:
    found = {letter.id for letter in done}
    return [i for i in ids if i not in found]


@broker_app.command("users")
def broker_users() -> None:
    """Create or update the broker user of each component whose URL is set (WERKPLAATSEN_BROKER_URL_<COMPONENT>:
    REGISTRATION, SCHEDULING, NOTIFICATIONS, REPORTING, CONSOLE, CHAT, OPERATOR) with the permissions and topic
    permissions of docs/broker-permissions.md, through the management API at WERKPLAATSEN_BROKER_ADMIN_URL."""
    from services.ops.broker_users import apply, configured

    admin, accounts = configured(os.environ)
    asyncio.run(apply(admin, accounts, wait_seconds=120))
    typer.echo("broker users: " + ", ".join(f"{c} ({a.user})" for c, a in accounts.items()))


@dlq_app.command("list")
def dlq_list(
    service: ServiceArgument, limit: Annotated[int, typer.Option(help="Show at most this many")] = 1000
) -> None:
    """List SERVICE's dead letters: id, routing key, since when, why."""
    from services.ops.dead_letters import summary

    async def go() -> str:
        async with _dead_letters(service) as queue:
            return summary(await queue.list(limit=limit))

    typer.echo(_run_dlq(go))


@dlq_app.command("show")
def dlq_show(service: ServiceArgument, letter: Annotated[str, typer.Argument(help="The dead letter's id")]) -> None:
    """Show one dead letter in full: headers, reason and body (the body may hold personal data)."""
    from services.ops.dead_letters import details

    async def go() -> str | None:
        async with _dead_letters(service) as queue:
            found = [d for d in await queue.list() if d.id == letter]
        return "\n\n".join(details(d) for d in found) if found else None

    text = _run_dlq(go)
    if text is None:
        typer.echo(f"{service} has no dead letter {letter}", err=True)
        raise typer.Exit(1)
    typer.echo(text)


@dlq_app.command("replay")
def dlq_replay(
    service: ServiceArgument,
    ids: Annotated[list[str] | None, typer.Argument(help="Ids of the dead letters to replay")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Replay every dead letter of SERVICE")] = False,
) -> None:
    """Put dead letters back into SERVICE's queue (after the cause was fixed); each is processed at most once."""
    ids = ids or []
    select = _selection(ids, everything)

    async def go() -> list:
        async with _dead_letters(service) as queue:
            return await queue.replay(select)

    replayed = _run_dlq(go)
    typer.echo(
        f"replayed {len(replayed)} dead letter(s) into werkplaatsen.{service}"
        + "".join(f"\n  {d.id}  {d.routing_key}" for d in replayed)
    )
    if missing := _missing(ids, replayed):
        typer.echo(f"not found: {', '.join(missing)}", err=True)
        raise typer.Exit(1)


@dlq_app.command("purge")
def dlq_purge(
    service: ServiceArgument,
    ids: Annotated[list[str] | None, typer.Argument(help="Ids of the dead letters to delete")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Delete every dead letter of SERVICE")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation of --all")] = False,
) -> None:
    """Delete dead letters for good."""
    ids = ids or []
    select = _selection(ids, everything)
    if everything and not yes:
        typer.confirm(f"Delete every dead letter of {service}?", abort=True)

    async def go() -> list:
        async with _dead_letters(service) as queue:
            return await queue.purge(select)

    purged = _run_dlq(go)
    typer.echo(f"deleted {len(purged)} dead letter(s) of {service}")
    if missing := _missing(ids, purged):
        typer.echo(f"not found: {', '.join(missing)}", err=True)
        raise typer.Exit(1)


def _run_dlq(work):  # noqa: ANN001, ANN202
    try:
        return asyncio.run(work())
    except (LookupError, TimeoutError) as exc:  # no such queue; another operation holds it (its sweep lock)
        typer.echo(str(exc.args[0] if exc.args else exc), err=True)
        raise typer.Exit(1) from None


@app.command()
def status(
    url: Annotated[
        list[str] | None,
        typer.Option(
            help="SERVICE=URL of a service (repeatable), or one URL for all (werkplaatsen dev). "
            "Default: <SERVICE>_SERVICE_URL from the environment"
        ),
    ] = None,
    management_url: Annotated[
        str | None,
        typer.Option(
            help="RabbitMQ management API. Default: WERKPLAATSEN_RABBITMQ_MANAGEMENT_URL, else port 15672 of the broker"
        ),
    ] = None,
    management: Annotated[bool, typer.Option(help="Ask the management API (else passive declares over AMQP)")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer")] = 3.0,
) -> None:
    """One screen for an operator: readiness, queues, consumers, retries, dead letters and outbox of each service.

    Exits 1 when a service that was checked is not ready.
    """
    from services.ops.status import collect, management_url_for, render

    settings = load_settings()
    urls = _service_urls(url or [])
    broker_url = settings.werkplaatsen_broker_url
    if management and broker_url:
        management_url = (
            management_url or os.environ.get("WERKPLAATSEN_RABBITMQ_MANAGEMENT_URL") or management_url_for(broker_url)
        )
    else:
        management_url = None
    result = asyncio.run(
        collect(
            SERVICES,
            urls,
            broker_url=broker_url,
            embedded_path=settings.werkplaatsen_data_dir / "broker.sqlite3",
            management_url=management_url,
            timeout=timeout,
        )
    )
    typer.echo(result.as_json() if as_json else render(result))
    raise typer.Exit(0 if result.healthy else 1)


def _service_urls(given: list[str]) -> dict[str, str]:
    urls: dict[str, str] = {
        name: value for name in SERVICES if (value := os.environ.get(f"{name.upper()}_SERVICE_URL"))
    }
    for item in given:
        name, sep, value = item.partition("=")
        if not sep:
            urls.update(dict.fromkeys(SERVICES, item))
        elif name in SERVICES:
            urls[name] = value
        else:
            raise typer.BadParameter(f"{item!r}: expected SERVICE=URL with SERVICE one of {', '.join(SERVICES)}")
    return urls


def main() -> None:
    try:
        app()
    except SettingsError as exc:
        print(f"werkplaatsen: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
