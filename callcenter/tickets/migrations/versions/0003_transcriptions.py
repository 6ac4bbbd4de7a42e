"""recordings transcribed after the call: the durable queue and its results

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import callcenter.tickets.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("unique_id", sa.String(length=64), nullable=False),
        sa.Column("recording_path", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", callcenter.tickets.models.UtcDateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("created_at", callcenter.tickets.models.UtcDateTime(), nullable=False),
        sa.Column("finished_at", callcenter.tickets.models.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unique_id"),
    )
    op.create_index("ix_transcriptions_ticket_id", "transcriptions", ["ticket_id"])
    op.create_index("ix_transcriptions_due", "transcriptions", ["status", "next_try_at"])


def downgrade() -> None:
    op.drop_index("ix_transcriptions_due", table_name="transcriptions")
    op.drop_index("ix_transcriptions_ticket_id", table_name="transcriptions")
    op.drop_table("transcriptions")
