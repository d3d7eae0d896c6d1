"""What the ingest steps hand each other: what the look-ups found and what was decided."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from classifiers.dedup import Candidate, DuplicateDecision
from classifiers.embedder import Vectors
from inbox.models import Status
from inbox.pipeline.ingest.plan import IngestPlan, Outcome


@dataclass(frozen=True)
class StoredMessage:
    """A message of the batch that is stored already (a redelivery), and its ticket."""

    conversation_id: int
    reference: int


@dataclass(frozen=True)
class Thread:
    """The conversation a Message-ID or a ticket reference points at."""

    conversation_id: int
    contact_id: int
    reference: int


@dataclass(frozen=True)
class EarlierCopy:
    """A customer's earlier inbound message with the same content."""

    message_id: int
    conversation_id: int
    created_at: float


@dataclass(frozen=True)
class EarlierVector:
    """A customer's earlier message in an open conversation, with its embedding."""

    candidate: Candidate
    vector: Vectors


@dataclass(eq=False)
class Conversation:
    """A conversation the batch touches: existing (id known) or new (id after insert).

    Mutable on purpose: one object stands for the conversation to every message that
    joins it, and its id, reference and reopening are known only once the batch writes.
    """

    conversation_id: int | None
    reference: int
    contact_id: int
    status: str = Status.NEW.value
    new: bool = False
    reopen: bool = False
    plan: IngestPlan | None = None


@dataclass(frozen=True)
class TopicSplit:
    """Why a threaded email reply opened its own ticket: it is about something else."""

    similarity: float
    split_below: float
    team: str
    thread_team: str
    conversation_id: int  # the thread it was a reply in

    def evidence(self, reference: int) -> dict[str, Any]:
        """The audit event's data, naming the other ticket's ``reference``."""
        return {
            "similarity": self.similarity,
            "split_below": self.split_below,
            "team": self.team,
            "thread_team": self.thread_team,
            "conversation_id": self.conversation_id,
            "reference": reference,
        }


@dataclass(frozen=True)
class Stitch:
    """Why a new email with no thread headers joined an open conversation."""

    decision: DuplicateDecision
    threshold: float

    def evidence(self) -> dict[str, Any]:
        """The audit event's data."""
        return {
            **self.decision.evidence(),
            "verdict": "stitched",
            "stitch_threshold": self.threshold,
        }


@dataclass(frozen=True, eq=False)
class Inbound:
    """One inbound message to insert, and what was decided for it (compared by identity:
    a message is one object however many steps hold it)."""

    plan: IngestPlan
    digest: str
    target: Conversation
    outcome: Outcome
    duplicate_of: int | None = None
    duplicate_of_batch: Inbound | None = None
    similar: DuplicateDecision | None = None
    similar_to: Conversation | None = None  # a possible duplicate, for an agent to confirm
    split_from: TopicSplit | None = None
    stitched: Stitch | None = None


@dataclass(frozen=True)
class BatchVector:
    """A message decided earlier in this batch, with its embedding."""

    inbound: Inbound
    vector: Vectors


@dataclass(frozen=True)
class SimilarFound:
    """The deduper's verdict on the closest earlier message, and where that message is:
    ``conversation`` (None when nothing was close), and ``original`` when it is in this
    same batch."""

    decision: DuplicateDecision
    conversation: Conversation | None
    original: Inbound | None


@dataclass
class BatchState:
    """What the bulk look-ups found, plus what this batch has created so far."""

    stored: dict[tuple[str, str], StoredMessage] = field(default_factory=dict)
    contacts: dict[tuple[str, str], int] = field(default_factory=dict)
    earlier: dict[tuple[int, str], EarlierCopy] = field(default_factory=dict)
    by_reference: dict[int, Thread] = field(default_factory=dict)
    open_sessions: dict[tuple[str, str], Conversation] = field(default_factory=dict)
    known: dict[int, Conversation] = field(default_factory=dict)
    in_batch_hash: dict[tuple[int, str], Inbound] = field(default_factory=dict)
    taken_references: set[int] = field(default_factory=set)
    by_thread_key: dict[str, Thread] = field(default_factory=dict)
    mail_copies: dict[str, int] = field(default_factory=dict)  # Message-ID key -> first id
    in_batch_copies: dict[tuple[int, str], Inbound] = field(default_factory=dict)
    # envelope index -> the ticket references in our own Message-IDs it answers
    thread_refs: dict[int, list[int]] = field(default_factory=dict)
    # Per contact: earlier messages in open conversations, and their embeddings.
    similar: dict[int, list[EarlierVector]] = field(default_factory=dict)
    similar_in_batch: dict[int, list[BatchVector]] = field(default_factory=dict)
    teams: dict[int, str] = field(default_factory=dict)  # conversation id -> team compared
    new_identities: set[tuple[str, str]] = field(default_factory=set)  # created by this batch

    def remember(self, conversation: Conversation) -> Conversation:
        """The conversation already known by its id, else ``conversation``, now known."""
        assert conversation.conversation_id is not None
        return self.known.setdefault(conversation.conversation_id, conversation)
