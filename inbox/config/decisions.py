"""Settings of what the product decides: teams, routing, triage, duplicates, incidents,
alerts and canned replies. Each default is written here once; ``Rule`` says the limits."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from classifiers.meaning import known_language_codes
from inbox.config.reader import TableReader
from inbox.config.rules import (
    AtLeastOne,
    LowerCase,
    Rule,
    Similarity,
    at_most,
    lower_all,
    made_of,
    matching,
)
from inbox.errors import ConfigError
from inbox.sla.policy import TeamSla

TEAM_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


def _team_title(team: dict[str, Any]) -> str:
    name: str = team["name"]
    return name.title()


@dataclass(frozen=True)
class TeamSettings:
    """One team: who it is, how fast it answers, and example phrases that route to it."""

    name: Annotated[
        str, Rule(check=made_of(TEAM_NAME_CHARS, "use lower-case letters, digits, '-' and '_'"))
    ]
    display_name: Annotated[str, Rule(default_from=_team_title)]
    first_response_hours: float = field(default=8.0, kw_only=True)
    examples: Annotated[tuple[str, ...], Rule(non_empty=True)]
    # Messages in these languages come here, whatever the topic.
    languages: LowerCase = ()
    sla: TeamSla = field(default_factory=TeamSla)


CorrectionMode = Literal["immediate", "review"]
AlertKind = Literal["sla_warning", "sla_breached", "sla_escalated", "unanswered"]
ALERT_KINDS: tuple[AlertKind, ...] = get_args(AlertKind)


def _chat_ids(r: TableReader, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Chat ids, written as numbers or as text."""
    value = r.get(key, list(default))
    if not isinstance(value, list):
        raise ConfigError(f"{r.key(key)}: must be a list")
    return tuple(str(chat) for chat in value)


@dataclass(frozen=True)
class AlertSettings:
    """Who hears of SLA alerts besides the live dashboard, and of which kinds."""

    # Addresses, sent through the first mailbox.
    email: Annotated[
        tuple[str, ...],
        Rule(each=matching(r"[^@\s]+@[^@\s]+\.[^@\s]+", "{value!r} is not an email address")),
    ] = ()
    # Chat ids of people who started the bot.
    telegram: Annotated[
        tuple[str, ...],
        Rule(read=_chat_ids, each=matching(r"-?\d+", "must be a chat id (a number)")),
    ] = ()
    kinds: tuple[AlertKind, ...] = ("sla_breached", "sla_escalated", "unanswered")


CANNED_FIELDS = ("customer", "ticket", "agent", "team")


def _placeholders(text: str) -> str | None:
    """Why ``text`` cannot be filled in, if it cannot."""
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as err:
        return f"{err} (write {{{{ for a brace)"
    unknown = sorted(fields - set(CANNED_FIELDS))
    if unknown:
        return (
            f"unknown placeholder {{{unknown[0]}}}; "
            f"use {', '.join('{' + f + '}' for f in CANNED_FIELDS)}"
        )
    return None


@dataclass(frozen=True)
class CannedReply:
    """A prepared answer; ``{customer}``, ``{ticket}``, ``{agent}``, ``{team}`` are filled in."""

    name: str
    text: Annotated[str, Rule(check=_placeholders)]

    def expand(self, **values: str) -> str:
        """The text with its placeholders filled."""
        return self.text.format_map({k: values.get(k, "") for k in CANNED_FIELDS})


@dataclass(frozen=True)
class RoutingSettings:
    """How the router decides, and where it sends what it is unsure of."""

    threshold: Annotated[float, Rule(check=at_most(1, "must be between 0 and 1"))] = 0.5
    margin: float = 0.0
    min_similarity: Similarity = 0.35
    fallback_team: str = "triage"
    fallback_display_name: str = "Triage"
    fallback_first_response_hours: float = 8.0
    evidence_examples: AtLeastOne = 3
    # What an agent's correction does: teach the router at once (it can be undone on
    # /supervisor/corrections), or wait there for a supervisor's approval.
    corrections: CorrectionMode = "immediate"
    # Messages the triage's detector calls another of its languages are routed by a second,
    # multilingual encoder (classifiers/multilingual.py) from the same phrases; its
    # similarities run lower than MiniLM's, hence its own closeness bar.
    multilingual: bool = True
    multilingual_min_similarity: Similarity = 0.28


@dataclass(frozen=True)
class LinkSettings:
    """How a chat customer links their chat to their email (/link, /verify)."""

    link_via: str = ""  # the mailbox that sends the codes; empty: linking is off
    code_minutes: float = 15.0
    per_hour: int = 3


@dataclass(frozen=True)
class DedupSettings:
    """When a customer's new message is the same issue as an open one."""

    auto_merge: Similarity = 0.7
    suggest: Similarity = 0.5
    stitch: Similarity = 0.6  # a new email this close to an open conversation continues it
    stitch_days: float = 14.0
    split_below: Similarity = 0.3  # a long reply this unlike its thread, for another team: split


@dataclass(frozen=True)
class ContactSettings:
    """The contact policy: how many automatic messages (acknowledgements, the bot's
    answers, rating requests, follow-up notices) one customer gets across all their
    linked channels, and when none. An agent's answer is never held back."""

    automatic_per_window: Annotated[int, Rule(minimum=1)] = 5
    window_minutes: Annotated[float, Rule(minimum=1.0)] = 60.0
    # One acknowledgement for one thing written on several channels: a message that joined,
    # duplicated or resembles (the dedup's suggestion) one of the customer's tickets gets
    # none when the customer was answered automatically on another channel this recently.
    acknowledge_once_minutes: Annotated[float, Rule(minimum=0.0)] = 10.0
    csat_every_days: Annotated[float, Rule(minimum=0.0)] = 14.0
    # A message this close (cosine) to one of these asks for no more automatic messages.
    # No bare "unsubscribe": it makes "how do I unsubscribe from the newsletter?" a request.
    unsubscribe_examples: tuple[str, ...] = (
        "unsubscribe me from your automatic replies",
        "stop sending me automatic messages",
        "please stop emailing me these automated replies",
        "remove me from your automatic emails",
        "I don't want any more automated messages from you",
        "no more automatic replies please",
        "opt me out of your automated notifications",
    )
    unsubscribe_similarity: Similarity = 0.7


@dataclass(frozen=True)
class IncidentSettings:
    """When similar messages from many customers at once are one incident."""

    enabled: bool = True
    customers: Annotated[int, Rule(minimum=2)] = 5
    window_minutes: float = 10.0
    similarity: Similarity = 0.5


def _unknown_language(codes: tuple[str, ...]) -> str | None:
    known = known_language_codes()
    unknown = [code for code in codes if code not in known]
    return f"'{unknown[0]}' is not an ISO 639-1 code lingua knows" if unknown else None


@dataclass(frozen=True)
class TriageSettings:
    """What makes a message urgent or a customer important."""

    urgent_phrases: LowerCase = ()
    high_phrases: LowerCase = ()
    vip_contacts: LowerCase = ()
    urgent_examples: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()
    spam_examples: tuple[str, ...] = ()
    urgent_similarity: Similarity = 0.5
    negative_similarity: Similarity = 0.45
    spam_similarity: Similarity = 0.5
    # ISO 639-1 codes to tell apart; each one more costs detection time.
    languages: Annotated[tuple[str, ...], Rule(tidy=lower_all, check=_unknown_language)] = ()


@dataclass(frozen=True)
class KbSettings:
    """The knowledge base: the folder its articles are loaded from at start, and how sure
    the bot must be before it answers from them."""

    path: Path | None = None  # a folder of Markdown articles; none: articles come from the web app
    # The share of the bot's answers that must be right; the confidence threshold follows.
    precision: Annotated[float, Rule(minimum=0.5, check=at_most(0.999))] = 0.97
    answers: bool = True  # false: the bot never answers; articles are for reading only
    # A bot-answered conversation with no word from the customer for this long is resolved
    # by the bot (it counts as answered); their next message opens a new conversation.
    settle_hours: Annotated[float, Rule(minimum=0.01)] = 24.0
    # How a reply to a bot answer is read: close enough (cosine) to one of these says it
    # helped, did not, or asks for a person; anything else is a new question.
    yes_examples: tuple[str, ...] = (
        "yes",
        "yes thanks",
        "that solved it",
        "that helped, thank you",
        "perfect, that is what I needed",
        "great, it works now",
        "problem solved",
        "all sorted, thanks",
        "thank you",
        "perfect",
        "great",
        "ok thanks",
        "got it, thanks a lot",
    )
    no_examples: tuple[str, ...] = (
        "no",
        "that didn't help",
        "this does not answer my question",
        "that is not what I asked",
        "it still does not work",
        "no, that's wrong",
        "not really",
        "still broken",
        "not what I meant",
    )
    human_examples: tuple[str, ...] = (
        "I want to talk to a person",
        "can I speak to a human",
        "let me talk to an agent",
        "put me through to a real person",
        "I don't want a bot",
        "connect me with someone from support",
        "I need a human",
        "real person please",
        "operator",
    )
    reply_similarity: Similarity = 0.55
