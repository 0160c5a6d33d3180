"""The console's audit log in its JSON API (personal access token or session), newest first, filtered and paged
like the audit page (audit_page.py), whose query parameters are the same and are read here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Final

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.contract import ErrorItem
from shared.formatting import AMSTERDAM
from shared.http import error_response

from ..domain import InvalidEmail, normalise_email
from ..store import AccountRow, AuditQuery, AuditRow, Repositories, repositories
from .access import database, require
from .openapi import Operation, Query

DEFAULT_AUDIT_LIMIT: Final = 50
MAX_AUDIT_LIMIT: Final = 500
OUTCOMES: Final = ("accepted", "rejected", "pending")
# The longest value each text filter can match (the columns' lengths): a longer one matches nothing.
TEXT_FILTERS: Final = {"actor": 320, "action": 100, "subject": 300}


@dataclass(frozen=True)
class AuditPage:
    """What a request asks of the log: the filter, how many entries, and below which id (the next page)."""

    where: AuditQuery
    limit: int
    before: int | None


def _moment(value: str, *, end: bool) -> datetime | None:
    """A date (a whole day in Dutch time: `from` its start, `to` the start of the next day, so `to` includes the
    day) or an ISO 8601 moment with its time zone; None when it is neither."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(), AMSTERDAM)
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def read_audit_params(params: Mapping[str, str], *, limit: int = DEFAULT_AUDIT_LIMIT) -> AuditPage | list[ErrorItem]:
    """The filter in PARAMS (`actor`, `action`, `subject`, `outcome`, `from`, `to`, `before`, `limit`); empty
    values are no filter. The errors, field by field, when a value cannot be one."""
    errors: list[ErrorItem] = []
    given = {key: params.get(key, "").strip() for key in (*TEXT_FILTERS, "outcome", "from", "to", "before", "limit")}
    for key, longest in TEXT_FILTERS.items():
        if len(given[key]) > longest:
            errors.append(ErrorItem(field=key, code="too_long", message=f"Hoogstens {longest} tekens."))
    if given["outcome"] and given["outcome"] not in OUTCOMES:
        errors.append(ErrorItem(field="outcome", code="unknown_outcome", message="Kies accepted, rejected of pending."))
    since = _moment(given["from"], end=False) if given["from"] else None
    until = _moment(given["to"], end=True) if given["to"] else None
    for key, moment in (("from", since), ("to", until)):
        if given[key] and moment is None:
            message = "Vul een datum in als JJJJ-MM-DD (of een tijdstip met tijdzone, ISO 8601)."
            errors.append(ErrorItem(field=key, code="invalid_date", message=message))
    if since is not None and until is not None and until <= since:
        errors.append(ErrorItem(field="to", code="range_reversed", message="De einddatum ligt vóór de begindatum."))
    before = given["before"]
    if before and not (before.isdigit() and len(before) <= 18):
        message = "before is het id van de laatste regel van de vorige bladzijde (een geheel getal)."
        errors.append(ErrorItem(field="before", code="invalid_before", message=message))
    if given["limit"]:
        if not given["limit"].isdigit() or not 1 <= int(given["limit"]) <= MAX_AUDIT_LIMIT:
            message = f"limit moet een geheel getal van 1 tot en met {MAX_AUDIT_LIMIT} zijn."
            errors.append(ErrorItem(field="limit", code="limit_out_of_range", message=message))
        else:
            limit = int(given["limit"])
    if errors:
        return errors
    where = AuditQuery(
        actor=given["actor"] or None,
        action=given["action"] or None,
        subject=given["subject"] or None,
        outcome=given["outcome"] or None,
        since=since,
        until=until,
    )
    return AuditPage(where, limit, int(before) if before else None)


async def audit_entries(repos: Repositories, asked: AuditPage) -> tuple[Sequence[AuditRow], int | None]:
    """One page of entries and the `before` of the next page (None: this is the last). An actor given as an
    account's email address means that account (entries name accounts by id)."""
    where = asked.where
    if where.actor is not None and "@" in where.actor:
        try:
            account = await repos.accounts.by_email(normalise_email(where.actor))
        except InvalidEmail:
            account = None
        if account is not None:
            where = replace(where, actor=account.id)
    rows = await repos.audit.page(where, asked.limit + 1, before_id=asked.before)
    more = len(rows) > asked.limit
    rows = rows[: asked.limit]
    return rows, rows[-1].id if more else None


async def accounts_named(repos: Repositories, rows: Sequence[AuditRow]) -> dict[str, AccountRow]:
    """The accounts the entries name, as actor or as subject `account:<id>`, by id."""
    ids = {row.actor for row in rows}
    ids |= {row.subject.removeprefix("account:") for row in rows if row.subject.startswith("account:")}
    return {account.id: account for account in await repos.accounts.by_ids(ids)}


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
    asked = read_audit_params(request.query_params)
    if isinstance(asked, list):
        response = error_response(asked, 422)
    else:
        async with repositories(database(request)) as repos:
            rows, next_before = await audit_entries(repos, asked)
            named = await accounts_named(repos, rows)
        response = JSONResponse(
            {
                "items": [audit_item(row) for row in rows],
                "next_before": next_before,
                "actors": {i: {"email": a.email, "name": a.name} for i, a in named.items()},
            }
        )
    response.headers["Cache-Control"] = "no-store"
    return response


class AuditItem(BaseModel):
    actor: str = Field(description="The account id (or, for a refused sign-in, the address that was tried).")
    action: str
    subject: str = Field(description="What it was about: `edition:<slug>`, `registration:<id>`, `account:<id>`...")
    at: str
    outcome: str = Field(description="accepted, rejected or pending (sent; the service had not answered yet).")
    reason: str


class AccountName(BaseModel):
    email: str
    name: str


class AuditList(BaseModel):
    items: list[AuditItem]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page; null on the last.")
    actors: dict[str, AccountName] = Field(description="The accounts the items name (as actor or subject), by id.")


OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/audit",
        audit,
        "Het auditlogboek, nieuwste eerst, te filteren",
        "audit.read",
        "audit",
        answer=AuditList,
        answers={200: "De laatste LIMIT regels die aan de filters voldoen.", 422: "Een filter klopt niet."},
        query=(
            Query("limit", "Hoeveel regels (1 tot en met 500, standaard 50).", "integer"),
            Query("actor", "Wie: een account-id, het e-mailadres van een account, of bijvoorbeeld `cli:root`."),
            Query("action", "Welke handeling, bijvoorbeeld `ScheduleEdition` of `account.sign_in`."),
            Query("subject", "Waarover, precies: bijvoorbeeld `edition:2027-najaar` of `registration:<id>`."),
            Query("outcome", "`accepted`, `rejected` of `pending`."),
            Query("from", "Vanaf deze dag (JJJJ-MM-DD, Nederlandse tijd) of dit moment (ISO 8601 met tijdzone)."),
            Query("to", "Tot en met deze dag (JJJJ-MM-DD), of tot dit moment (ISO 8601 met tijdzone)."),
            Query("before", "Alleen regels ouder dan deze: `next_before` van de vorige bladzijde.", "integer"),
        ),
    ),
)
