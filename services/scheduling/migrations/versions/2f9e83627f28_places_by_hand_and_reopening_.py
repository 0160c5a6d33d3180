"""places by hand and reopening registration

An organiser's reason beside a place or a waitlist entry given by hand, and the closing moment as scheduled
while registration is closed early (for ReopenRegistration). All nullable: existing rows need no value.

Revision ID: 2f9e83627f28
Revises: a1732ffbcd3c
Create Date: 2026-12-03 13:24:28.163376
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "2f9e83627f28"
down_revision = "a1732ffbcd3c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned_closes_at", shared.db.UtcDateTime(timezone=True), nullable=True))

    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hand_reason", sa.String(length=2000), nullable=True))

    with op.batch_alter_table("waitlist", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hand_reason", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("waitlist", schema=None) as batch_op:
        batch_op.drop_column("hand_reason")

    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.drop_column("hand_reason")

    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("planned_closes_at")
