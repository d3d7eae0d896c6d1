"""corrections under control: who taught the router what, from which team; pending,
undone and rejected corrections, and who decided on them when

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routing_examples") as batch:
        batch.add_column(sa.Column("state", sa.String(20), nullable=False, server_default="active"))
        batch.add_column(sa.Column("from_team", sa.String(60), nullable=True))
        batch.add_column(sa.Column("taught_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("decided_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("decided_at", sa.Float(), nullable=True))
        batch.create_index("ix_routing_examples_state", ["state", "id"])


def downgrade() -> None:
    with op.batch_alter_table("routing_examples") as batch:
        batch.drop_index("ix_routing_examples_state")
        for column in ("decided_at", "decided_by", "taught_by", "from_team", "state"):
            batch.drop_column(column)
