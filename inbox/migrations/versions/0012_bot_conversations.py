"""bot conversations: whether the bot holds a conversation, resolved it or handed it off

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(
            sa.Column("bot_state", sa.String(length=20), nullable=False, server_default="")
        )
        batch.create_index("ix_conversations_bot_state", ["bot_state"])


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_bot_state")
        batch.drop_column("bot_state")
