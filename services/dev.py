"""`werkplaatsen dev`: the four services in one process on the embedded broker, with an example edition."""

from __future__ import annotations

import importlib
import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from services.scheduling.seed import load_programme, moved_into_future
from shared.contract import COMMANDS_EXCHANGE
from shared.contract.scheduling import ScheduleEdition
from shared.db import utcnow
from shared.messaging.embedded import EmbeddedBroker
from shared.messaging.messages import Outgoing
from shared.runtime import Service, build_app
from shared.settings import SERVICES, Settings

INDEX = """<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Werkplaatsen (ontwikkelomgeving)</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;line-height:1.5}</style></head>
<body><h1>Werkplaatsen wijkgericht werken</h1><p>Ontwikkelomgeving: alle diensten in één proces.</p><ul>
<li><a href="/api/editions">Edities (JSON)</a></li><li><a href="/reports">Verslagen</a></li><li><a href="/dashboard">Overzicht voor organisatoren</a></li>
<li><a href="/dev/mailbox">Verstuurde e-mail</a></li><li><a href="/dev/dead-letters">Dead letters</a></li>
<li><a href="/">Aanmeldformulier</a></li><li><a href="/ready">Gereedheid</a></li><li><a href="/metrics">Metrics</a></li></ul>
<p>Aanmelden: <code>POST /api/registrations</code> met de velden van RegisterTrio (zie docs/contract.md).</p>
</body></html>"""


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

    async def seed_example_edition() -> None:
        edition = moved_into_future(load_programme(), utcnow())
        # A fixed message_id per edition makes the seed idempotent across restarts (the inbox keeps it once).
        await broker.publish(Outgoing(
            exchange=COMMANDS_EXCHANGE, routing_key=ScheduleEdition.routing_key,
            body=json.dumps(edition.model_dump(mode="json", exclude_none=True)).encode(),
            message_id=f"dev-seed-{edition.edition}", message_type="ScheduleEdition",
            correlation_id=f"dev-seed-{edition.edition}",
        ))

    return build_app(
        services,
        extra_routes=[Route("/dev", index), Route("/dev/dead-letters", dead_letters),
                      *mailbox_routes(notifications.store)],
        on_start=broker.open,
        after_start=seed_example_edition,
        on_stop=broker.close,
    )
