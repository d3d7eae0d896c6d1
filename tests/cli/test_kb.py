"""``inbox kb import``, ``inbox kb ask`` and ``inbox kb eval`` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.articles import write_sample_articles
from tests.support.cli import config_file, run_inbox


def test_ask_answers_from_the_configured_folder_and_says_why(tmp_path: Path) -> None:
    folder = write_sample_articles(tmp_path / "kb")
    config = config_file(tmp_path, kb={"path": str(folder), "precision": 0.97})
    result = run_inbox("kb", "ask", "How can I reset my password?", config=config)
    assert result.returncode == 0, result.stderr
    assert "article: reset-password (Resetting your password)" in result.stdout
    assert "threshold 0.970" in result.stdout
    assert "passage: On the sign-in page choose Forgot password?" in result.stdout
    assert "evidence: question" in result.stdout
    (tmp_path / "bare").mkdir()
    bare = config_file(tmp_path / "bare", kb={"path": ""})
    missing = run_inbox("kb", "ask", "hello", config=bare)
    assert missing.returncode == 1
    assert "no knowledge base: set [kb] path" in missing.stderr


def test_ask_file_gives_one_json_line_per_question_in_order(tmp_path: Path) -> None:
    folder = write_sample_articles(tmp_path / "kb")
    questions = tmp_path / "questions.txt"
    lines = ["Where is my order?", "asdf qwerty", "What are your opening hours?"]
    questions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_inbox(
        "kb", "ask", "--json", "--file", str(questions), "--kb", str(folder),
        config=config_file(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["text"] for a in answers] == lines
    assert [a["article"] for a in answers] == ["track-order", None, "opening-hours"]
    assert all(set(a) == {"text", "article", "confidence", "reason"} for a in answers)
    assert answers[0]["reason"] == "" and answers[0]["confidence"] >= 0.97
    assert answers[1]["reason"].startswith("nothing in the articles is close to it")


def test_eval_counts_right_wrong_and_abstained(tmp_path: Path) -> None:
    folder = write_sample_articles(tmp_path / "kb")
    rows = tmp_path / "questions.csv"
    rows.write_text(
        "text,article\n"
        "How do I reset my password?,reset-password\n"
        "Where is my order?,opening-hours\n"
        "The mitochondria is the powerhouse of the cell,\n"
        "What are your opening hours?,\n",
        encoding="utf-8",
    )
    config = config_file(tmp_path)
    result = run_inbox("kb", "eval", str(rows), "--kb", str(folder), "--json", config=config)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    at = report["at_setting"]
    assert (at["answerable"], at["answered_right"], at["answered_wrong"]) == (2, 1, 1)
    assert (at["unanswerable"], at["unanswerable_answered"]) == (2, 1)
    assert at["precision"] == 1 / 3 and at["coverage"] == 0.5
    assert at["threshold"] == report["precision_setting"] == 0.97
    assert [p["threshold"] for p in report["curve"]][-1] == 0.99
    printed = run_inbox("kb", "eval", str(rows), "--kb", str(folder), config=config)
    assert "answerable       2: right 1, wrong 1, abstained 0" in printed.stdout
    assert "unanswerable     2: answered 1" in printed.stdout


def test_import_loads_the_folder_once_and_then_finds_nothing_new(tmp_path: Path) -> None:
    folder = write_sample_articles(tmp_path / "kb")
    config = config_file(tmp_path, kb={"path": str(folder)})
    first = run_inbox("kb", "import", config=config)
    assert first.returncode == 0, first.stderr
    count = len(list(folder.glob("*.md")))
    assert f"kb: {count} articles: {count} new, 0 updated, 0 unchanged" in first.stdout
    again = run_inbox("kb", "import", config=config)
    assert f"kb: {count} articles: 0 new, 0 updated, {count} unchanged" in again.stdout
