"""accounts: roles, argon2 password hashes, lock-out, browser sessions

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(
            sa.Column("role", sa.String(length=20), nullable=False, server_default="agent")
        )
        batch.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("locked_until", sa.Float(), nullable=True))
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"]),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_sessions_agent_id", "sessions", ["agent_id"])


def downgrade() -> None:
    op.drop_index("ix_sessions_agent_id", table_name="sessions")
    op.drop_table("sessions")
    with op.batch_alter_table("agents") as batch:
        for column in ("locked_until", "failed_logins", "password_hash", "role"):
            batch.drop_column(column)
