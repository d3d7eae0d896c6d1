"""outbox retried: when an agent last put a failed delivery back, so it gets its full
retry window again

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A retried row's give-up clock counts from here, not from when it was first queued.
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("retried_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("retried_at")
