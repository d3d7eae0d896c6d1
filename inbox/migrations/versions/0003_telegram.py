"""telegram: outbox rows with their own text and part progress; bot commands; link codes

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("message_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("conversation_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("subject", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("parts_sent", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index("ix_outbox_line", ["channel", "address", "state"])
    op.create_table(
        "bot_commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("command", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "external_id", name="uq_bot_command_external"),
    )
    op.create_table(
        "link_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity_channel", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_link_codes_identity", "link_codes", ["identity_channel", "address"])


def downgrade() -> None:
    op.drop_index("ix_link_codes_identity", table_name="link_codes")
    op.drop_table("link_codes")
    op.drop_table("bot_commands")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_line")
        batch.drop_column("parts_sent")
        batch.drop_column("subject")
        batch.drop_column("text")
        batch.alter_column("conversation_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("message_id", existing_type=sa.Integer(), nullable=False)
