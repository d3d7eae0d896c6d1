"""search across conversations: full text over messages, customers by address and name

SQLite: an FTS5 table over messages' subject and text with external content (the text is
not stored twice), kept in step by triggers on messages, so every writer (the ingest
transaction, queued answers, notes, bot answers, merges) is covered without code; the rows
already there are indexed here ('rebuild').

PostgreSQL: a GIN index on the 'simple' tsvector of the same text. 'simple' lowercases and
neither stems nor drops stop words: customers write in any language, and a stemmer or stop
list for one language mangles the others (an English one drops "no", the Spanish one stems
"pedido"). It also gives the results SQLite's unicode61 tokenizer gives, which does none of
that either. The expression is written exactly as inbox.store.search_terms.PG_DOCUMENT:
the planner uses the index only for that expression.

Addresses and names are found by prefix on lower(...): a plain B-tree (text_pattern_ops on
PostgreSQL, so LIKE 'abc%' uses it under any collation).

A later migration that rebuilds ``messages`` with batch_alter_table on SQLite (copy and
rename) drops these triggers: it must create them again.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

PG_DOCUMENT = (
    "to_tsvector('simple'::regconfig, translate(messages.subject || ' ' || messages.text, "
    "'@./_-:+', '       '))"
)
FTS_ROW = "(rowid, subject, text) VALUES (new.id, new.subject, new.text)"
FTS_DELETE = (
    "INSERT INTO messages_fts (messages_fts, rowid, subject, text) "
    "VALUES ('delete', old.id, old.subject, old.text);"
)
SQLITE = [
    "CREATE VIRTUAL TABLE messages_fts USING fts5(subject, text, content='messages', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    f"CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    f"INSERT INTO messages_fts {FTS_ROW}; END",
    f"CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN {FTS_DELETE} END",
    f"CREATE TRIGGER messages_fts_update AFTER UPDATE OF subject, text ON messages BEGIN "
    f"{FTS_DELETE} INSERT INTO messages_fts {FTS_ROW}; END",
    "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')",
    "CREATE INDEX ix_contacts_name_lower ON contacts (lower(name))",
    "CREATE INDEX ix_identities_address_lower ON identities (lower(address))",
]
POSTGRESQL = [
    f"CREATE INDEX ix_messages_search ON messages USING gin (({PG_DOCUMENT}))",
    "CREATE INDEX ix_contacts_name_lower ON contacts (lower(name) text_pattern_ops)",
    "CREATE INDEX ix_identities_address_lower ON identities (lower(address) text_pattern_ops)",
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE if sqlite else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_identities_address_lower", "identities")
    op.drop_index("ix_contacts_name_lower", "contacts")
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER messages_fts_{trigger}")
        op.execute("DROP TABLE messages_fts")
    else:
        op.drop_index("ix_messages_search", "messages")
