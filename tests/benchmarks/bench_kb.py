"""Knowledge-base benchmark: does the bot answer right, and keep quiet otherwise?

Run with ``scripts/bench-kb`` (or ``python -m tests.benchmarks.bench_kb``). The knowledge
base in ``tests/benchmarks/kb_bitext`` answers 22 of the 27 Bitext intents, one article
each, written for this benchmark; the other five (``LEFT_OUT``) have none, so their
questions are unanswerable. At run time this builds the eval CSV from the Bitext split
(intent -> article id, left-out intents -> empty) and runs ``inbox kb eval`` twice: with
the articles as written (at most 3 example questions each), and with their questions
removed. The calibration was fitted on ``validation``; report ``test`` (the default).

``--fit`` refits the calibration instead: it answers the validation split in-process with
both knowledge bases, fits ``CALIBRATION`` on the pooled decisions and
``PRECISION_THRESHOLDS`` so that each knowledge base reaches the precision on its own, and
prints them for ``classifiers/answers.py``.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from classifiers.answers import AnswerIndex, confidence_signals
from classifiers.embedder import SentenceTransformerEmbedder
from classifiers.evaluation.answers import fit_calibration, read_questions
from inbox.kb.articles import read_folder
from inbox.text import embedding_text
from tests.support.paths import ROOT, SHARED_DATA

KB = ROOT / "tests" / "benchmarks" / "kb_bitext"
LEFT_OUT = frozenset(
    {"complaint", "review", "newsletter_subscription", "switch_account", "check_cancellation_fee"}
)


def write_csv(split: Path, target: Path) -> int:
    """The ``text,article`` CSV of a Bitext split; returns its number of rows."""
    known = {a.id for a in read_folder(KB)}
    with split.open(newline="", encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "article"])
        for row in rows:
            article = "" if row["intent"] in LEFT_OUT else row["intent"].replace("_", "-")
            if article and article not in known:
                raise SystemExit(f"no article for intent {row['intent']}")
            writer.writerow([row["utterance"], article])
    return len(rows)


def without_questions(folder: Path) -> None:
    """A copy of the knowledge base with every article's example questions removed."""
    folder.mkdir()
    for article in read_folder(KB):
        front = {"id": article.id, "title": article.title, "language": article.language}
        text = f"---\n{yaml.safe_dump(front)}---\n{article.body}\n"
        (folder / f"{article.id}.md").write_text(text, encoding="utf-8")


def run_eval(questions: Path, kb: Path) -> dict[str, object]:
    """``inbox kb eval --json`` with the repository's config.toml."""
    command = [sys.executable, "-m", "inbox.cli", "--config", str(ROOT / "config.toml")]
    result = subprocess.run(
        [*command, "kb", "eval", str(questions), "--kb", str(kb), "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    report: dict[str, object] = json.loads(result.stdout)
    return report


def fit(questions: Path, kbs: list[Path]) -> None:
    """Fits the calibration on the questions, pooled over the knowledge bases; prints it."""
    embedder = SentenceTransformerEmbedder()
    asked = read_questions(questions)
    vectors = embedder.encode([embedding_text("", q.text) for q in asked])
    signals: list[tuple[float, ...]] = []
    right: list[bool] = []
    groups: list[int] = []
    for group, kb in enumerate(kbs):
        index = AnswerIndex.build(read_folder(kb), embedder, precision=0.97)
        decisions = index.decide([q.text for q in asked], vectors)
        for question, decision in zip(asked, decisions, strict=True):
            assert decision.evidence is not None
            signals.append(confidence_signals(decision.evidence))
            answerable = question.article is not None
            right.append(answerable and decision.best_article == question.article)
            groups.append(group)
    calibration = fit_calibration(signals, right, groups=groups)
    print(f"CALIBRATION = {calibration.coefficients}")
    print(f"PRECISION_THRESHOLDS = {calibration.precision_thresholds}")


def main() -> None:
    """Builds the CSV, evaluates both ways, prints the figures (or fits, with --fit)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", default="test", choices=("test", "validation"))
    parser.add_argument("--fit", action="store_true", help="refit the calibration")
    args = parser.parse_args()
    split = SHARED_DATA / "bitext-customer-service" / f"{args.split}.csv"
    if args.fit and args.split != "validation":
        raise SystemExit("--fit fits on the validation split: add --split validation")
    with tempfile.TemporaryDirectory(prefix="bench-kb-") as tmp:
        questions = Path(tmp) / "questions.csv"
        rows = write_csv(split, questions)
        without_questions(Path(tmp) / "kb")
        if args.fit:
            fit(questions, [KB, Path(tmp) / "kb"])
            return
        print(f"Bitext {args.split}: {rows} questions; left out: {', '.join(sorted(LEFT_OUT))}")
        for label, kb in (("with questions", KB), ("without questions", Path(tmp) / "kb")):
            report = run_eval(questions, kb)
            s = report["at_setting"]
            assert isinstance(s, dict)
            print(
                f"{label}: threshold {s['threshold']:.3f}: precision {s['precision']:.4f}, "
                f"answerable answered right {s['coverage']:.4f} ({s['answered_right']} right, "
                f"{s['answered_wrong']} wrong, {s['abstained']} abstained of "
                f"{s['answerable']}), unanswerable answered "
                f"{s['unanswerable_answered_share']:.4f} ({s['unanswerable_answered']} of "
                f"{s['unanswerable']})"
            )
            curve = report["curve"]
            assert isinstance(curve, list)
            for point in curve:
                print(
                    f"    at {point['threshold']:.2f}: precision {point['precision']:.4f}, "
                    f"right {point['coverage']:.4f}, unanswerable answered "
                    f"{point['unanswerable_answered_share']:.4f}"
                )


if __name__ == "__main__":
    main()
