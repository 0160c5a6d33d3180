"""`werkplaatsen dev`: the four services in one process on the embedded broker, with an example edition."""

from __future__ import annotations

import importlib
import json
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from frontends.console.backends import Backends, ServiceApis
from frontends.console.dev import beside, first_sign_in
from frontends.console.gateway import CommandGateway, id_key, reply_queue_name
from frontends.console.store import MIGRATIONS as CONSOLE_MIGRATIONS
from frontends.console.web import app as console_app
from services.scheduling.seed import load_programme, moved_into_future
from shared.contract import COMMANDS, COMMANDS_EXCHANGE, ErrorItem, Reply, message_name
from shared.contract.scheduling import ScheduleEdition
from shared.db import Database, migrate, utcnow
from shared.http import error_response, is_organizer, unauthorized
from shared.messaging.embedded import EmbeddedBroker
from shared.messaging.messages import Incoming, Outgoing
from shared.messaging.processing import OPERATOR_ACTOR, ORGANISER_TOKEN_ACTOR
from shared.runtime import Service, build_app
from shared.settings import SERVICES, Settings

INDEX = """<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Werkplaatsen (ontwikkelomgeving)</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;line-height:1.5}</style></head>
<body><h1>Werkplaatsen wijkgericht werken</h1><p>Ontwikkelomgeving: alle diensten in één proces.</p><ul>
<li><a href="/api/editions">Edities (JSON)</a></li><li><a href="/reports">Verslagen</a></li>
<li><a href="/dashboard">Overzicht voor organisatoren</a></li>
<li><a href="/dev/mailbox">Verstuurde e-mail</a></li><li><a href="/dev/dead-letters">Dead letters</a></li>
<li><a href="/">Aanmeldformulier</a></li><li><a href="/ready">Gereedheid</a></li>
<li><a href="/metrics">Metrics</a></li></ul>
<p>Aanmelden: <code>POST /api/registrations</code> met de velden van RegisterTrio (zie docs/contract.md).</p>
<p>Organisatoren: elk commando uit docs/contract.md met <code>POST /dev/commands/&lt;routing key&gt;</code> en het
organisatorentoken (hier standaard <code>dev-organizer-token</code>, of WERKPLAATSEN_ORGANIZER_TOKEN), bijvoorbeeld
de aanmelding sluiten (zie <a href="/api/editions">/api/editions</a> voor de naam van de editie):</p>
<pre>curl -H "Authorization: Bearer dev-organizer-token" -H "Content-Type: application/json" \\
  -d '{"edition": "2027-najaar"}' http://127.0.0.1:8000/dev/commands/scheduling.CloseRegistration</pre>
</body></html>"""

MAX_COMMAND_BYTES = 64 * 1024


def build_dev_app(settings: Settings) -> Starlette:
    broker = EmbeddedBroker(settings.werkplaatsen_data_dir / "broker.sqlite3")
    services: list[Service] = [
        importlib.import_module(f"services.{name}.bootstrap").build(settings, broker.transport(name))
        for name in SERVICES
    ]
    notifications = next(s for s in services if s.name == "notifications")
    from services.notifications.entrypoints import mailbox_routes

    async def index(_: Request) -> HTMLResponse:
        return HTMLResponse(INDEX)

    async def dead_letters(_: Request) -> JSONResponse:
        return JSONResponse({"dead_letters": await broker.dead_letters()})

    async def organiser_command(request: Request) -> JSONResponse:
        """An organiser's command, carried out at once by the service that owns it; answers with the outcome.

        Production organisers publish commands on RabbitMQ; dev mode's broker lives inside this process, so this
        is the only way in for the commands that have no page or API of their own (e.g. CloseRegistration).
        """
        if not is_organizer(request, settings.werkplaatsen_organizer_token):
            return unauthorized()
        routing_key = request.path_params["routing_key"]
        owner = next((s for s in services if routing_key in COMMANDS and routing_key in s.consumers), None)
        if owner is None:
            return error_response(
                [
                    ErrorItem(
                        field="routing_key",
                        code="unknown_command",
                        message=f"Het commando {routing_key[:100]} bestaat niet.",
                    )
                ],
                404,
            )
        body = await request.body()
        if len(body) > MAX_COMMAND_BYTES:
            return error_response(
                [ErrorItem(field="", code="body_too_large", message="Het verzoek is te groot (hoogstens 64 KiB).")], 413
            )
        # Like the HTTP APIs: the same Idempotency-Key repeats the first outcome instead of acting twice.
        message_id = request.headers.get("idempotency-key", "")[:200] or str(uuid.uuid4())
        answered = await owner.consumers[routing_key](
            Incoming(
                body=as_organiser(body),
                local=True,
                routing_key=routing_key,
                message_id=message_id,
                correlation_id=message_id,
                message_type=message_name(routing_key),
                content_type="application/json",
            )
        )
        # The consumer's own answer: a refusal for something not announced yet is answered but not kept.
        outcome = answered.model_dump(mode="json") if isinstance(answered, Reply) else {"status": "accepted"}
        return JSONResponse(outcome, status_code=200 if outcome.get("status") == "accepted" else 422)

    async def seed_example_edition() -> None:
        edition = moved_into_future(load_programme(), utcnow())
        # A fixed message_id per edition makes the seed idempotent across restarts (the inbox keeps it once).
        await broker.publish(
            Outgoing(
                exchange=COMMANDS_EXCHANGE,
                routing_key=ScheduleEdition.routing_key,
                body=json.dumps(
                    {**edition.model_dump(mode="json", exclude_none=True), "actor": OPERATOR_ACTOR}
                ).encode(),
                message_id=f"dev-seed-{edition.edition}",
                message_type="ScheduleEdition",
                correlation_id=f"dev-seed-{edition.edition}",
            )
        )

    console_db = Database(settings.database_url("console"))
    # The console acts as in production, by publishing commands and waiting for their replies, here on the
    # embedded broker; it reads the services' APIs in process (the host app below, once it exists).
    gateway = CommandGateway(broker, reply_queue_name("dev"), id_key=id_key(settings.werkplaatsen_secret_key))

    async def open_console() -> None:
        await migrate(console_db, CONSOLE_MIGRATIONS, "console")
        # Printed, not logged: the link is for the person who started `werkplaatsen dev`, like the address above.
        print(
            await first_sign_in(console_db, secret_key=settings.secret_keys, public_url=settings.public_url), flush=True
        )

    async def start() -> None:
        await broker.open()
        await broker.subscribe_replies("console", gateway.reply_queue, gateway.on_reply)
        await open_console()

    async def stop() -> None:
        await backends.close()
        await broker.close()
        await console_db.dispose()

    host = build_app(
        services,
        extra_routes=[
            Route("/dev", index),
            Route("/dev/dead-letters", dead_letters),
            Route("/dev/commands/{routing_key}", organiser_command, methods=["POST"]),
            *mailbox_routes(notifications.store),
        ],
        on_start=start,
        after_start=seed_example_edition,
        on_stop=stop,
    )
    # The console is a front end of its own (frontends/console); it shares this process, its port and lifespan.
    # The console's lifespan does not run inside `beside` (the host's is the process's), so start and stop above
    # open what the console needs.
    backends = Backends(apis=ServiceApis.in_process(host, settings.werkplaatsen_organizer_token), gateway=gateway)
    host.state.console = console_app(settings, db=console_db, backends=backends)
    return host


def dev_app(settings: Settings) -> ASGIApp:
    """What `werkplaatsen dev` serves: the services' app, and the organiser console under /console."""
    host = build_dev_app(settings)
    return beside(host, host.state.console)


def as_organiser(body: bytes) -> bytes:
    """A command posted with the organiser token, given by it (ORGANISER_TOKEN_ACTOR) unless it names its actor."""
    try:
        given = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return body  # refused as it is, with the parser's reason
    if not isinstance(given, dict) or "actor" in given:
        return body
    return json.dumps({**given, "actor": ORGANISER_TOKEN_ACTOR}).encode()
