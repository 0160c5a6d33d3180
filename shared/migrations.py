"""The body of every service's Alembic env.py: run migrations on the connection handed over by `shared.db.migrate`."""

from __future__ import annotations

import asyncio
import warnings

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import create_async_engine


def run_env(metadata: MetaData) -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection, metadata)
        return
    # Invoked by `werkplaatsen db revision`: open our own connection from sqlalchemy.url.
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("the Alembic config has no sqlalchemy.url to run the migrations on")

    async def run_async() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(_run, metadata)
        await engine.dispose()

    asyncio.run(run_async())


def _run(connection: Connection, metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


# Steps of the shared outbox/inbox tables (shared/db.py) that every store's history takes at the same point. A
# revision that ran calls them for ever: change one only by adding another.


def inbox_keyed_by_type_and_id() -> None:
    """The inbox's key becomes (message_id, message_type), with a nullable `digest` of the command."""
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot change a primary key in place: batch mode copies the table into one with the new key.
        # SQLAlchemy warns that the copied message_id column still says primary_key while the new key has two
        # columns; the new key is the one meant, so the warning says nothing here.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*_alembic_tmp_inbox.*primary_key", category=sa.exc.SAWarning)
            with op.batch_alter_table("inbox", recreate="always") as batch:
                batch.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
                batch.create_primary_key("inbox_pkey", ["message_id", "message_type"])
    else:
        op.add_column("inbox", sa.Column("digest", sa.String(length=64), nullable=True))
        op.drop_constraint("inbox_pkey", "inbox", type_="primary")
        op.create_primary_key("inbox_pkey", "inbox", ["message_id", "message_type"])


def inbox_keyed_by_id() -> None:
    """inbox_keyed_by_type_and_id undone."""
    # Back to one row per id: of an id used by several types, the first processed stays.
    op.execute(
        "DELETE FROM inbox WHERE EXISTS (SELECT 1 FROM inbox AS earlier WHERE earlier.message_id = inbox.message_id"
        " AND (earlier.processed_at, earlier.message_type) < (inbox.processed_at, inbox.message_type))"
    )
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("inbox", recreate="always") as batch:
            batch.drop_column("digest")
            batch.create_primary_key("inbox_pkey", ["message_id"])
    else:
        op.drop_constraint("inbox_pkey", "inbox", type_="primary")
        op.create_primary_key("inbox_pkey", "inbox", ["message_id"])
        op.drop_column("inbox", "digest")
