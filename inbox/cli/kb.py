"""``inbox kb``: ask the knowledge base a question, and measure how well it answers.

For now the articles come from a folder (``[kb] path`` in config.toml, or ``--kb``),
read with the same reader the service uses; the decision is the one the bot makes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from classifiers.answers import AnswerDecision, AnswerIndex
from classifiers.embedder import Embedder, SentenceTransformerEmbedder
from classifiers.evaluation.answers import (
    AnswerScore,
    KbQuestion,
    answer_curve,
    read_questions,
    score_answers,
)
from inbox.cli.kb_import import add_import_parser
from inbox.config.settings import Settings
from inbox.errors import InboxError
from inbox.kb.articles import Article, read_folder
from inbox.text import embedding_text


@dataclass(frozen=True)
class KbEvaluation:
    """The eval's figures: at the configured precision, and over thresholds."""

    articles: int
    questions: int
    precision_setting: float
    at_setting: AnswerScore
    curve: list[AnswerScore]


def articles_for(settings: Settings, args: argparse.Namespace) -> list[Article]:
    """The articles of ``--kb``, or else of ``[kb] path``."""
    folder = Path(args.kb) if args.kb else settings.kb.path
    if folder is None:
        raise InboxError("no knowledge base: set [kb] path in config.toml or give --kb FOLDER")
    return read_folder(folder)


def ask(index: AnswerIndex, embedder: Embedder, texts: Sequence[str]) -> list[AnswerDecision]:
    """The bot's decision for each question, encoded as the worker encodes messages."""
    return index.decide(texts, embedder.encode([embedding_text("", t) for t in texts]))


def evaluate(
    articles: Sequence[Article],
    questions: Sequence[KbQuestion],
    embedder: Embedder,
    precision: float,
) -> KbEvaluation:
    """Answers every question and scores the answers, at ``precision`` and as a curve."""
    index = AnswerIndex.build(articles, embedder, precision=precision)
    decisions = ask(index, embedder, [q.text for q in questions])
    return KbEvaluation(
        articles=len(articles),
        questions=len(questions),
        precision_setting=precision,
        at_setting=score_answers(questions, decisions, index.threshold),
        curve=answer_curve(questions, decisions),
    )


def decision_line(text: str, decision: AnswerDecision) -> dict[str, Any]:
    """One ``--json`` line: the question, the article or null, the confidence, why not."""
    return {
        "text": text,
        "article": decision.article_id,
        "confidence": round(decision.confidence, 4),
        "reason": decision.reason,
    }


def _print_decision(decision: AnswerDecision, index: AnswerIndex) -> None:
    if decision.article_id is not None:
        title = index.articles[decision.article_id].title
        print(f"article: {decision.article_id} ({title})")
        print(f"confidence {decision.confidence:.3f} >= threshold {decision.threshold:.3f}")
        print(f"passage: {decision.passage}")
    else:
        print(f"no answer: {decision.reason}")
        if decision.best_article is not None:
            print(f"closest article: {decision.best_article}")
    evidence = decision.evidence
    if evidence is not None:
        words = ", ".join(evidence.lexical_terms) or "none"
        print(
            f"evidence: {evidence.matched_kind} {evidence.matched!r} (cosine "
            f"{evidence.similarity:.2f}, words in common: {words}); runner-up "
            f"{evidence.runner_up} {evidence.lead:.2f} behind"
        )


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    """Answers one question (or every line of ``--file``) as the bot would."""
    if args.file:
        if not args.json:
            raise SystemExit("--file writes one JSON object per line: add --json")
        lines = Path(args.file).read_text(encoding="utf-8").splitlines()
        texts = [line for line in lines if line.strip()]
    elif args.text:
        texts = [args.text]
    else:
        raise SystemExit('inbox kb ask: give a question ("text") or --file FILE')
    articles = articles_for(settings, args)
    embedder = SentenceTransformerEmbedder(settings.model.path)
    index = AnswerIndex.build(articles, embedder, precision=settings.kb.precision)
    decisions = ask(index, embedder, texts)
    if args.file:
        for text, decision in zip(texts, decisions, strict=True):
            print(json.dumps(decision_line(text, decision), ensure_ascii=False))
    elif args.json:
        line = decision_line(texts[0], decisions[0])
        line["passage"] = decisions[0].passage
        line["threshold"] = decisions[0].threshold
        line["evidence"] = asdict(decisions[0].evidence) if decisions[0].evidence else None
        print(json.dumps(line, ensure_ascii=False))
    else:
        _print_decision(decisions[0], index)
    return 0


def _print_evaluation(report: KbEvaluation) -> None:
    s = report.at_setting
    print(f"{report.questions} questions, {report.articles} articles")
    print(f"at precision {report.precision_setting} (confidence threshold {s.threshold:.3f}):")
    print(
        f"  answerable   {s.answerable:>5}: right {s.answered_right}, wrong "
        f"{s.answered_wrong}, abstained {s.abstained}"
    )
    print(f"  unanswerable {s.unanswerable:>5}: answered {s.unanswerable_answered}")
    print(
        f"  precision {s.precision:.4f}, answerable answered right {s.coverage:.4f}, "
        f"unanswerable answered {s.unanswerable_answered_share:.4f}"
    )
    print(f"{'threshold':>9} {'precision':>9} {'right':>7} {'unans.':>7}")
    for point in report.curve:
        print(
            f"{point.threshold:>9.2f} {point.precision:>9.4f} {point.coverage:>7.4f} "
            f"{point.unanswerable_answered_share:>7.4f}"
        )


def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    """Answers a labelled CSV and prints right / wrong / abstained and the curve."""
    try:
        questions = read_questions(Path(args.csv))
    except (OSError, ValueError) as err:
        raise InboxError(str(err)) from err
    articles = articles_for(settings, args)
    embedder = SentenceTransformerEmbedder(settings.model.path)
    report = evaluate(articles, questions, embedder, settings.kb.precision)
    if args.json:
        json.dump(asdict(report), sys.stdout)
        print()
    else:
        _print_evaluation(report)
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``inbox kb import``, ``inbox kb ask`` and ``inbox kb eval``."""
    kb = sub.add_parser("kb", help="load the knowledge base, ask it, and measure its answers")
    commands = kb.add_subparsers(dest="kb_command", required=True)
    add_import_parser(commands)
    ask_parser = commands.add_parser("ask", help="what the bot would answer to a question")
    ask_parser.add_argument("text", nargs="?", help="the question")
    ask_parser.add_argument("--file", help="one question per line (with --json)")
    ask_parser.add_argument("--json", action="store_true", help="JSON: one object per question")
    ask_parser.add_argument("--kb", help="a folder of articles (default: [kb] path)")
    ask_parser.set_defaults(func_settings=cmd_ask)
    eval_parser = commands.add_parser("eval", help="score answers on a text,article CSV")
    eval_parser.add_argument("csv", help="columns text,article; empty article: unanswerable")
    eval_parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    eval_parser.add_argument("--kb", help="a folder of articles (default: [kb] path)")
    eval_parser.set_defaults(func_settings=cmd_eval)
