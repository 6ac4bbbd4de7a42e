"""controller: how far the call-record file has been read

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import callcenter.tickets.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cdr_progress",
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("inode", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", callcenter.tickets.models.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("path"),
    )


def downgrade() -> None:
    op.drop_table("cdr_progress")
