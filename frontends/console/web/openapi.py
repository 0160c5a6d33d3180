"""The console's JSON API as data: each operation declares its path, permission, body model and answers once, and
both its route and its part of the OpenAPI document (/console/api/openapi.json) are made from that declaration,
so the document cannot drift from the code. /console/api/docs browses it with Swagger UI, served from the
swagger-ui-bundle package (no CDN: the console works offline and under its own CSP)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, create_model
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from shared.contract import Command, ErrorItem

from ..domain import Action
from .rendering import ACTION_TEXTS

Endpoint = Callable[[Request], Awaitable[Response]]

STANDARD_ANSWERS: Final[Mapping[int, str]] = {
    401: "Niet ingelogd: geen of een ongeldig persoonlijk toegangstoken.",
    403: "De rol van dit account staat dit niet toe (met de uitleg).",
}


@dataclass(frozen=True)
class Query:
    name: str
    description: str
    type: Literal["string", "integer", "boolean"] = "string"


@dataclass(frozen=True)
class Operation:
    method: Literal["GET", "POST", "PUT", "DELETE"]
    path: str  # below /console, e.g. "/api/editions/{slug}"
    endpoint: Endpoint
    summary: str
    permission: Action | None  # None: any signed-in account, for its own things (its tokens)
    tag: str
    body: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None  # the JSON of the success answer, when it has a model
    answers: Mapping[int, str] = field(default_factory=dict)  # status -> description, success first
    query: Sequence[Query] = ()
    idempotent_key: bool = False  # takes an Idempotency-Key header


def api_routes(operations: Iterable[Operation]) -> list[BaseRoute]:
    routes: list[BaseRoute] = [Route(op.path, op.endpoint, methods=[op.method]) for op in operations]
    routes += [
        Route("/api/openapi.json", openapi_json, methods=["GET"]),
        Route("/api/docs", docs_page, methods=["GET"]),
        Route("/api/docs/{asset:path}", docs_asset, methods=["GET"]),
    ]
    return routes


def command_body(command: type[Command], name: str) -> type[BaseModel]:
    """The body a client sends for COMMAND: its fields without the envelope ones the console fills in itself
    (`actor` is the caller, `reply_to` the console's reply queue). For the document only; the body is then read
    as the command itself, so the contract's rules apply unchanged."""
    fields: dict[str, Any] = {
        key: (info.annotation, info) for key, info in command.model_fields.items() if key not in ("actor", "reply_to")
    }
    model: type[BaseModel] = create_model(name, __config__=command.model_config, __doc__=command.__doc__, **fields)
    return model


class ErrorAnswer(BaseModel):
    errors: list[ErrorItem]


def document(operations: Sequence[Operation], *, server: str = "/console") -> dict[str, Any]:
    models = {m for op in operations for m in (op.body, op.answer) if m is not None} | {ErrorAnswer}
    ordered = sorted(models, key=lambda m: m.__name__)
    refs, definitions = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    schema_of = {m: refs[(m, "validation")] for m in ordered}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        answers: dict[str, Any] = {}
        for status, description in {**op.answers, **STANDARD_ANSWERS}.items():
            model = op.answer if status < 300 else ErrorAnswer if status >= 400 else None
            entry: dict[str, Any] = {"description": description}
            if model is not None and (status < 300 or status in (404, 409, 422)):
                entry["content"] = {"application/json": {"schema": schema_of[model]}}
            answers[str(status)] = entry
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_parameters(op.path)
        ]
        parameters += [
            {"name": q.name, "in": "query", "required": False, "description": q.description, "schema": {"type": q.type}}
            for q in op.query
        ]
        if op.idempotent_key:
            parameters.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "Dezelfde sleutel herhaalt de eerste uitkomst in plaats van twee keer te handelen.",
                    "schema": {"type": "string", "maxLength": 200},
                }
            )
        operation: dict[str, Any] = {
            "operationId": op.endpoint.__name__,
            "summary": op.summary,
            "description": (
                f"Vereist het recht: {ACTION_TEXTS[op.permission]} (`{op.permission}`)."
                if op.permission is not None
                else "Voor elk ingelogd account, voor wat van dat account zelf is."
            ),
            "tags": [op.tag],
            "parameters": parameters,
            "responses": answers,
            "security": [{"token": []}, {"session": []}],
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema_of[op.body]}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Werkplaatsen: API van de organisatorenconsole",
            "version": "1",
            "description": "Alles wat de console kan, met een persoonlijk toegangstoken (Bearer wpc_...).",
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "Persoonlijk toegangstoken (wpc_...)."},
                "session": {"type": "apiKey", "in": "cookie", "name": "wp_console"},
            },
        },
    }


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


async def openapi_json(request: Request) -> Response:
    operations: Sequence[Operation] = request.app.state.operations
    return JSONResponse(document(operations), headers={"Cache-Control": "no-cache"})


SWAGGER_DIR: Final = Path(__import__("swagger_ui_bundle").swagger_ui_path)
SWAGGER_ASSETS: Final = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"})
DOCS_PAGE: Final = """<!doctype html><html lang="nl"><head><meta charset="utf-8">
<title>API van de organisatorenconsole</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/api/docs/swagger-ui.css">
</head><body><div id="api"></div><script src="/console/api/docs/swagger-ui-bundle.js"></script>
<script nonce="{nonce}">SwaggerUIBundle({{url: "/console/api/openapi.json", dom_id: "#api"}});</script>
</body></html>"""


async def docs_page(_: Request) -> Response:
    nonce = secrets.token_urlsafe(16)
    return HTMLResponse(
        DOCS_PAGE.format(nonce=nonce),
        headers={
            "Content-Security-Policy": (
                f"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
            )
        },
    )


async def docs_asset(request: Request) -> Response:
    asset = request.path_params["asset"]
    if asset not in SWAGGER_ASSETS:
        return Response(status_code=404)
    return FileResponse(SWAGGER_DIR / asset, headers={"Cache-Control": "public, max-age=86400"})
