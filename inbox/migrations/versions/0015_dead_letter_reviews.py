"""dead letter reviews: a dead letter an operator looked at and found no contact in

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letter_reviews",
        sa.Column("item_id", sa.String(length=200), primary_key=True),
        sa.Column("review", sa.String(length=20), nullable=False),
        sa.Column("reviewed_by", sa.String(length=120), nullable=False),
        sa.Column("reviewed_at", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("dead_letter_reviews")
