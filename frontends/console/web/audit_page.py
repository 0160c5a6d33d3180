"""The audit log's page (/console/audit, audit.read): newest first, filtered by who, what, about what, outcome and
dates (the query parameters of GET /console/api/audit, read by audit_api), paged by id, with account names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.contract import COMMANDS, message_name
from shared.formatting import AMSTERDAM, dutch_date

from ..store import AccountRow, AuditRow, repositories
from .access import database, require
from .audit_api import accounts_named, audit_entries, read_audit_params
from .screens import admin_page

PAGE_SIZE: Final = 50
FILTERS: Final = ("actor", "action", "subject", "outcome", "from", "to")

# The console's own actions in Dutch; a service's command is shown by its name (ScheduleEdition...).
ACTION_TEXTS: Final[Mapping[str, str]] = {
    "account.create": "account uitgenodigd",
    "account.reinvite": "nieuwe uitnodigingslink",
    "account.accept_invitation": "uitnodiging aangenomen",
    "account.sign_in": "inloggen",
    "account.sign_out": "uitloggen",
    "account.end_sessions": "overal uitgelogd",
    "account.disable": "account uitgeschakeld",
    "account.issue_reset": "herstellink voor het wachtwoord gemaakt",
    "account.reset_password": "nieuw wachtwoord ingesteld",  # nosec B105  # a Dutch text
    "token.create": "toegangstoken gemaakt",
    "token.revoke": "toegangstoken ingetrokken",
}
OUTCOME_TEXTS: Final[Mapping[str, str]] = {
    "accepted": "gelukt",
    "rejected": "geweigerd",
    "pending": "verstuurd, nog geen antwoord",
}
KNOWN_ACTIONS: Final = sorted({*ACTION_TEXTS, *(message_name(key) for key in COMMANDS)})


def moment(at: datetime) -> str:
    """To the second, in Dutch time: the log tells apart what happened in one minute."""
    local = at.astimezone(AMSTERDAM)
    return f"{dutch_date(local)}, {local:%H:%M:%S}"


async def audit_page(request: Request) -> Response:
    caller = await require(request, "audit.read")
    params = request.query_params
    asked = read_audit_params(params, limit=PAGE_SIZE)
    chosen = {key: params.get(key, "").strip() for key in FILTERS}
    rows: Sequence[AuditRow] = []
    next_before: int | None = None
    named: dict[str, AccountRow] = {}
    async with repositories(database(request)) as repos:
        everyone = await repos.accounts.all()
        if not isinstance(asked, list):
            asked = replace(asked, limit=PAGE_SIZE)  # the page's size, whatever `limit` says
            rows, next_before = await audit_entries(repos, asked)
            named = await accounts_named(repos, rows)
    errors = {e.field: e.message for e in asked} if isinstance(asked, list) else {}
    filters = {key: value for key, value in chosen.items() if value}
    return admin_page(
        request,
        "audit.html",
        caller,
        422 if errors else 200,
        rows=rows,
        named=named,
        accounts=everyone,
        account_ids={a.id for a in everyone},
        chosen=chosen,
        errors=errors,
        filtered=bool(filters),
        paged="before" in params,
        older=f"/console/audit?{urlencode({**filters, 'before': next_before})}" if next_before else "",
        newest=f"/console/audit?{urlencode(filters)}" if filters else "/console/audit",
        link=lambda key, value: f"/console/audit?{urlencode({key: value})}",
        actions=KNOWN_ACTIONS,
        action_texts=ACTION_TEXTS,
        outcome_texts=OUTCOME_TEXTS,
        moment=moment,
    )


def audit_routes() -> list[Route]:
    return [Route("/audit", audit_page, methods=["GET"])]
