"""the agency loop: each ticket's assignment to an agency, its statuses and next deadline

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

import callcenter.tickets.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", callcenter.tickets.models.UtcDateTime(), nullable=False),
        sa.Column("acknowledged_at", callcenter.tickets.models.UtcDateTime(), nullable=True),
        sa.Column("en_route_at", callcenter.tickets.models.UtcDateTime(), nullable=True),
        sa.Column("on_scene_at", callcenter.tickets.models.UtcDateTime(), nullable=True),
        sa.Column("cleared_at", callcenter.tickets.models.UtcDateTime(), nullable=True),
        sa.Column("declined_at", callcenter.tickets.models.UtcDateTime(), nullable=True),
        sa.Column("moved_by", sa.String(length=64), nullable=False),
        sa.Column("moved_at", callcenter.tickets.models.UtcDateTime(), nullable=False),
        sa.Column("disposition", sa.Text(), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("deadline", sa.String(length=16), nullable=True),
        sa.Column("deadline_at", callcenter.tickets.models.UtcDateTime(), nullable=True),
        sa.Column("deadline_step", sa.Integer(), nullable=True),
        sa.Column("escalated_deadline", sa.String(length=16), nullable=True),
        sa.Column("escalation_step", sa.Integer(), nullable=False),
        sa.Column("escalated_at", callcenter.tickets.models.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_assignments_ticket_agency", "assignments", ["ticket_id", "agency"])
    op.create_index("ix_assignments_agency_status", "assignments", ["agency", "status"])
    op.create_index("ix_assignments_deadline_at", "assignments", ["deadline_at"])


def downgrade() -> None:
    op.drop_index("ix_assignments_deadline_at", table_name="assignments")
    op.drop_index("ix_assignments_agency_status", table_name="assignments")
    op.drop_index("ix_assignments_ticket_agency", table_name="assignments")
    op.drop_table("assignments")
