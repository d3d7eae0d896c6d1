"""The records passed between modules: plain dataclasses, no loose dicts."""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from inbox.errors import InvalidMessage


class Priority(enum.IntEnum):
    """Ticket priority; higher is served first."""

    LOW = 1
    NORMAL = 2
    HIGH = 3
    URGENT = 4


class Status(enum.StrEnum):
    """Where a conversation stands."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Envelope:
    """One inbound customer message as a connector hands it over.

    ``(channel, external_id)`` identifies it; every later step is idempotent on that pair.
    ``identity`` is who wrote it as the channel knows them: ``(identity_channel, address)``,
    e.g. ``("email", "ann@example.com")`` for the web form, ``("webchat", session)`` for chat.
    """

    channel: str
    external_id: str
    identity_channel: str
    address: str
    text: str
    received_at: float
    sender_name: str = ""
    subject: str = ""
    meta: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialises the envelope for the queue."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, payload: str) -> Envelope:
        """Parses a queued envelope; a malformed one raises InvalidMessage."""
        try:
            raw: Any = json.loads(payload)
        except ValueError as err:
            raise InvalidMessage(f"payload is not JSON: {err}") from err
        if not isinstance(raw, dict):
            raise InvalidMessage("payload is not a JSON object")
        try:
            meta = raw.get("meta", {})
            envelope = cls(
                channel=_text(raw, "channel"),
                external_id=_text(raw, "external_id"),
                identity_channel=_text(raw, "identity_channel"),
                address=_text(raw, "address"),
                text=str(raw["text"]),
                received_at=float(raw["received_at"]),
                sender_name=str(raw.get("sender_name", "")),
                subject=str(raw.get("subject", "")),
                meta={str(k): str(v) for k, v in meta.items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise InvalidMessage(f"payload is missing or has a bad field: {err!r}") from err
        return envelope


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


@dataclass(frozen=True)
class Receipt:
    """What the queue promises once an envelope is durable: its ticket reference."""

    channel: str
    external_id: str
    reference: int
    duplicate: bool


@dataclass(frozen=True)
class QueueItem:
    """A claimed piece of work: the raw payload, its reserved reference and its tries."""

    item_id: int
    payload: str
    reference: int
    attempts: int


@dataclass(frozen=True)
class DeadLetter:
    """A message the worker gave up on, with the reason kept for the operator."""

    item_id: int
    payload: str
    attempts: int
    reason: str


@dataclass(frozen=True)
class Outbound:
    """One answer to send on a channel, keyed by its outbox id (sent at most once)."""

    outbox_id: int
    message_id: int
    channel: str
    address: str
    text: str
    reference: int
    author: str = "bot"
    subject: str = ""


@dataclass(frozen=True)
class NearestExample:
    """An example phrase that supports a routing decision."""

    team: str
    text: str
    score: float


@dataclass(frozen=True)
class RoutingDecision:
    """Which team gets a message, how sure the router is, and why."""

    team: str
    confidence: float
    predicted_team: str
    threshold: float
    abstained: bool
    nearest: tuple[NearestExample, ...]
    abstain_reason: str = ""

    def evidence(self) -> dict[str, Any]:
        """The decision as JSON-ready evidence for the audit trail and the agent API."""
        return {
            "team": self.team,
            "predicted_team": self.predicted_team,
            "confidence": round(self.confidence, 4),
            "threshold": self.threshold,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "nearest": [
                {"team": n.team, "text": n.text, "score": round(n.score, 4)} for n in self.nearest
            ],
        }


@dataclass(frozen=True)
class TriageDecision:
    """The priority a message gets, and the reasons."""

    priority: Priority
    reasons: tuple[str, ...]
