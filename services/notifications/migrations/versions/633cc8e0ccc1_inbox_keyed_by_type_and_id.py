"""inbox keyed by message type and id, with the command's digest

An id used by one type of message no longer takes it from another type (a participant's command cannot use up the
id of an organiser's erasure), and a command's digest tells a repeat from a reused id with another body
(shared/messaging/processing.py). Rows that exist keep their key and get no digest: they count as repeats.

Revision ID: 633cc8e0ccc1
Revises: 7430abecbd06
Create Date: 2026-12-04 19:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "633cc8e0ccc1"
down_revision = "7430abecbd06"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot change a primary key in place: batch mode copies the table into one with the new key.
        with op.batch_alter_table("inbox", recreate="always") as batch:
            batch.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
            batch.create_primary_key("inbox_pkey", ["message_id", "message_type"])
    else:
        op.add_column("inbox", sa.Column("digest", sa.String(length=64), nullable=True))
        op.drop_constraint("inbox_pkey", "inbox", type_="primary")
        op.create_primary_key("inbox_pkey", "inbox", ["message_id", "message_type"])


def downgrade() -> None:
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
