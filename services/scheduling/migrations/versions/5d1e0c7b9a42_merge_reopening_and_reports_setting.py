"""merge: places by hand and reopening (2f9e83627f28) with the edition's reports setting (c4e2a9d17b35)

Both were made on the same parent in parallel; their columns are independent, so the merge changes nothing.

Revision ID: 5d1e0c7b9a42
Revises: 2f9e83627f28, c4e2a9d17b35
Create Date: 2026-12-03 14:00:00.000000
"""

revision = "5d1e0c7b9a42"
down_revision = ("2f9e83627f28", "c4e2a9d17b35")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
