"""reminders keep when their table was decided

A trio placed after the allocation is seated on its own (scheduling.TrioSeated), and its seats may arrive before or
after a whole plan of the same session: a reminder keeps the time of the seating that gave it its table, so one
delivered late does not overwrite a newer table. Reminders planned before have none: any seating is newer.

Revision ID: b1d7e2a9c4f3
Revises: 633cc8e0ccc1
Create Date: 2026-12-06 21:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "b1d7e2a9c4f3"
down_revision = "633cc8e0ccc1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seated_at", shared.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_column("seated_at")
