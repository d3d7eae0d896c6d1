"""sla: clocks per conversation (first response, next response, resolution)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("sla_due", sa.Float(), nullable=True))
        batch.add_column(sa.Column("sla_state", sa.String(length=20), nullable=True))
    op.create_table(
        "sla_timers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("calendar", sa.String(length=60), nullable=False),
        sa.Column("allowed", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=True),
        sa.Column("warn_at", sa.Float(), nullable=True),
        sa.Column("remaining", sa.Float(), nullable=True),
        sa.Column("stopped_at", sa.Float(), nullable=True),
        sa.Column("warned_at", sa.Float(), nullable=True),
        sa.Column("breached_at", sa.Float(), nullable=True),
        sa.Column("escalated_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sla_timers_conversation", "sla_timers", ["conversation_id", "target"])
    op.create_index("ix_sla_timers_running", "sla_timers", ["state", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_sla_timers_running", table_name="sla_timers")
    op.drop_index("ix_sla_timers_conversation", table_name="sla_timers")
    op.drop_table("sla_timers")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("sla_state")
        batch.drop_column("sla_due")
