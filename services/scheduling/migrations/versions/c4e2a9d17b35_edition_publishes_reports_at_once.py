"""edition publishes reports at once

The edition's setting for reporting (`publish_reports_at_once`); editions that exist keep today's default, off.

Revision ID: c4e2a9d17b35
Revises: a1732ffbcd3c
Create Date: 2026-12-02 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "c4e2a9d17b35"
down_revision = "a1732ffbcd3c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "editions", sa.Column("publish_reports_at_once", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("publish_reports_at_once")
