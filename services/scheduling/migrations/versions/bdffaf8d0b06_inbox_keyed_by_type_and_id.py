"""inbox keyed by message type and id, with the command's digest

An id used by one type of message no longer takes it from another type (a participant's command cannot use up the
id of an organiser's erasure), and a command's digest tells a repeat from a reused id with another body
(shared/messaging/processing.py). Rows that exist keep their key and get no digest: they count as repeats.

Revision ID: bdffaf8d0b06
Revises: c4e2a9d17b35
Create Date: 2026-12-04 19:00:00.000000
"""

from shared.migrations import inbox_keyed_by_id, inbox_keyed_by_type_and_id

revision = "bdffaf8d0b06"
down_revision = "c4e2a9d17b35"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inbox_keyed_by_type_and_id()


def downgrade() -> None:
    inbox_keyed_by_id()
