"""admin: the last TOTP step and a session generation per account; the audit log's filter indexes

Revision ID: aabffd352711
Revises: 57304593864e
Create Date: 2026-12-04 09:00:00.000000

From the console's admin pages (branch conadmin). The single-column indexes on actor and action give way to
(actor, id) and (action, id): the same lookups, and newest-first pages of one actor or action read in index order.
"""

import sqlalchemy as sa
from alembic import op

revision = "aabffd352711"
down_revision = "57304593864e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False))

    # Plain index statements for the audit log, no batch: a batch copy of the table on SQLite would drop its
    # append-only triggers with the old table.
    op.drop_index("ix_audit_log_actor", table_name="audit_log")
    op.drop_index("ix_audit_log_action", table_name="audit_log")
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor", "id"], unique=False)
    op.create_index("ix_audit_log_action_id", "audit_log", ["action", "id"], unique=False)
    op.create_index("ix_audit_log_subject_id", "audit_log", ["subject", "id"], unique=False)
    op.create_index("ix_audit_log_outcome_id", "audit_log", ["outcome", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_log_outcome_id", table_name="audit_log")
    op.drop_index("ix_audit_log_subject_id", table_name="audit_log")
    op.drop_index("ix_audit_log_action_id", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_id", table_name="audit_log")
    op.create_index("ix_audit_log_action", "audit_log", ["action"], unique=False)
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"], unique=False)

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("session_generation")
        batch_op.drop_column("totp_last_step")
