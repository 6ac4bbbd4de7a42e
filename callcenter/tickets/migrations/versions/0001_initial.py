"""calls, tickets, ticket events, users, sessions

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

import callcenter.tickets.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("caller_name", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("where", sa.Text(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("kecamatan", sa.String(length=64), nullable=True),
        sa.Column("kelurahan", sa.String(length=64), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=False),
        sa.Column("transcript_partial", sa.Text(), nullable=False),
        sa.Column("recording_path", sa.Text(), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column(
            "arrived_at", callcenter.tickets.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "ivr_done_at", callcenter.tickets.models.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("queued_at", callcenter.tickets.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "answered_at", callcenter.tickets.models.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "dispatched_at", callcenter.tickets.models.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("ended_at", callcenter.tickets.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at", callcenter.tickets.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_arrived_at", ["arrived_at"], unique=False)
        batch_op.create_index("ix_tickets_caller_number", ["caller_number"], unique=False)
        batch_op.create_index("ix_tickets_status", ["status"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at", callcenter.tickets.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unique_id", sa.String(length=64), nullable=False),
        sa.Column("linked_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=256), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column(
            "started_at", callcenter.tickets.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "answered_at", callcenter.tickets.models.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("ended_at", callcenter.tickets.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("hangup_cause", sa.String(length=64), nullable=True),
        sa.Column("recording_path", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unique_id"),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", callcenter.tickets.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", callcenter.tickets.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", callcenter.tickets.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_events_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_events_ticket_id"))

    op.drop_table("ticket_events")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_user_id"))

    op.drop_table("sessions")
    op.drop_table("calls")
    op.drop_table("users")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_status")
        batch_op.drop_index("ix_tickets_caller_number")
        batch_op.drop_index("ix_tickets_arrived_at")

    op.drop_table("tickets")
