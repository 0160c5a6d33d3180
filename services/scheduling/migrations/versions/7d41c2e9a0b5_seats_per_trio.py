"""seats per trio

A session's seating as one row per trio (seats) and per table how many sit there (seating_tables), instead of
the whole plan as one JSON value on the session: a trio joining a table then writes its own rows. The plans
that exist move over; the rank index lets an admitted trio find its place on the waitlist in one step, and
the edition row counts its places (`placed`) so admitting a trio does not count them.

Revision ID: 7d41c2e9a0b5
Revises: bdffaf8d0b06
Create Date: 2026-12-06 21:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "7d41c2e9a0b5"
down_revision = "bdffaf8d0b06"
branch_labels = None
depends_on = None

sessions = sa.table(
    "sessions", sa.column("edition", sa.String), sa.column("number", sa.Integer), sa.column("tables", sa.JSON)
)


def upgrade() -> None:
    seats = op.create_table(
        "seats",
        sa.Column("edition", sa.String(length=64), nullable=False),
        sa.Column("session_number", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.String(length=64), nullable=False),
        sa.Column("table_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["edition"], ["editions.slug"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("edition", "session_number", "registration_id"),
    )
    op.create_index("ix_seats_table", "seats", ["edition", "session_number", "table_number"])
    counts = op.create_table(
        "seating_tables",
        sa.Column("edition", sa.String(length=64), nullable=False),
        sa.Column("session_number", sa.Integer(), nullable=False),
        sa.Column("table_number", sa.Integer(), nullable=False),
        sa.Column("seated", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["edition"], ["editions.slug"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("edition", "session_number", "table_number"),
    )
    op.create_index("ix_seating_tables_room", "seating_tables", ["edition", "session_number", "seated"])
    op.create_index("ix_waitlist_rank", "waitlist", ["edition", "priority", "registered_at", "registration_id"])
    bind = op.get_bind()
    seat_rows, table_rows = [], []
    for edition, number, tables in bind.execute(sa.select(sessions).where(sessions.c.tables.is_not(None))):
        for table_number, table in enumerate(tables or [], start=1):
            table_rows.append(
                {"edition": edition, "session_number": number, "table_number": table_number, "seated": len(table)}
            )
            seat_rows += [
                {"edition": edition, "session_number": number, "registration_id": rid, "table_number": table_number}
                for rid in table
            ]
    if seat_rows:
        op.bulk_insert(seats, seat_rows)
    if table_rows:
        op.bulk_insert(counts, table_rows)
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("tables")
    op.add_column("editions", sa.Column("placed", sa.Integer(), nullable=False, server_default="0"))
    placements = sa.table("placements", sa.column("edition", sa.String))
    editions = sa.table("editions", sa.column("slug", sa.String), sa.column("placed", sa.Integer))
    count = sa.select(sa.func.count()).where(placements.c.edition == editions.c.slug).scalar_subquery()
    bind.execute(sa.update(editions).values(placed=count))


def downgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("placed")
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("tables", sa.JSON(), nullable=True))
    bind = op.get_bind()
    seats = sa.table(
        "seats",
        sa.column("edition", sa.String),
        sa.column("session_number", sa.Integer),
        sa.column("registration_id", sa.String),
        sa.column("table_number", sa.Integer),
    )
    plans: dict[tuple[str, int], dict[int, list[str]]] = {}
    query = sa.select(seats).order_by(seats.c.edition, seats.c.session_number, seats.c.table_number)
    for edition, number, rid, table_number in bind.execute(query):
        plans.setdefault((edition, number), {}).setdefault(table_number, []).append(rid)
    for (edition, number), tables in plans.items():
        bind.execute(
            sa.update(sessions)
            .where(sessions.c.edition == edition, sessions.c.number == number)
            .values(tables=[tables[n] for n in sorted(tables)])
        )
    op.drop_index("ix_waitlist_rank", table_name="waitlist")
    op.drop_table("seating_tables")
    op.drop_table("seats")
