"""The approval requests made, counted per approver address and per registering client (domain.approval_held)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..approval_limits import ApprovalRequestCounts, HeldApprovalRequest
from .tables import ApprovalRequestRow


class SqlApprovalRequests:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def counts(self, approver_email: str, client: str | None, since: datetime) -> ApprovalRequestCounts:
        """The requests mailed (not held) since `since`; two index range counts, whatever the edition's size."""
        mailed = (ApprovalRequestRow.requested_at >= since) & ApprovalRequestRow.held.is_(False)
        to_approver = await self.session.scalar(
            select(func.count()).where(ApprovalRequestRow.approver_email == approver_email.lower(), mailed)
        )
        from_client = (
            await self.session.scalar(select(func.count()).where(ApprovalRequestRow.client == client, mailed))
            if client
            else 0
        )
        return ApprovalRequestCounts(to_approver=to_approver or 0, from_client=from_client or 0)

    async def add(
        self, registration_id: str, approver_email: str, client: str | None, at: datetime, *, held: bool
    ) -> None:
        self.session.add(
            ApprovalRequestRow(
                registration_id=registration_id,
                approver_email=approver_email.lower(),
                client=client,
                requested_at=at,
                held=held,
            )
        )

    async def release(self, registration_id: str, at: datetime) -> None:
        """The registration's held requests are no longer held: an organiser sent a new one."""
        await self.session.execute(
            update(ApprovalRequestRow)
            .where(
                ApprovalRequestRow.registration_id == registration_id,
                ApprovalRequestRow.held.is_(True),
                ApprovalRequestRow.released_at.is_(None),
            )
            .values(released_at=at)
        )

    async def held(self, limit: int = 500) -> list[HeldApprovalRequest]:
        """The requests still held, oldest first (for the organisers' list)."""
        rows = await self.session.execute(
            select(ApprovalRequestRow.registration_id, ApprovalRequestRow.requested_at)
            .where(ApprovalRequestRow.held.is_(True), ApprovalRequestRow.released_at.is_(None))
            .order_by(ApprovalRequestRow.requested_at, ApprovalRequestRow.id)
            .limit(limit)
        )
        return [HeldApprovalRequest(registration_id=r, requested_at=at) for r, at in rows]

    async def forget(self, registration_id: str) -> None:
        """With the registration's personal data the approver's address goes too."""
        await self.session.execute(
            delete(ApprovalRequestRow).where(ApprovalRequestRow.registration_id == registration_id)
        )
