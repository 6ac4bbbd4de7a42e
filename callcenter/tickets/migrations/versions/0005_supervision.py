"""supervisors: restrictions of prank callers and their audit trail

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import callcenter.tickets.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "restrictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", callcenter.tickets.models.UtcDateTime(), nullable=False),
        sa.Column("until", callcenter.tickets.models.UtcDateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(length=64), nullable=True),
        sa.Column("lifted_at", callcenter.tickets.models.UtcDateTime(), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_restrictions_number", "restrictions", ["number"])
    op.create_table(
        "restriction_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("restriction_id", sa.Integer(), nullable=False),
        sa.Column("at", callcenter.tickets.models.UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["restriction_id"], ["restrictions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_restriction_events_restriction_id", "restriction_events", ["restriction_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_restriction_events_restriction_id", table_name="restriction_events")
    op.drop_table("restriction_events")
    op.drop_index("ix_restrictions_number", table_name="restrictions")
    op.drop_table("restrictions")
