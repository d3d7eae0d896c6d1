"""the desk's list order from an index: open conversations by SLA due, priority and age

The desk lists an agent's open conversations SLA due first (those without a clock last),
then priority and age (inbox.store.desk_inbox). Without an index in that order every list
request sorted all of the agent's teams' open conversations to show fifty: 60-100 ms at
25,000 on PostgreSQL. With this one it reads the first rows in order and stops (under a
millisecond, docs/BENCHMARKS.md "The desk at 50,000 conversations").

Partial (open, not held by the bot), so resolved conversations — most of a store, with no
clock — never sit in the list's way. The desk writes these two conditions with their values
in the SQL, not as parameters, so both databases can prove the index applies.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

ORDER = ["(sla_due IS NULL)", "sla_due", "priority DESC", "created_at", "id"]
OPEN = "status <> 'resolved' AND bot_state <> 'holding'"


def upgrade() -> None:
    op.create_index(
        "ix_conversations_desk_order",
        "conversations",
        [sa.text(column) for column in ORDER],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_desk_order", "conversations")
