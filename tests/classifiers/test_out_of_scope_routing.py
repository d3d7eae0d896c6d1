"""Nonsense and off-topic messages go to the fallback team; evidence supports the decision."""

from __future__ import annotations

from classifiers.embedder import SentenceTransformerEmbedder
from inbox.config.settings import Settings
from inbox.text import embedding_text
from tests.support.routing import shipped_router

NONSENSE = ["asdf qwerty", "jkl jkl jkl;", "zxcvbnm poiuy", "aaaaaaaa", "qwertyuiop 12"]
OFF_TOPIC = [
    "How long should I boil pasta for a lasagne?",
    "Give me a good recipe for banana bread",
    "What was the final score of the football match last night?",
    "Who is going to win the league this season?",
    "Will it rain in Paris tomorrow?",
    "Photosynthesis turns sunlight into chemical energy",
]
IN_SCOPE = {
    "I was billed twice this month, please refund one": "billing",
    "My parcel is late, where is it?": "orders",
    "The password reset link does not arrive": "accounts",
    "The app keeps crashing on my phone": "technical",
    "When are you open on Sundays?": "general",
    # Each of these once had another team's example among its evidence.
    "Do you ship to Canada?": "orders",
    "Is there a student discount?": "general",
    "Your website throws an error when I press pay": "technical",
}


def test_nonsense_and_off_topic_go_to_the_fallback_team_saying_why(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    router = shipped_router(settings, embedder)
    texts = NONSENSE + OFF_TOPIC
    decisions = router.route(embedder.encode([embedding_text("", t) for t in texts]))
    for text, decision in zip(texts, decisions, strict=True):
        assert decision.team == settings.routing.fallback_team, (text, decision)
        assert decision.abstained and "not close to" in decision.abstain_reason, text
    # The first-hand report: "asdf qwerty" went to general at 0.667, with orders examples.
    assert "not close to any team's examples" in decisions[0].abstain_reason
    assert "the nearest, not close enough" in decisions[0].abstain_reason


def test_in_scope_questions_still_route_with_their_own_team_as_evidence(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    router = shipped_router(settings, embedder)
    vectors = embedder.encode([embedding_text("", t) for t in IN_SCOPE])
    decisions = router.route(vectors)
    assert [d.team for d in decisions] == list(IN_SCOPE.values())
    for decision in decisions:
        assert not decision.abstained
        assert decision.nearest and {n.team for n in decision.nearest} == {decision.team}
