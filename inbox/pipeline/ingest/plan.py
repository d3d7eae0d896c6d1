"""What goes into the ingest step and what comes out of it, one message at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from classifiers.embedder import Vectors
from inbox.bot_words import Verdict
from inbox.message_ids import thread_key
from inbox.models import Envelope, RoutingDecision, TriageDecision
from inbox.pipeline.answering import Candidate

FORM_IDENTITY = "form"  # a web form sender: a typed address that proves nothing yet
# Channels where a customer's next message simply continues the open conversation.
SESSION_CHANNELS = frozenset({"webchat", "telegram"})

Outcome = Literal["new", "joined", "duplicate", "already_stored", "quarantined", "command"]


@dataclass(frozen=True)
class IngestPlan:
    """One claimed message with the decisions made for it before the transaction."""

    envelope: Envelope
    reference: int
    routing: RoutingDecision | None
    triage: TriageDecision
    vector: Vectors | None = None
    # The bot's reading: the article that would answer it, and what it says as a reply to
    # a bot answer (used only where the bot holds the conversation).
    answer: Candidate | None = None
    verdict: Verdict = Verdict.OTHER


@dataclass(frozen=True)
class IngestResult:
    """What became of one message."""

    outcome: Outcome
    reference: int
    conversation_id: int
    quarantine_id: int | None = None


def own_thread_key(envelope: Envelope) -> str:
    """The thread key of an email's own Message-ID; "" for a message without one."""
    return thread_key(envelope.meta.message_id) if envelope.meta.message_id else ""
