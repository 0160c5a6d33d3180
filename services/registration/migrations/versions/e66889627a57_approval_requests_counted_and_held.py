"""approval requests counted and held

Revision ID: e66889627a57
Revises: 6636837baa4f
Create Date: 2026-12-04 18:30:00
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "e66889627a57"
down_revision = "6636837baa4f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("registration_id", sa.String(length=36), nullable=False),
        sa.Column("approver_email", sa.String(length=320), nullable=False),
        sa.Column("client", sa.String(length=320), nullable=True),
        sa.Column("requested_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("released_at", shared.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.create_index("ix_approval_requests_approver_at", ["approver_email", "requested_at"], unique=False)
        batch_op.create_index("ix_approval_requests_client_at", ["client", "requested_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_approval_requests_registration_id"), ["registration_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_requests_registration_id"))
        batch_op.drop_index("ix_approval_requests_client_at")
        batch_op.drop_index("ix_approval_requests_approver_at")
    op.drop_table("approval_requests")
