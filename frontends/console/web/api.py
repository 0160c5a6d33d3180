"""The console's JSON API, authenticated by a personal access token (`Authorization: Bearer wpc_...`) or the
session. For now: the audit log, newest first."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..store import AuditRow, repositories
from .access import database, require
from .rendering import api_errors

DEFAULT_AUDIT_LIMIT: Final = 50
MAX_AUDIT_LIMIT: Final = 500


def audit_item(row: AuditRow) -> dict[str, str]:
    return {
        "actor": row.actor,
        "action": row.action,
        "subject": row.subject,
        "at": row.at.isoformat(),
        "outcome": row.outcome,
        "reason": row.reason,
    }


async def audit(request: Request) -> Response:
    await require(request, "audit.read")
    given = request.query_params.get("limit")
    limit = DEFAULT_AUDIT_LIMIT
    if given is not None:
        if not given.isdigit() or not 1 <= int(given) <= MAX_AUDIT_LIMIT:
            return api_errors(
                "limit_out_of_range",
                f"limit moet een geheel getal van 1 tot en met {MAX_AUDIT_LIMIT} zijn.",
                422,
                field="limit",
            )
        limit = int(given)
    async with repositories(database(request)) as repos:
        rows = await repos.audit.recent(limit)
    return JSONResponse({"items": [audit_item(row) for row in rows]}, headers={"Cache-Control": "no-store"})


def api_routes() -> list[Route]:
    return [Route("/api/audit", audit, methods=["GET"])]
