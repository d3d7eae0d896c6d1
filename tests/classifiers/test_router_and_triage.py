"""The router (real model, shipped examples) and triage, as pure functions."""

from __future__ import annotations

import numpy as np

from classifiers.embedder import SentenceTransformerEmbedder
from classifiers.router import LabelledExample
from classifiers.triage import Triage
from inbox.config.settings import Settings
from inbox.models import Priority
from inbox.text import embedding_text
from tests.support.routing import shipped_router


def test_paraphrases_reach_the_right_team(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    router = shipped_router(settings, embedder)
    cases = {
        "I got billed two times for my subscription": "billing",
        "My package still hasn't shown up, order 55512": "orders",
        "I can't sign in, it says my password is wrong": "accounts",
        "Your website throws an error when I press pay": "technical",
        "What time do you open on Saturdays?": "general",
    }
    decisions = router.route(embedder.encode([embedding_text("", t) for t in cases]))
    assert [d.team for d in decisions] == list(cases.values())
    for d in decisions:
        assert not d.abstained and d.confidence >= settings.routing.threshold
        assert d.nearest[0].team == d.team and len(d.nearest) == 3


def test_unrelated_text_abstains_to_triage_with_a_reason(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    router = shipped_router(settings, embedder)
    (decision,) = router.route(embedder.encode(["The mitochondria is the powerhouse of the cell"]))
    assert decision.abstained and decision.team == "triage"
    assert decision.abstain_reason
    assert decision.evidence()["abstain_reason"] == decision.abstain_reason


def test_probabilities_are_a_distribution_and_learning_moves_the_boundary(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    router = shipped_router(settings, embedder)
    text = "Question about the carbon offset on my flight booking"
    vector = embedder.encode([text])
    probs = router.probabilities(vector)
    assert np.allclose(probs.sum(axis=1), 1.0)
    before = router.predict(vector)[0]
    target = "general" if before != "general" else "accounts"
    for phrase in (text, "carbon offset for my flight", "offsetting the emissions of my trip"):
        router.add_example(LabelledExample(target, phrase), embedder.encode([phrase])[0])
    assert router.predict(vector)[0] == target


def test_triage_priorities_and_reasons() -> None:
    triage = Triage(
        ["outage", "lawyer"], ["cancel my subscription"], ["boss@example.com", "@vip.example"]
    )
    assert triage.assess("", "hello", "a@example.com").priority == Priority.NORMAL
    urgent = triage.assess("Total OUTAGE", "nothing works", "a@example.com")
    assert urgent.priority == Priority.URGENT and "outage" in urgent.reasons[0]
    assert (
        triage.assess("", "I want to cancel my subscription", "a@example.com").priority
        == Priority.HIGH
    )
    assert triage.assess("", "hello", "Boss@Example.com").priority == Priority.HIGH
    vip = triage.assess("", "hello", "ann@vip.example")
    assert vip.priority == Priority.HIGH and vip.reasons == ("VIP customer",)
    assert triage.assess("", "my lawyerly friend", "a@example.com").priority == Priority.NORMAL
