"""The console's audit log in its JSON API (personal access token or session), newest first."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..store import AuditRow, repositories
from .access import database, require
from .openapi import Operation, Query
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


class AuditItem(BaseModel):
    actor: str = Field(description="The account id (or, for a refused sign-in, the address that was tried).")
    action: str
    subject: str
    at: str
    outcome: str = Field(description="accepted, rejected or pending (sent; the service had not answered yet).")
    reason: str


class AuditList(BaseModel):
    items: list[AuditItem]


OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/audit",
        audit,
        "Het auditlogboek, nieuwste eerst",
        "audit.read",
        "audit",
        answer=AuditList,
        answers={200: "De laatste LIMIT regels.", 422: "limit valt buiten 1..500."},
        query=(Query("limit", "Hoeveel regels (1 tot en met 500, standaard 50).", "integer"),),
    ),
)
