"""the agents' workspace: what each agent has read, notes on a customer, the SLA-due list

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_reads",
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("agents.id"), primary_key=True),
        sa.Column(
            "conversation_id", sa.Integer(), sa.ForeignKey("conversations.id"), primary_key=True
        ),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.Float(), nullable=False),
    )
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("notes", sa.Text(), nullable=False, server_default=""))
    op.create_index("ix_conversations_due", "conversations", ["team", "status", "sla_due"])
    op.create_index("ix_conversations_assignee", "conversations", ["assignee_id", "status"])
    op.create_index("ix_messages_customer", "messages", ["conversation_id", "direction", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_customer", "messages")
    op.drop_index("ix_conversations_assignee", "conversations")
    op.drop_index("ix_conversations_due", "conversations")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("notes")
    op.drop_table("desk_reads")
