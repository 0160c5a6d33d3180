"""The console's own store: its tables (tables.py), repositories (repositories.py) and Alembic history
(../migrations), opened at head by `open_store`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.db import Database, migrate

from ..domain import AccountRefused
from .drafts import SqlCheckin, SqlNotesDrafts
from .repositories import AuditQuery, SqlAccounts, SqlAudit, SqlTokens
from .tables import AccessTokenRow, AccountRow, AuditRow, Base, CheckinMarkRow, CheckinTapRow, NotesDraftRow

MIGRATIONS = Path(__file__).parent.parent / "migrations"

__all__ = [
    "MIGRATIONS",
    "AccessTokenRow",
    "AccountRow",
    "AuditQuery",
    "AuditRow",
    "Base",
    "CheckinMarkRow",
    "CheckinTapRow",
    "NotesDraftRow",
    "Repositories",
    "SqlAccounts",
    "SqlAudit",
    "SqlCheckin",
    "SqlNotesDrafts",
    "SqlTokens",
    "open_store",
    "repositories",
]


@dataclass(frozen=True)
class Repositories:
    accounts: SqlAccounts
    tokens: SqlTokens
    audit: SqlAudit
    checkin: SqlCheckin
    notes: SqlNotesDrafts


async def open_store(url: str) -> Database:
    """The console's database, migrated to head (replicas take turns on PostgreSQL's advisory lock)."""
    db = Database(url)
    await migrate(db, MIGRATIONS, "console")
    return db


@asynccontextmanager
async def repositories(db: Database) -> AsyncIterator[Repositories]:
    """The repositories in one transaction: it commits when the block ends without an error, and when it
    ends in AccountRefused (which a handler raises having changed nothing but the audit entry of the refusal)."""
    refused: AccountRefused | None = None
    async with db.transaction() as session:
        try:
            yield Repositories(
                SqlAccounts(session),
                SqlTokens(session),
                SqlAudit(session),
                SqlCheckin(session),
                SqlNotesDrafts(session),
            )
        except AccountRefused as exc:
            refused = exc
    if refused is not None:
        raise refused
