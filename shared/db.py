"""Database plumbing every service shares: engine, outbox and inbox tables, migrations on start."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from alembic import command
from alembic.config import Config
from sqlalchemy import JSON, DateTime, FromClause, Integer, LargeBinary, String, event, exc, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend (SQLite stores none, so we restore UTC on the way out)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class OutboxMixin:
    """Messages waiting to be published. Written in the same transaction as the state change that caused them."""

    __tablename__ = "outbox"

    if TYPE_CHECKING:
        # What the declarative base gives the service's concrete table class; the mixin alone has neither.
        __table__: ClassVar[FromClause]

        def __init__(self, **values: Any) -> None: ...

    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    exchange: Mapped[str] = mapped_column(String(200))
    routing_key: Mapped[str] = mapped_column(String(300))
    message_type: Mapped[str] = mapped_column(String(100))
    correlation_id: Mapped[str] = mapped_column(String(200))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class InboxMixin:
    """Ids of messages already processed. Inserted in the same transaction as the message's effect."""

    __tablename__ = "inbox"

    if TYPE_CHECKING:
        # What the declarative base gives the service's concrete table class; the mixin alone has neither.
        __table__: ClassVar[FromClause]

        def __init__(self, **values: Any) -> None: ...

    # Keyed by the message's id within its type: an id is the sender's idempotency key, and whoever may send one
    # kind of command must not be able to use up the id of another kind (an organiser's erasure, say) in advance.
    message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    message_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    # A command's digest (its body, reply_to left out, and its publisher): a repeat with the same id but another
    # digest is not a repeat but a reused id, and is refused (shared/messaging/processing.py). None for events and
    # for rows from before the digest was kept.
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # A command's outcome, so a repeated command (same message_id) gets the same answer.
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Database:
    """One service's store: an engine and a session factory."""

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = make_url(url)
        kwargs: dict[str, Any] = {}
        if self.is_postgres:
            # No pool_pre_ping: with asyncpg it costs three round trips (BEGIN, ";", ROLLBACK) on every checkout,
            # as many as the work of a small transaction. A connection the server or network has closed is
            # noticed without a round trip instead (_drop_closed); one that dies silently fails its transaction,
            # which is retried like any other failure, and SQLAlchemy then replaces the pool's connections.
            # A small pool with little overflow: two cores gain nothing from more transactions in flight, and each
            # overflow connection is opened and closed again (a server process forked each time), which a burst
            # past a small pool with a large overflow did over and over. Transactions beyond it wait for a
            # connection; replicas stay well inside the server's connection limit. The overflow is for the rare
            # session opened inside a transaction (a duplicate command's previous outcome).
            kwargs.update(pool_size=pool_size, max_overflow=2)
        else:
            Path(self.url.database or "var/x").parent.mkdir(parents=True, exist_ok=True)
            kwargs.update(connect_args={"timeout": 30})
        # hide_parameters: a database error's text (logged, kept as a dead letter's reason) would otherwise carry
        # the statement's values, names and addresses among them.
        self.engine: AsyncEngine = create_async_engine(url, hide_parameters=True, **kwargs)
        from shared.sql_statements import count_statements  # werkplaatsen_sql_statements_total, for the bench

        count_statements(self.engine)
        if self.is_postgres:
            event.listen(self.engine.sync_engine, "checkout", _drop_closed)
        if not self.is_postgres:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            # SQLite allows one writer; serialising writers in-process avoids "database is locked" churn.
            self.write_lock: asyncio.Lock | None = asyncio.Lock()
        else:
            self.write_lock = None
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    def _one_writer(self) -> AbstractAsyncContextManager[Any]:
        # SQLite allows one writer at a time: its writers take turns on the in-process lock.
        return self.write_lock if self.write_lock is not None else nullcontext()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that commits on success and rolls back on error."""
        async with self._one_writer(), self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose every statement commits at once (the outbox relay's lease and delete)."""
        async with self._one_writer(), self.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(2), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


def upsert(session: AsyncSession) -> Any:
    """The INSERT construct of the session's database, PostgreSQL's or SQLite's: both have ON CONFLICT."""
    return sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert


def _drop_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection whose socket is already closed is replaced at checkout (the pool retries on this)."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise exc.DisconnectionError("connection closed while in the pool")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(script_location: Path, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def migrate(db: Database, script_location: Path, service: str) -> None:
    """Bring the schema to head. Replicas starting together wait on a PostgreSQL advisory lock in turn."""
    cfg = alembic_config(script_location)
    lock_key = zlib.crc32(f"werkplaatsen:{service}:migrate".encode())
    async with db.engine.connect() as conn:
        if db.is_postgres:
            await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": lock_key})
        try:
            await conn.run_sync(_upgrade, cfg)
            await conn.commit()
        finally:
            if db.is_postgres:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key})
                await conn.commit()


def _upgrade(sync_connection: Any, cfg: Config) -> None:
    cfg.attributes["connection"] = sync_connection
    command.upgrade(cfg, "head")
