"""The ingest's decision step on its own: where a message goes, with no service running.

The state is what the look-ups would have found in a store; the decisions are the real
ones (the real deduper, the shipped settings).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from classifiers.dedup import Candidate, Deduper
from classifiers.embedder import Vectors
from inbox.config.settings import Settings
from inbox.message_ids import thread_key
from inbox.models import Envelope, MessageMeta, Priority, TriageDecision
from inbox.pipeline.ingest.decide import decide
from inbox.pipeline.ingest.plan import IngestPlan
from inbox.pipeline.ingest.state import (
    BatchState,
    Conversation,
    EarlierCopy,
    EarlierVector,
    Thread,
)
from inbox.text import content_hash

T0 = 1_700_000_000.0
ANN, BO = 1, 2  # contact ids
OPEN_TICKET = Conversation(7, 1042, ANN, "open")


def envelope(
    text: str, channel: str = "webchat", address: str = "session-ann", **more: object
) -> Envelope:
    """A message from Ann (on chat unless said otherwise), received at T0."""
    env = Envelope(
        channel=channel,
        external_id=f"{channel}:{text}",
        identity_channel=channel,
        address=address,
        text=text,
        received_at=T0,
    )
    return replace(env, **more)  # type: ignore[arg-type]


def plan_of(env: Envelope, vector: Vectors | None = None) -> IngestPlan:
    """The plan the worker would make: reference 2001 reserved, no routing decision."""
    return IngestPlan(env, 2001, None, TriageDecision(Priority.NORMAL, ()), vector)


def state_with(*envs: Envelope, contact: int = ANN) -> BatchState:
    """A state in which the store knows OPEN_TICKET and the senders of ``envs``."""
    state = BatchState()
    state.remember(OPEN_TICKET)
    for env in envs:
        state.contacts[(env.identity_channel, env.address)] = contact
    return state


def unit(*values: float) -> Vectors:
    """An embedding: the values, L2-normalised as the embedder's are."""
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_a_first_message_opens_a_conversation_that_the_next_chat_message_joins(
    settings: Settings,
) -> None:
    first = envelope("My card was declined at the shop")
    state = state_with(first)
    opened = decide(plan_of(first), state, settings, [], None)
    assert opened.outcome == "new"
    assert opened.target.new and opened.target.conversation_id is None
    assert (opened.target.reference, opened.target.contact_id) == (2001, ANN)

    second = envelope("It happened again just now", received_at=T0 + 30)
    joined = decide(plan_of(second), state, settings, [], None)
    assert joined.outcome == "joined"
    assert joined.target is opened.target


def test_a_chat_message_joins_the_open_conversation_of_its_session(settings: Settings) -> None:
    env = envelope("Any news on my refund?")
    state = state_with(env)
    state.open_sessions[(env.channel, env.address)] = OPEN_TICKET
    decided = decide(plan_of(env), state, settings, [], None)
    assert (decided.outcome, decided.target) == ("joined", OPEN_TICKET)


def test_a_ticket_reference_joins_only_its_own_customers_conversation(settings: Settings) -> None:
    env = envelope("About ticket #1042: the refund never came", channel="web", address="ann@x")
    state = state_with(env)
    state.by_reference[1042] = Thread(7, ANN, 1042)
    assert decide(plan_of(env), state, settings, [], None).target is OPEN_TICKET

    stranger = state_with(env, contact=BO)  # Bo quotes Ann's ticket number
    stranger.by_reference[1042] = Thread(7, ANN, 1042)
    decided = decide(plan_of(env), stranger, settings, [], None)
    assert decided.outcome == "new" and decided.target is not OPEN_TICKET


def test_the_same_words_again_within_the_window_are_a_duplicate(settings: Settings) -> None:
    env = envelope("Please close my account", channel="web", address="ann@x")
    window = settings.dedup_window_minutes * 60
    digest = content_hash(env.subject, env.text)
    state = state_with(env)
    state.earlier[(ANN, digest)] = EarlierCopy(55, 7, T0 - window + 1)
    decided = decide(plan_of(env), state, settings, [], None)
    assert (decided.outcome, decided.duplicate_of, decided.target) == ("duplicate", 55, OPEN_TICKET)

    state.earlier[(ANN, digest)] = EarlierCopy(55, 7, T0 - window - 1)  # too long ago
    assert decide(plan_of(env), state, settings, [], None).outcome == "new"


def test_the_same_mail_again_is_a_duplicate_of_its_first_copy(settings: Settings) -> None:
    mid = "<a1@mail.example.com>"
    env = envelope("Hello", channel="email", address="ann@x", meta=MessageMeta(message_id=mid))
    state = state_with(env)
    state.by_thread_key[thread_key(mid)] = Thread(7, ANN, 1042)
    state.mail_copies[thread_key(mid)] = 99
    decided = decide(plan_of(env), state, settings, [], None)
    assert (decided.outcome, decided.duplicate_of) == ("duplicate", 99)

    forged = state_with(env, contact=BO)  # the same Message-ID from someone else
    forged.by_thread_key[thread_key(mid)] = Thread(7, ANN, 1042)
    forged.mail_copies[thread_key(mid)] = 99
    assert decide(plan_of(env), forged, settings, [], None).outcome == "new"


def test_the_same_issue_in_other_words_merges_or_is_suggested_by_similarity(
    settings: Settings,
) -> None:
    deduper = Deduper(settings.dedup.auto_merge, settings.dedup.suggest)
    env = envelope("My transfer has not arrived", channel="web", address="ann@x")
    earlier = Candidate(55, 7, 1042, T0 - 60)
    state = state_with(env)
    state.similar[ANN] = [EarlierVector(earlier, unit(1, 0, 0))]

    merged = decide(plan_of(env, unit(1, 0.1, 0)), state, settings, [], deduper)
    assert (merged.outcome, merged.duplicate_of, merged.target) == ("duplicate", 55, OPEN_TICKET)
    assert merged.similar is not None and merged.similar.verdict == "merge"

    between = (settings.dedup.auto_merge + settings.dedup.suggest) / 2
    maybe = unit(between, float(np.sqrt(1 - between**2)), 0)
    suggested = decide(plan_of(env, maybe), state, settings, [], deduper)
    assert suggested.outcome == "new" and suggested.similar_to is OPEN_TICKET

    unrelated = decide(plan_of(env, unit(0, 0, 1)), state, settings, [], deduper)
    assert unrelated.outcome == "new" and unrelated.similar_to is None


def test_a_bounce_joins_the_conversation_its_signed_message_id_names(settings: Settings) -> None:
    env = envelope(
        "Delivery failed", channel="email", address="mailer-daemon@x", automated="bounce"
    )
    state = state_with(env, contact=BO)  # the mail server is not the customer
    state.by_reference[1042] = Thread(7, ANN, 1042)
    decided = decide(plan_of(env), state, settings, [1042], None)
    assert (decided.outcome, decided.target) == ("joined", OPEN_TICKET)

    by_the_customer = replace(env, automated="")  # a person needs to be the same contact
    assert decide(plan_of(by_the_customer), state, settings, [1042], None).outcome == "new"
