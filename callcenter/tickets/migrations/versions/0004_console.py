"""the call-taker console: address, landmark, checklist and outcome on tickets; calls on hold;
desk sessions; supervisors' protocol cards

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import callcenter.tickets.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("address", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("landmark", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("checklist", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
        batch.add_column(
            sa.Column("closed_at", callcenter.tickets.models.UtcDateTime(), nullable=True)
        )
        batch.add_column(sa.Column("closed_by", sa.String(length=64), nullable=True))
    op.create_index("ix_tickets_outcome", "tickets", ["outcome"])
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("held", sa.Boolean(), nullable=False, server_default="0"))
    op.create_table(
        "desk_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(length=16), nullable=False),
        sa.Column("at", callcenter.tickets.models.UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_desk_events_extension_at", "desk_events", ["extension", "at"])
    op.create_table(
        "protocol_cards",
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("ask", sa.JSON(), nullable=False),
        sa.Column("tell", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", callcenter.tickets.models.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("category"),
    )


def downgrade() -> None:
    op.drop_table("protocol_cards")
    op.drop_index("ix_desk_events_extension_at", table_name="desk_events")
    op.drop_table("desk_events")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("held")
    op.drop_index("ix_tickets_outcome", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        for column in ("closed_by", "closed_at", "outcome", "checklist", "landmark", "address"):
            batch.drop_column(column)
