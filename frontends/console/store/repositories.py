"""The console's repositories on one SQLAlchemy session (the caller's transaction): accounts, access tokens and
the audit log. The handlers (accounts.py) see them through the protocols there; tests may hand them fakes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .tables import AccessTokenRow, AccountRow, AuditRow


class SqlAccounts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_email(self, email: str) -> AccountRow | None:
        result = await self.session.execute(select(AccountRow).where(AccountRow.email == email))
        return result.scalar_one_or_none()

    async def get(self, account_id: str) -> AccountRow | None:
        return await self.session.get(AccountRow, account_id)

    async def add(self, account: AccountRow) -> None:
        self.session.add(account)
        await self.session.flush()

    async def save(self, account: AccountRow) -> None:
        # The row is the session's own: its changes are written at flush; flushing now surfaces a conflict here.
        await self.session.flush()

    async def all(self) -> Sequence[AccountRow]:
        return (await self.session.execute(select(AccountRow).order_by(AccountRow.email))).scalars().all()

    async def by_ids(self, account_ids: Collection[str]) -> Sequence[AccountRow]:
        if not account_ids:
            return []
        query = select(AccountRow).where(AccountRow.id.in_(sorted(set(account_ids))))
        return (await self.session.execute(query)).scalars().all()

    async def claim_totp_step(self, account: AccountRow, step: int) -> bool:
        """Record STEP as the account's last used TOTP step unless that step (or a later one) was used already.
        One conditional UPDATE: of two sign-ins with the same code at once, only one gets the row."""
        claimed = await self.session.execute(
            update(AccountRow)
            .where(AccountRow.id == account.id)
            .where(or_(AccountRow.totp_last_step.is_(None), AccountRow.totp_last_step < step))
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        account.totp_last_step = step
        await self.session.flush()
        return True


class SqlTokens:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: AccessTokenRow) -> None:
        self.session.add(token)
        await self.session.flush()

    async def by_hash(self, token_hash: str) -> AccessTokenRow | None:
        result = await self.session.execute(select(AccessTokenRow).where(AccessTokenRow.token_hash == token_hash))
        return result.scalar_one_or_none()

    async def get(self, token_id: str) -> AccessTokenRow | None:
        return await self.session.get(AccessTokenRow, token_id)

    async def of_account(self, account_id: str) -> Sequence[AccessTokenRow]:
        query = (
            select(AccessTokenRow)
            .where(AccessTokenRow.account_id == account_id)
            .order_by(AccessTokenRow.created_at, AccessTokenRow.id)
        )
        return (await self.session.execute(query)).scalars().all()

    async def save(self, token: AccessTokenRow) -> None:
        await self.session.flush()

    async def all(self) -> Sequence[AccessTokenRow]:
        """Every account's tokens (the organisers' overview): a handful per account, never many."""
        query = select(AccessTokenRow).order_by(AccessTokenRow.created_at, AccessTokenRow.id)
        return (await self.session.execute(query)).scalars().all()


@dataclass(frozen=True)
class AuditQuery:
    """Which entries of the log a page shows: each field given narrows it (equality, or the moment range)."""

    actor: str | None = None
    action: str | None = None
    subject: str | None = None
    outcome: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


class SqlAudit:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, entry: AuditRow) -> None:
        self.session.add(entry)
        await self.session.flush()

    async def recent(self, limit: int = 100, *, before: datetime | None = None) -> Sequence[AuditRow]:
        """Newest first."""
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if before is not None:
            query = query.where(AuditRow.at < before)
        return (await self.session.execute(query)).scalars().all()

    async def page(self, where: AuditQuery, limit: int, *, before_id: int | None = None) -> Sequence[AuditRow]:
        """Up to LIMIT entries matching WHERE, newest first, older than the entry BEFORE_ID when given (keyset
        paging: the next page starts below the last id shown, so entries written meanwhile shift nothing)."""
        return (await self.session.execute(audit_page_query(where, limit, before_id))).scalars().all()


def audit_page_query(where: AuditQuery, limit: int, before_id: int | None = None) -> Select[AuditRow]:
    """Each equality has its (column, id) index (tables.AuditRow), which yields its rows newest first; the
    moments have the index on `at`; without a filter the primary key is read backwards. No page reads the log."""
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    for column, value in (
        (AuditRow.actor, where.actor),
        (AuditRow.action, where.action),
        (AuditRow.subject, where.subject),
        (AuditRow.outcome, where.outcome),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.since is not None:
        query = query.where(AuditRow.at >= where.since)
    if where.until is not None:
        query = query.where(AuditRow.at < where.until)
    if before_id is not None:
        query = query.where(AuditRow.id < before_id)
    return query
