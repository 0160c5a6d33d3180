"""Step 3 of the two-phase send (package docstring): the handoff row (transaction B) and the terminator, as close
together as two writes can be; and what a later claim makes of a handoff row it finds."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from shared.db import Database

from ..delivery import Handoff
from ..domain import Mail
from ..store import HandoffRow

log = structlog.get_logger()

_HANDOFF_INSERT = (
    "INSERT INTO mail_handoffs (notification_id, handed_at) "
    "VALUES ('{notification_id}'::uuid, '{handed_at}'::timestamptz)"
)


class Handoffs:
    """Records that a mail is handed over, then tells the server to take it."""

    def __init__(self, db: Database, clock: Callable[[], datetime], *, pool_size: int) -> None:
        self.db = db
        self.clock = clock
        self.pool_size = pool_size
        self._engine: AsyncEngine | None = None

    async def hand_over(self, mail: Mail, handoff: Handoff) -> None:
        """Transaction B (the handoff row) and the terminator."""
        handoff.expect_reply()
        handed_at = self.clock()
        if not self.db.is_postgres:
            async with self.db.transaction() as session:
                await session.execute(
                    insert(HandoffRow).values(notification_id=uuid.UUID(mail.notification_id), handed_at=handed_at)
                )
            handoff.terminate()
            return
        async with self._connection() as driver:
            loop = asyncio.get_running_loop()
            # An autocommit INSERT (the simple query protocol: no transaction, no round trip before it) whose
            # task's first step writes it to the socket; the terminator is the very next callback on the loop.
            statement = _HANDOFF_INSERT.format(
                notification_id=uuid.UUID(mail.notification_id), handed_at=handed_at.isoformat()
            )
            inserting = loop.create_task(driver.execute(statement))
            terminated = loop.create_future()
            loop.call_soon(_terminate_after_write, inserting, handoff, terminated)
            try:
                # Shielded: a shutdown arriving now must not take back a handoff the server may already act on.
                await asyncio.shield(inserting)
            except Exception:
                if not (terminated.done() and terminated.result()):
                    raise  # neither row nor terminator: the caller aborts, the server discards the message
                # The server has the terminator but the row may be missing: A records the outcome all the same.
                log.warning("mail_handoff_not_recorded", notification_id=mail.notification_id, kind=mail.kind)

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        # Its own pool, without reset on return and in autocommit: A stays open (and keeps its row lock) on its
        # connection, and B costs exactly one statement. B takes a millisecond of a mail's whole conversation, so
        # a few connections serve every worker (a worker waits for one before it writes anything).
        if self._engine is None:
            self._engine = create_async_engine(
                self.db.url,
                isolation_level="AUTOCOMMIT",
                pool_size=self.pool_size,
                max_overflow=0,
                pool_reset_on_return=None,
            )
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            try:
                yield raw.driver_connection
            except BaseException:
                # The driver's errors bypass SQLAlchemy, which therefore never learns that a connection died
                # (a database restart, a cut network): without this, a dead connection would go back to the
                # pool and fail every handoff after the outage.
                await connection.invalidate()
                raise

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


def _terminate_after_write(inserting: asyncio.Task[Any], handoff: Handoff, terminated: asyncio.Future[bool]) -> None:
    """Runs right after the INSERT task's first step. If that step failed, nothing is handed over."""
    if inserting.done() and (inserting.cancelled() or inserting.exception() is not None):
        terminated.set_result(False)
        return
    try:
        handoff.terminate()
    except Exception:
        terminated.set_result(False)
        return
    terminated.set_result(True)


async def handed_over(session: AsyncSession, mail: Mail) -> bool:
    found = await session.get(HandoffRow, uuid.UUID(mail.notification_id))
    if found is not None:
        log_recovery(mail)
    return found is not None


def log_recovery(mail: Mail) -> None:
    log.info("mail_handed_over_before_crash", notification_id=mail.notification_id, kind=mail.kind)


async def forget_handoff(session: AsyncSession, mail: Mail) -> None:
    await session.execute(delete(HandoffRow).where(HandoffRow.notification_id == uuid.UUID(mail.notification_id)))
