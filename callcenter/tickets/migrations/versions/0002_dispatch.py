"""dispatches to agencies; who answered a call and the conference it is in

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import callcenter.tickets.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch_op:
        batch_op.add_column(sa.Column("calltaker", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("calltaker_channel", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("conference", sa.String(length=64), nullable=True))
    op.create_table(
        "dispatches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("unique_id", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("leg_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("rung_at", callcenter.tickets.models.UtcDateTime(), nullable=False),
        sa.Column("answered_at", callcenter.tickets.models.UtcDateTime(), nullable=True),
        sa.Column("ended_at", callcenter.tickets.models.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("leg_id"),
    )
    op.create_index("ix_dispatches_ticket_id", "dispatches", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_dispatches_ticket_id", table_name="dispatches")
    op.drop_table("dispatches")
    with op.batch_alter_table("calls") as batch_op:
        batch_op.drop_column("conference")
        batch_op.drop_column("calltaker_channel")
        batch_op.drop_column("calltaker")
