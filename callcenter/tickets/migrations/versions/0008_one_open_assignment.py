"""the agency loop: at most one open assignment per ticket and agency

Two assigns at the same moment (two targets of one dispatch, a call-taker and an overflow) both
read "none open" and both inserted. The partial unique index makes the second insert fail, and
the repository then returns the first (routing/assignments.py).

A database that already has such twins keeps one: the one the agency moved furthest (the first
made among equals). The others are removed; every change of theirs stays in the ticket's events.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# As in tickets/models.py (OPEN_ASSIGNMENT), written out: a migration stays as it was made.
OPEN = "status NOT IN ('cleared', 'declined')"
CLOSED = ("cleared", "declined")
# How far an open assignment has gone (routing/agency_loop.py's PATH).
PROGRESS = {"assigned": 0, "acknowledged": 1, "en-route": 2, "on-scene": 3}


def upgrade() -> None:
    connection = op.get_bind()
    assignments = sa.table(
        "assignments",
        sa.column("id"),
        sa.column("ticket_id"),
        sa.column("agency"),
        sa.column("status"),
    )
    columns = assignments.c
    rows = connection.execute(
        sa.select(columns.id, columns.ticket_id, columns.agency, columns.status).where(
            columns.status.not_in(CLOSED)
        )
    ).all()
    twins: dict[tuple[int, str], list[tuple[int, str]]] = {}
    for id_, ticket_id, agency, status in rows:
        twins.setdefault((ticket_id, agency), []).append((id_, status))
    for found in twins.values():
        found.sort(key=lambda row: (-PROGRESS.get(row[1], 0), row[0]))
        for id_, _status in found[1:]:
            connection.execute(sa.delete(assignments).where(columns.id == id_))
    op.create_index(
        "ux_assignments_open",
        "assignments",
        ["ticket_id", "agency"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ux_assignments_open", table_name="assignments")
