"""The records passed between modules: plain dataclasses, no loose dicts."""

from __future__ import annotations

import base64
import enum
import json
import math
from dataclasses import asdict, dataclass, field, fields
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
class Attachment:
    """A file that came with a message; ``kind`` is ``original`` for the raw email."""

    filename: str
    content_type: str
    size: int
    data: bytes = b""
    omitted: bool = False  # not kept on its own: over the size cap, or not fetched
    kind: str = "attachment"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the bytes in base64."""
        out = asdict(self)
        out["data"] = base64.b64encode(self.data).decode("ascii")
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Attachment:
        """The inverse of ``to_dict``."""
        return cls(
            filename=str(raw["filename"]),
            content_type=str(raw["content_type"]),
            size=int(raw["size"]),
            data=base64.b64decode(str(raw.get("data", "")), validate=True),
            omitted=bool(raw.get("omitted", False)),
            kind=str(raw.get("kind", "attachment")),
        )


@dataclass(frozen=True)
class AnswerFile:
    """A file an agent attached to an answer: its ``attachments`` row (the key of the
    customer's signed link to it), its name, type and size, and its bytes where the
    channel sends them (empty where a link is all the customer gets)."""

    file_id: int
    filename: str
    content_type: str
    size: int
    data: bytes = b""


@dataclass(frozen=True)
class MessageMeta:
    """A message's channel details, each by name; "" where the channel has none.

    Queued envelopes and ``messages.meta`` hold it as a JSON object of the fields that are
    set, the shape they always had, so payloads and rows written before it still read.
    """

    message_id: str = ""  # email: its Message-ID
    mailbox: str = ""  # email: our address it came to
    in_reply_to: str = ""  # email: the first In-Reply-To
    references: str = ""  # email: the last References, space-separated
    defects: str = ""  # email: what the parser found wrong with it
    imap_folder: str = ""  # email: the folder it was fetched from
    imap_uid: str = ""  # email: its UID there, as "UIDVALIDITY:UID"
    chat_id: str = ""  # telegram
    telegram_message_id: str = ""  # telegram
    update_id: str = ""  # telegram
    edit_of: str = ""  # telegram: the message an edit changes
    unfetched_file_ids: str = ""  # telegram: files the Bot API did not give, space-separated
    ip: str = ""  # web form and web chat: the client's address
    command: str = ""  # a bot command's name ("status" for /status): never a ticket
    args: str = ""  # the command's arguments
    # web form, web chat, telegram: the language the customer's browser or chat app names
    # (Accept-Language, Telegram's language_code), for when their words are too few to tell
    language: str = ""
    # Only in ``messages.meta``: why the message is machine-made (``Envelope.automated``).
    automated: str = ""
    # Only in ``messages.meta``: the address the customer wrote from (``Envelope.address``),
    # where an agent's answer goes when this is the conversation's latest message.
    sender: str = ""

    def to_dict(self) -> dict[str, str]:
        """The fields that are set, as stored and queued."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    @classmethod
    def from_dict(cls, raw: object) -> MessageMeta:
        """Reads a stored or queued meta object (``None`` for none); values become text,
        as they always did, and keys this version does not know are left out."""
        if not isinstance(raw, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{str(k): str(v) for k, v in raw.items() if k in known})


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
    meta: MessageMeta = field(default_factory=MessageMeta)
    # What the classifier reads when it differs from ``text`` (an email without its
    # quoted reply and signature); "" means ``text``.
    classify_text: str = ""
    html: str = ""  # sanitised HTML for display, when the channel has it
    # Message-IDs this message answers (In-Reply-To, then References, newest first).
    thread_ids: tuple[str, ...] = ()
    # Why the message is machine-made (an auto-reply, a bounce): stored, never answered.
    automated: str = ""
    # Why the message cannot become a ticket: kept in quarantine for an operator.
    quarantine: str = ""
    attachments: tuple[Attachment, ...] = ()
    # The quarantine entry an operator released as this message (0: none): triage's spam
    # verdict no longer holds it, and the ticket it becomes is noted on the entry.
    released: int = 0

    @property
    def is_command(self) -> bool:
        """A bot command (/status, /link ...): answered by the bot, never a ticket."""
        return bool(self.meta.command)

    @property
    def routing_text(self) -> str:
        """The text the classifier should read."""
        return self.classify_text or self.text

    def to_json(self) -> str:
        """Serialises the envelope for the queue."""
        raw = asdict(self)
        raw["meta"] = self.meta.to_dict()
        raw["attachments"] = [a.to_dict() for a in self.attachments]
        if not self.released:  # the shape payloads always had, for a rolled-back worker
            del raw["released"]
        return json.dumps(raw, ensure_ascii=False, separators=(",", ":"))

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
            envelope = cls(
                channel=_text(raw, "channel"),
                external_id=_text(raw, "external_id"),
                identity_channel=_text(raw, "identity_channel"),
                address=_text(raw, "address"),
                text=str(raw["text"]),
                received_at=float(raw["received_at"]),
                sender_name=str(raw.get("sender_name", "")),
                subject=str(raw.get("subject", "")),
                meta=_meta(raw.get("meta", {})),
                classify_text=str(raw.get("classify_text", "")),
                html=str(raw.get("html", "")),
                thread_ids=tuple(str(t) for t in raw.get("thread_ids", ())),
                automated=str(raw.get("automated", "")),
                quarantine=str(raw.get("quarantine", "")),
                attachments=tuple(Attachment.from_dict(a) for a in raw.get("attachments", ())),
                released=int(raw.get("released", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise InvalidMessage(f"payload is missing or has a bad field: {err!r}") from err
        if not math.isfinite(envelope.received_at):
            raise InvalidMessage(f"received_at is not a time: {envelope.received_at}")
        return envelope


def _meta(raw: object) -> MessageMeta:
    if not isinstance(raw, dict):  # a payload's meta was always an object
        raise TypeError("meta must be a JSON object")
    return MessageMeta.from_dict(raw)


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

    item_id: str
    payload: str
    reference: int
    attempts: int


@dataclass(frozen=True)
class DeadLetter:
    """A message the worker gave up on, with the reason kept for the operator."""

    item_id: str
    payload: str
    attempts: int
    reason: str


@dataclass(frozen=True)
class Outbound:
    """One answer to send on a channel, keyed by its outbox id (sent at most once)."""

    outbox_id: int
    message_id: int  # 0 for a service answer that is not a stored message
    channel: str
    address: str
    text: str
    reference: int
    author: str = "bot"
    subject: str = ""
    # The customer's message this answers, for channels that thread (email headers).
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    # Parts of a long text the channel already delivered on an earlier try.
    parts_sent: int = 0
    # Replies offered as buttons under it (a bot answer awaiting the customer's verdict);
    # a pressed one comes back as the customer's message. Channels without buttons ignore it.
    choices: tuple[str, ...] = ()
    # Files an agent attached, sent after the text (attachments, documents or links);
    # on a channel that sends in parts each file is one part, counted in ``parts_sent``.
    files: tuple[AnswerFile, ...] = ()
    # The customer's language ("": not known), for the words a channel adds (a subject).
    language: str = ""


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
    language_team: str = ""  # set when the message's language chose the team

    def evidence(self) -> dict[str, Any]:
        """The decision as JSON-ready evidence for the audit trail and the agent API."""
        return {
            "team": self.team,
            "predicted_team": self.predicted_team,
            "confidence": round(self.confidence, 4),
            "threshold": self.threshold,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "language_team": self.language_team,
            "nearest": [
                {"team": n.team, "text": n.text, "score": round(n.score, 4)} for n in self.nearest
            ],
        }


@dataclass(frozen=True)
class TriageDecision:
    """The priority a message gets, and the reasons."""

    priority: Priority
    reasons: tuple[str, ...]
    language: str = ""  # ISO 639-1, "" when not detected
    spam: str = ""  # why it is spam: it goes to quarantine, never answered
    unsubscribe: str = ""  # why it asks for no more automatic messages (by meaning)


@dataclass(frozen=True)
class TranscriptEntry:
    """One message as the customer sees it (internal notes never appear)."""

    message_id: int
    reference: int
    author: str
    text: str
    created_at: float
    # Replies the page offers as buttons under it (a bot answer still awaiting a verdict).
    choices: tuple[str, ...] = ()
    # Files an agent attached (without their bytes): the page links to each.
    files: tuple[AnswerFile, ...] = ()
