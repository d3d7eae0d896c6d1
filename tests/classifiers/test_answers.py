"""Answer retrieval with the real model: answers it is sure of, abstains otherwise."""

from __future__ import annotations

import dataclasses

import numpy as np

from classifiers.answers import (
    MIN_SIMILARITY,
    PRECISION_THRESHOLDS,
    AnswerDecision,
    AnswerEvidence,
    AnswerIndex,
    chance,
    confidence,
    passages_of,
    threshold_for,
)
from classifiers.embedder import SentenceTransformerEmbedder
from classifiers.lexical import Bm25, terms
from inbox.kb.articles import read_folder
from inbox.text import embedding_text
from tests.support.articles import sample_articles
from tests.support.paths import ROOT

EXAMPLES = ROOT / "inbox" / "kb" / "examples"


def _decide(
    index: AnswerIndex, embedder: SentenceTransformerEmbedder, *texts: str
) -> list[AnswerDecision]:
    return index.decide(texts, embedder.encode([embedding_text("", t) for t in texts]))


def test_a_covered_question_gets_its_article_with_evidence(
    embedder: SentenceTransformerEmbedder,
) -> None:
    index = AnswerIndex.build(sample_articles(), embedder, precision=0.97)
    (decision,) = _decide(index, embedder, "How can I reset my password?")
    assert decision.article_id == "reset-password", decision
    assert decision.confidence >= decision.threshold == 0.97
    assert decision.reason == ""
    assert "Forgot password?" in decision.passage
    evidence = decision.evidence
    assert evidence is not None
    assert evidence.matched_kind == "question" and "password" in evidence.matched
    assert "password" in evidence.lexical_terms and "reset" in evidence.lexical_terms
    assert evidence.runner_up in {"opening-hours", "track-order"} and evidence.lead > 0
    # the article classifier fitted on the three articles' passages agrees, and clearly
    assert evidence.head_probability > 0.5 and 0 < evidence.head_lead < evidence.head_probability


def test_unrelated_text_and_nonsense_abstain_with_a_reason(
    embedder: SentenceTransformerEmbedder,
) -> None:
    index = AnswerIndex.build(sample_articles(), embedder, precision=0.97)
    texts = ("The mitochondria is the powerhouse of the cell", "asdf qwerty", "zzzz")
    for decision in _decide(index, embedder, *texts):
        assert decision.article_id is None and decision.passage == ""
        assert decision.reason.startswith("nothing in the articles is close to it")
        assert decision.evidence is not None and decision.evidence.similarity < MIN_SIMILARITY


def test_off_topic_text_the_article_classifier_is_sure_of_still_abstains(
    embedder: SentenceTransformerEmbedder,
) -> None:
    """With few articles the classifier gives some article a high probability for any
    text; the closeness floor is what keeps the bot from answering it."""
    index = AnswerIndex.build(read_folder(EXAMPLES), embedder, precision=0.97)
    near_miss, covered = _decide(index, embedder, "It is version 3.2", "Where is my parcel?")
    assert near_miss.article_id is None and near_miss.best_article == "app-troubleshooting"
    assert near_miss.evidence is not None and near_miss.evidence.head_probability > 0.5
    assert near_miss.reason.startswith("nothing in the articles is close to it")
    assert covered.article_id == "where-is-my-order"


def test_a_language_no_article_is_written_in_abstains(
    embedder: SentenceTransformerEmbedder,
) -> None:
    index = AnswerIndex.build(sample_articles(), embedder, precision=0.97)
    text = "Wie setze ich mein Passwort zurück?"
    (decision,) = index.decide([text], embedder.encode([text]), ["de"])
    assert decision.article_id is None
    assert decision.reason == "no article is written in this language (de)"
    articles = [
        dataclasses.replace(a, language="de") if a.id == "reset-password" else a
        for a in sample_articles()
    ]
    mixed = AnswerIndex.build(articles, embedder, precision=0.97)
    (decision,) = mixed.decide([text], embedder.encode([text]), ["de"])
    assert decision.best_article == "reset-password"  # the only German article
    assert decision.evidence is not None and decision.evidence.runner_up is None
    # the classifier's probability is shared among the German articles only
    assert decision.evidence.head_probability == 1.0


def test_passages_are_title_paragraphs_and_questions() -> None:
    article = sample_articles()[1]  # reset-password
    kinds = [(p.kind, p.text[:20]) for p in passages_of(article)]
    assert kinds == [
        ("title", "Resetting your passw"),
        ("paragraph", "On the sign-in page "),
        ("question", "I forgot my password"),
        ("question", "How do I reset my pa"),
    ]


def test_bm25_shares_are_between_zero_and_one_and_unknown_words_count_against() -> None:
    bm25 = Bm25(["reset your password", "track your order", "opening hours"])
    assert terms("Where are my Orders?") == ["order"]
    scores = bm25.scores("reset password")
    assert 0 < scores[0] <= 1 and bm25.shared_terms("reset password", 0) == ("reset", "password")
    assert scores[1] == 0 and bm25.shared_terms("reset password", 1) == ()
    assert bm25.scores("reset xyzzy")[0] < scores[0]
    assert not bm25.scores("asdf qwerty").any()


def test_the_confidence_is_on_the_scale_of_precision() -> None:
    """An answer whose own chance of being right is only the bar of 0.97 still gets 0.97:
    the answers at least that sure were right 97 % of the time."""
    assert threshold_for(0.97) == 0.97
    bars = dict(PRECISION_THRESHOLDS)
    assert bars[0.97] < 0.97  # most answers are much surer than the last one let through
    evidence = AnswerEvidence("", "paragraph", 0.7, 0.3, (), None, 0.0)
    levels = []
    for lead in np.linspace(-1.0, 1.0, 41):
        leading = dataclasses.replace(evidence, lead=float(lead))
        levels.append(confidence(leading))
        # answers at least this sure are right at least as often as this one
        assert levels[-1] >= chance(leading)
    assert levels == sorted(levels) and levels[0] < 0.5 and levels[-1] > 0.99
