"""Knowledge-base benchmark: does the bot answer right, and keep quiet otherwise?

Run with ``scripts/bench-kb`` (or ``python -m tests.benchmarks.bench_kb``). The knowledge
base in ``tests/benchmarks/kb_bitext`` answers 22 of the 27 Bitext intents, one article
each, written for this benchmark; the other five (``LEFT_OUT``) have none, so their
questions are unanswerable. At run time this builds the eval CSV from the Bitext split
(intent -> article id, left-out intents -> empty) and runs ``inbox kb eval`` twice: with
the articles as written (at most 3 example questions each), and with their questions
removed. The calibration was fitted on ``validation``; report ``test`` (the default).
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

from inbox.kb.articles import read_folder
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


def main() -> None:
    """Builds the CSV, evaluates both ways, prints the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", default="test", choices=("test", "validation"))
    args = parser.parse_args()
    split = SHARED_DATA / "bitext-customer-service" / f"{args.split}.csv"
    with tempfile.TemporaryDirectory(prefix="bench-kb-") as tmp:
        questions = Path(tmp) / "questions.csv"
        rows = write_csv(split, questions)
        without_questions(Path(tmp) / "kb")
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
