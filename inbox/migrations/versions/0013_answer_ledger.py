"""answer ledger: who reviewed a quarantined message and how; outbox rows by conversation

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("reviewed_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("reviewed_by", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("review", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("released_reference", sa.Integer(), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.create_index("ix_outbox_conversation", ["conversation_id", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_conversation")
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("released_reference")
        batch.drop_column("review")
        batch.drop_column("reviewed_by")
        batch.drop_column("reviewed_at")
