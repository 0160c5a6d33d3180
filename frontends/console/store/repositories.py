"""The console's repositories on one SQLAlchemy session (the caller's transaction): accounts, access tokens and
the audit log. The handlers (accounts.py) see them through the protocols there; tests may hand them fakes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
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
