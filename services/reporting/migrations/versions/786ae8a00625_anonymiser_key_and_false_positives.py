"""anonymiser key and false positives

Reporting's own key for name digests (the row is made at the service's first start: adapters/anonymiser_store.py
name_key), and the organisers' false positives per edition.

Revision ID: 786ae8a00625
Revises: d81f5b3c6a20
Create Date: 2026-12-04 19:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "786ae8a00625"
down_revision = "d81f5b3c6a20"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "name_keys",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("created_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "false_positives",
        sa.Column("edition", sa.String(length=64), nullable=False),
        sa.Column("phrase", sa.String(length=200), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=True),
        sa.Column("added_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("edition", "phrase"),
    )


def downgrade() -> None:
    op.drop_table("false_positives")
    op.drop_table("name_keys")
