"""/console/health and /console/ready for the orchestrator: the console process runs, and its store answers.

Not behind a login, and they say nothing about accounts. Readiness does not include the services or the broker:
a page whose service is down says so (503 with a Dutch text) while sign-in and the audit log keep working."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .access import database


async def health(_: Request) -> Response:
    return JSONResponse({"status": "ok", "services": ["console"]})


async def ready(request: Request) -> Response:
    try:
        ok = await database(request).ping()
    except RuntimeError:  # the store was never opened
        ok = False
    return JSONResponse({"ready": ok, "checks": {"console": {"database": ok}}}, status_code=200 if ok else 503)


def probe_routes() -> list[Route]:
    return [Route("/health", health, methods=["GET"]), Route("/ready", ready, methods=["GET"])]
