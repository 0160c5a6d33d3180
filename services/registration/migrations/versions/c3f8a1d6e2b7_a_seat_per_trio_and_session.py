"""a seat per trio and session

Registration kept each session's whole seating plan as one JSON document (seating_plans.tables): seating one trio
placed after the allocation (scheduling.TrioSeated) rewrote the document of every session. Each trio now has a row
per session (seats), decided at seated_at; seating_plans keeps only when the session was last planned whole, so a
trio's seats delivered after a newer whole plan change nothing. The plans stored move into seats, each seat decided
when its plan was.

Revision ID: c3f8a1d6e2b7
Revises: 4cb5bdcc13e4
Create Date: 2026-12-06 21:45:00.000000
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "c3f8a1d6e2b7"
down_revision = "4cb5bdcc13e4"
branch_labels = None
depends_on = None

plans = sa.table(
    "seating_plans",
    sa.column("edition", sa.String),
    sa.column("session_number", sa.Integer),
    sa.column("tables", sa.JSON),
    sa.column("planned_at", shared.db.UtcDateTime(timezone=True)),
)
seats = sa.table(
    "seats",
    sa.column("registration_id", sa.String),
    sa.column("session_number", sa.Integer),
    sa.column("edition", sa.String),
    sa.column("table_number", sa.Integer),
    sa.column("seated_at", shared.db.UtcDateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "seats",
        sa.Column("registration_id", sa.String(length=64), nullable=False),
        sa.Column("session_number", sa.Integer(), nullable=False),
        sa.Column("edition", sa.String(length=64), nullable=False),
        sa.Column("table_number", sa.Integer(), nullable=False),
        sa.Column("seated_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("registration_id", "session_number"),
    )
    with op.batch_alter_table("seats", schema=None) as batch_op:
        batch_op.create_index("ix_seats_edition_session", ["edition", "session_number"], unique=False)
    connection = op.get_bind()
    for plan in connection.execute(sa.select(plans)).all():
        rows = [
            {
                "registration_id": registration_id,
                "session_number": plan.session_number,
                "edition": plan.edition,
                "table_number": table,
                "seated_at": plan.planned_at,
            }
            for registration_id, table in plan.tables.items()
        ]
        if rows:
            op.bulk_insert(seats, rows)
    with op.batch_alter_table("seating_plans", schema=None) as batch_op:
        batch_op.drop_column("tables")
        batch_op.alter_column(
            "planned_at", existing_type=shared.db.UtcDateTime(timezone=True), existing_nullable=False, nullable=True
        )


def downgrade() -> None:
    with op.batch_alter_table("seating_plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tables", sa.JSON(), nullable=True))
    connection = op.get_bind()
    # A plan per session again, from the seats; a session only ever seated trio by trio gets its latest seat's time.
    tables: dict[tuple[str, int], dict[str, int]] = {}
    latest: dict[tuple[str, int], datetime] = {}
    for seat in connection.execute(sa.select(seats)).all():
        key = (seat.edition, seat.session_number)
        tables.setdefault(key, {})[seat.registration_id] = seat.table_number
        latest[key] = max(latest.get(key, seat.seated_at), seat.seated_at)
    planned = {
        (plan.edition, plan.session_number): plan.planned_at
        for plan in connection.execute(sa.select(plans.c.edition, plans.c.session_number, plans.c.planned_at))
    }
    connection.execute(sa.delete(plans))
    for key in planned.keys() | tables.keys():
        at = planned.get(key) or latest.get(key)
        if at is not None:
            connection.execute(
                sa.insert(plans).values(
                    edition=key[0], session_number=key[1], tables=tables.get(key, {}), planned_at=at
                )
            )
    with op.batch_alter_table("seating_plans", schema=None) as batch_op:
        batch_op.alter_column("tables", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column(
            "planned_at", existing_type=shared.db.UtcDateTime(timezone=True), existing_nullable=True, nullable=False
        )
    with op.batch_alter_table("seats", schema=None) as batch_op:
        batch_op.drop_index("ix_seats_edition_session")
    op.drop_table("seats")
