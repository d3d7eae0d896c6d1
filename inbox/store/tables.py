"""The store's schema as SQLAlchemy Core tables; Alembic migrations follow this file."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False, default=""),
    Column("tier", String(40), nullable=False, default="standard"),
    Column("created_at", Float, nullable=False),
    # When the customer asked for no automatic messages (/stop, "unsubscribe"); NULL: they get them.
    Column("automatic_stopped_at", Float, nullable=True),
    # What agents noted about the customer (shown beside every conversation of theirs).
    Column("notes", Text, nullable=False, server_default=""),
    # The language customer texts are written to them in (ISO 639-1); "": not known yet.
    Column("language", String(8), nullable=False, server_default=""),
)

identities = Table(
    "identities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("contact_id", Integer, ForeignKey("contacts.id"), nullable=False, index=True),
    Column("channel", String(40), nullable=False),
    Column("address", String(320), nullable=False),
    Column("verified", Boolean, nullable=False, default=False),
    UniqueConstraint("channel", "address", name="uq_identity"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reference", Integer, nullable=False, unique=True),
    Column("contact_id", Integer, ForeignKey("contacts.id"), nullable=False, index=True),
    Column("channel", String(40), nullable=False),
    Column("address", String(320), nullable=False),
    Column("subject", String(300), nullable=False, default=""),
    Column("status", String(20), nullable=False),
    Column("team", String(60), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("assignee_id", Integer, ForeignKey("agents.id"), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("first_response_due", Float, nullable=True),
    Column("first_response_at", Float, nullable=True),
    # The SLA at a glance, kept in step with sla_timers: the earliest running due time
    # and ok | warning | breached | paused (NULL: no clock).
    Column("sla_due", Float, nullable=True),
    Column("sla_state", String(20), nullable=True),
    # The bot's part (see inbox.pipeline.bot): "" none, holding (it answered and waits for
    # the customer's verdict; no agent sees it in the queue yet), resolved, handed_off.
    Column("bot_state", String(20), nullable=False, server_default=""),
    Index("ix_conversations_bot_state", "bot_state"),
    Index("ix_conversations_queue", "team", "status", "priority", "created_at"),
    Index("ix_conversations_session", "channel", "address"),
    Index("ix_conversations_due", "team", "status", "sla_due"),
    Index("ix_conversations_assignee", "assignee_id", "status"),
)
# The desk's list order over open conversations (migration 0023): the desk writes these
# conditions with their values in the SQL (inbox.store.desk_inbox), so the planner can
# prove the partial index applies.
DESK_LISTED = "status <> 'resolved' AND bot_state <> 'holding'"
Index(
    "ix_conversations_desk_order",
    conversations.c.sla_due.is_(None),
    conversations.c.sla_due,
    conversations.c.priority.desc(),
    conversations.c.created_at,
    conversations.c.id,
    postgresql_where=text(DESK_LISTED),
    sqlite_where=text(DESK_LISTED),
)

# Every reference a customer was ever shown, aliases included: a message that was
# promised #1043 but joined #1042 keeps #1043 as a way to find #1042.
conversation_refs = Table(
    "conversation_refs",
    metadata,
    Column("reference", Integer, primary_key=True, autoincrement=False),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("direction", String(10), nullable=False),  # in | out
    Column("channel", String(40), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("author", String(10), nullable=False),  # customer | bot | agent
    Column("agent_id", Integer, ForeignKey("agents.id"), nullable=True),
    Column("internal", Boolean, nullable=False, default=False),
    Column("subject", String(300), nullable=False, default=""),
    Column("text", Text, nullable=False),
    Column("content_hash", String(64), nullable=True),
    Column("duplicate_of", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
    # Sanitised HTML for display (email), when the message had any.
    Column("html", Text, nullable=True),
    # Channel details: an email's Message-ID, In-Reply-To, References, automated reason.
    Column("meta", JSON, nullable=True),
    # sha256 of an email's Message-ID: replies find their thread by it.
    Column("thread_key", String(64), nullable=True),
    UniqueConstraint("channel", "external_id", name="uq_message_external"),
    Index("ix_messages_conversation", "conversation_id", "id"),
    Index("ix_messages_hash", "content_hash"),
    Index("ix_messages_thread_key", "thread_key"),
    Index("ix_messages_customer", "conversation_id", "direction", "id"),
)

# The newest message of a conversation each agent has seen: the rest are unread.
desk_reads = Table(
    "desk_reads",
    metadata,
    Column("agent_id", Integer, ForeignKey("agents.id"), primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), primary_key=True),
    Column("message_id", Integer, nullable=False),
    Column("read_at", Float, nullable=False),
)

# Messages that could not become tickets (an unparseable email, say): kept whole, with
# the reason, for an operator to look at; never dropped and never fetched again.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(40), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("sender", String(320), nullable=False, default=""),
    Column("subject", String(300), nullable=False, default=""),
    Column("received_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    # The message's text, for messages with no original file (web, chat): spam, say.
    Column("text", Text, nullable=True),
    # The review (see inbox ledger): "released" (it became a ticket, released_reference)
    # or "spam" (confirmed: no answer), by whom and when. NULL: nobody looked yet.
    Column("reviewed_at", Float, nullable=True),
    Column("reviewed_by", String(120), nullable=True),
    Column("review", String(20), nullable=True),
    Column("released_reference", Integer, nullable=True),
    UniqueConstraint("channel", "external_id", name="uq_quarantine_external"),
)

# Files that came with a message (or with a quarantined one), the original email among
# them. Served to agents only as downloads.
attachments = Table(
    "attachments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", Integer, ForeignKey("messages.id"), nullable=True, index=True),
    Column("quarantine_id", Integer, ForeignKey("quarantine.id"), nullable=True, index=True),
    Column("kind", String(20), nullable=False),  # attachment | original
    Column("filename", String(255), nullable=False),
    Column("content_type", String(127), nullable=False),
    Column("size", Integer, nullable=False),
    Column("omitted", Boolean, nullable=False, default=False),  # not kept (too large, not fetched)
    Column("data", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

# What is to be sent, in order per recipient. Most rows send a stored message; a bot's
# service answer (a command's reply, a link code) carries its own text and may belong to
# no conversation. A long text goes out in parts; ``parts_sent`` remembers the progress.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", Integer, ForeignKey("messages.id"), nullable=True, unique=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=True),
    Column("channel", String(40), nullable=False),
    Column("address", String(320), nullable=False),
    Column("kind", String(20), nullable=False),  # acknowledgement | reply | service
    Column("state", String(10), nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_until", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("sent_external_id", String(200), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float, nullable=True),
    Column("text", Text, nullable=True),
    Column("subject", String(300), nullable=True),
    Column("parts_sent", Integer, nullable=False, default=0, server_default="0"),
    # When supervisors were told the row keeps failing (once; see [outbox] alert_after).
    Column("delay_alerted_at", Float, nullable=True),
    # When a failed row was last put back by hand (its give-up clock starts again there).
    Column("retried_at", Float, nullable=True),
    Index("ix_outbox_due", "state", "next_attempt_at"),
    Index("ix_outbox_line", "channel", "address", "state"),
    Index("ix_outbox_sent", "channel", "sent_at"),
    Index("ix_outbox_conversation", "conversation_id", "created_at"),
)

# Bot commands a customer sent (/start, /status, /link ...): answered once each.
bot_commands = Table(
    "bot_commands",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(40), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("address", String(320), nullable=False),
    Column("command", String(40), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("channel", "external_id", name="uq_bot_command_external"),
)

# Every mailbox UID the worker stored something for: which message (or quarantine entry)
# it became, written in the transaction that stores it. ``inbox ledger --check`` compares
# a folder's UIDs with these rows, and these rows with what the store still holds.
mail_uids = Table(
    "mail_uids",
    metadata,
    Column("channel", String(40), primary_key=True),
    Column("folder", String(200), primary_key=True),
    Column("uidvalidity", BigInteger, primary_key=True, autoincrement=False),
    Column("uid", BigInteger, primary_key=True, autoincrement=False),
    Column("external_id", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
)

# One-time codes that prove a chat identity owns an email address (/link, then /verify).
link_codes = Table(
    "link_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("identity_channel", String(40), nullable=False),
    Column("address", String(320), nullable=False),
    Column("email", String(320), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Index("ix_link_codes_identity", "identity_channel", "address"),
)

# One row per run of an SLA clock (first_response, next_response, resolution). A running
# clock has due_at and warn_at; a paused one keeps the business seconds it had left.
sla_timers = Table(
    "sla_timers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("target", String(20), nullable=False),
    Column("state", String(20), nullable=False),  # running | paused | stopped
    Column("calendar", String(60), nullable=False),
    Column("allowed", Float, nullable=False),  # business seconds
    Column("started_at", Float, nullable=False),
    Column("due_at", Float, nullable=True),
    Column("warn_at", Float, nullable=True),
    Column("remaining", Float, nullable=True),  # business seconds left, while paused
    Column("stopped_at", Float, nullable=True),
    Column("warned_at", Float, nullable=True),
    Column("breached_at", Float, nullable=True),
    Column("escalated_at", Float, nullable=True),
    Index("ix_sla_timers_conversation", "conversation_id", "target"),
    Index("ix_sla_timers_running", "state", "due_at"),
)

# The customer's rating after resolution: one per conversation, changeable.
csat_ratings = Table(
    "csat_ratings",
    metadata,
    Column("conversation_id", Integer, ForeignKey("conversations.id"), primary_key=True),
    Column("score", Integer, nullable=False),  # 1 (very unhappy) .. 5 (very happy)
    Column("comment", Text, nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_events_conversation", "conversation_id", "id"),
    Index("ix_events_created", "created_at"),
)

agents = Table(
    "agents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("role", String(20), nullable=False, server_default="agent"),
    Column("password_hash", String(200), nullable=True),  # argon2id; NULL: API token only
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", Float, nullable=True),
    # Set by an admin: the person's sessions and token are refused, and sign-in too.
    Column("disabled_at", Float, nullable=True),
)

# Signed-in browser sessions: only a hash of the cookie's value is kept.
sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("agent_id", Integer, ForeignKey("agents.id"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Wrong passwords per account and per client address (a /64 for IPv6): a lock here stops
# that address only, so nobody can lock the owner out from elsewhere.
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("agent_id", Integer, ForeignKey("agents.id"), primary_key=True),
    Column("source", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", Float, nullable=True),
    Column("updated_at", Float, nullable=False),
)

agent_teams = Table(
    "agent_teams",
    metadata,
    Column("agent_id", Integer, ForeignKey("agents.id"), primary_key=True),
    Column("team", String(60), primary_key=True),
)

# Labelled examples learnt from agents (a reassignment is a correction). ``state``:
# active (the router learns it), pending (waits for a supervisor's review), undone,
# rejected; who taught it and from which team, and who last decided on it, when.
routing_examples = Table(
    "routing_examples",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("team", String(60), nullable=False),
    Column("text", Text, nullable=False),
    Column("source", String(30), nullable=False),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("state", String(20), nullable=False, server_default="active"),
    Column("from_team", String(60), nullable=True),
    Column("taught_by", String(100), nullable=True),
    Column("decided_by", String(100), nullable=True),
    Column("decided_at", Float, nullable=True),
    Index("ix_routing_examples_state", "state", "id"),
)

# The embedding of each inbound customer message, for near-duplicate merging and
# burst detection. ``model`` names the encoder: vectors of another model are not compared.
message_vectors = Table(
    "message_vectors",
    metadata,
    Column("message_id", Integer, ForeignKey("messages.id"), primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("contact_id", Integer, ForeignKey("contacts.id"), nullable=False),
    Column("opened", Boolean, nullable=False),  # the message opened its conversation
    Column("model", String(200), nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_message_vectors_contact", "contact_id", "created_at"),
    Index("ix_message_vectors_opened", "opened", "created_at"),
)

# "This may be the same issue as that conversation": offered to an agent to confirm.
merge_suggestions = Table(
    "merge_suggestions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("candidate_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("similarity", Float, nullable=False),
    Column("state", String(20), nullable=False),  # open | merged | dismissed
    Column("created_at", Float, nullable=False),
    Index("ix_merge_suggestions_conversation", "conversation_id"),
)

# Many customers reporting one thing at once: raised to supervisors, members linked.
incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("status", String(20), nullable=False),  # open | closed
    Column("title", String(300), nullable=False),
    Column("team", String(60), nullable=False),
    Column("customers", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

incident_members = Table(
    "incident_members",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("contact_id", Integer, ForeignKey("contacts.id"), nullable=False),
    Column("similarity", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("conversation_id", name="uq_incident_member"),
)

# Knowledge-base articles: the row says where the article stands; its text lives in
# versions. ``current_version`` is the version in force (what is published, or the draft
# of an article never published); an edit of a published article waits as a newer version.
# Team, language and tags are the version in force's, copied here to filter by.
kb_articles = Table(
    "kb_articles",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("state", String(20), nullable=False),  # draft | published | retired
    Column("team", String(60), nullable=True),
    Column("language", String(8), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_kb_articles_state", "state"),
)

# Every version an article ever had: an answer names the version it quoted.
kb_article_versions = Table(
    "kb_article_versions",
    metadata,
    Column("article_id", String(80), ForeignKey("kb_articles.id"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("title", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("team", String(60), nullable=True),
    Column("language", String(8), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("questions", JSON, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(100), nullable=False),  # "import" or an agent's name
)

# Unanswered contacts already raised to supervisors (inbox.sla.unanswered): once each.
ledger_alerts = Table(
    "ledger_alerts",
    metadata,
    Column("source", String(20), primary_key=True),  # message | command | quarantine | ...
    Column("source_id", String(200), primary_key=True),
    Column("raised_at", Float, nullable=False),
)

# Dead letters an operator looked at (``inbox queue --dismiss``): the letter stays in the
# queue's dead-letter list; the ledger stops counting it as unanswered.
dead_letter_reviews = Table(
    "dead_letter_reviews",
    metadata,
    Column("item_id", String(200), primary_key=True),
    Column("review", String(20), nullable=False),  # dismissed
    Column("reviewed_by", String(120), nullable=False),
    Column("reviewed_at", Float, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
)

# Changes to people and teams (who made them, to whom, what changed): accounts have no
# conversation, so they are not in ``events``. A password never appears in ``data``.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("actor", String(100), nullable=False),  # an admin's name, or "cli"
    Column("action", String(40), nullable=False),
    Column("target", String(100), nullable=False),  # a person's name or a team's
    Column("data", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_audit_log_created", "created_at"),
)
