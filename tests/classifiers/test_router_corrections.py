"""How much an agent's correction teaches the router (real model, shipped examples): one
that contradicts a team's configured phrase loses to it, agreeing ones win, one on a
topic no phrase covers is learnt at once, and forgetting one restores the router."""

from __future__ import annotations

import numpy as np

from classifiers.embedder import SentenceTransformerEmbedder
from classifiers.router import LabelledExample, Router, held_back
from inbox.config.settings import Settings
from tests.support.routing import shipped_router

CASE = "I was billed twice for March"
AGAIN = ("You billed me two times in March", "March was billed twice on my card")


def _teach(router: Router, embedder: SentenceTransformerEmbedder, team: str, *texts: str) -> None:
    first = max(router.corrections, default=0) + 1
    examples = [LabelledExample(team, t, correction=first + i) for i, t in enumerate(texts)]
    router.add_examples(examples, embedder.encode(list(texts)))


def test_one_contrary_correction_loses_to_the_configured_phrase_three_win(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    router = shipped_router(settings, embedder)
    case = embedder.encode([CASE])
    _teach(router, embedder, "accounts", CASE)
    (decision,) = router.route(case)
    assert decision.team == "billing" and decision.confidence < 0.9  # shaken, not moved
    _teach(router, embedder, "accounts", *AGAIN)
    (decision,) = router.route(case)
    assert decision.team == "accounts" and decision.confidence > 0.9
    assert decision.nearest[0].text == CASE


def test_a_correction_no_phrase_contradicts_is_learnt_at_once(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    router = shipped_router(settings, embedder)
    taught = "My loyalty points from the spring promotion never showed up"
    again = embedder.encode(["The loyalty points from the spring promotion are missing"])
    assert router.route(again)[0].team == "triage"
    _teach(router, embedder, "accounts", taught)
    assert router.route(again)[0].team == "accounts"


def test_forgetting_corrections_gives_the_router_a_restart_would_build(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    router = shipped_router(settings, embedder)
    probe = embedder.encode([CASE, "The loyalty points from the spring promotion are missing"])
    before = router.probabilities(probe)
    _teach(router, embedder, "accounts", CASE, *AGAIN)
    _teach(router, embedder, "general", "My loyalty points from the spring promotion vanished")
    assert router.corrections == {1, 2, 3, 4}
    router.forget({1, 2, 3, 4})
    assert router.corrections == frozenset()
    assert np.allclose(router.probabilities(probe), before, atol=1e-5)


def test_training_leaves_out_a_contested_correction_until_others_agree(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    """``inbox train`` fine-tunes with every pair weighing alike: a correction the router
    counts for a third must stay out of it, and goes in once corroborated."""
    configured = [LabelledExample(t.name, x) for t in settings.teams for x in t.examples]
    one = [*configured, LabelledExample("accounts", CASE, correction=1)]
    assert held_back(one, embedder.encode([e.text for e in one])) == [False] * len(configured) + [
        True
    ]
    agreed = [
        *one,
        *(LabelledExample("accounts", t, correction=2 + i) for i, t in enumerate(AGAIN)),
    ]
    assert not any(held_back(agreed, embedder.encode([e.text for e in agreed])))
    # A correction on a topic no configured phrase covers is never held back.
    loyalty = [*configured, LabelledExample("accounts", "My loyalty points vanished", correction=1)]
    assert not any(held_back(loyalty, embedder.encode([e.text for e in loyalty])))
