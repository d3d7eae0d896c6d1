"""mailbox reconciliation: the mailbox UID each stored mail was fetched under

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_uids",
        sa.Column("channel", sa.String(length=40), primary_key=True),
        sa.Column("folder", sa.String(length=200), primary_key=True),
        sa.Column("uidvalidity", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("uid", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mail_uids")
