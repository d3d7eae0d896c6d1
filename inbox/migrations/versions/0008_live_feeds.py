"""live feeds: the indexes that let web processes read what others did, once a second

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The web role reads the audit events of the last seconds, and the chat answers
    # delivered in the last seconds: by time, so an index on each time.
    op.create_index("ix_events_created", "events", ["created_at"])
    op.create_index("ix_outbox_sent", "outbox", ["channel", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_sent", table_name="outbox")
    op.drop_index("ix_events_created", table_name="events")
