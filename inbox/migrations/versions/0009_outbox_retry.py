"""outbox retry: answers are retried for hours, and supervisors hear of one that keeps failing

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # When supervisors were told that the row keeps failing: they are told once.
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("delay_alerted_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("delay_alerted_at")
