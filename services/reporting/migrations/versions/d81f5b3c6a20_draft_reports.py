"""draft reports

A session's report is a draft until an organiser publishes it (`published_at`); `marks` keeps where its stored
text was changed, for the preview. Reports that exist were published as they were stored, so they count as
published then. The edition copy learns whether its reports are published at once.

Revision ID: d81f5b3c6a20
Revises: b6f670199754
Create Date: 2026-12-02 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "d81f5b3c6a20"
down_revision = "b6f670199754"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("session_reports", sa.Column("published_at", shared.db.UtcDateTime(timezone=True), nullable=True))
    op.add_column("session_reports", sa.Column("marks", sa.JSON(), nullable=True))
    op.execute("UPDATE session_reports SET published_at = completed_at")
    op.add_column(
        "editions", sa.Column("publish_reports_at_once", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("publish_reports_at_once")
    with op.batch_alter_table("session_reports") as batch:
        batch.drop_column("marks")
        batch.drop_column("published_at")
