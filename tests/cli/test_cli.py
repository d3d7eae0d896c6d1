"""The ``inbox`` command as a user runs it."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import pytest

from tests.support.cli import config_file, run_inbox
from tests.support.config import default_config


def test_a_wrong_value_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    raw = default_config()
    raw["teams"][2]["examples"] = []
    result = run_inbox("serve", config=config_file(tmp_path, teams=raw["teams"]))
    assert result.returncode == 2
    assert "configuration error: teams[2].examples: must be a non-empty list" in result.stderr


def test_a_bad_health_port_in_the_environment_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was read while the parser was built, outside the error handling: a traceback."""
    monkeypatch.setenv("INBOX_HEALTH_PORT", "abc")
    config = config_file(tmp_path)
    for command in (("serve", "--role", "worker"), ("worker",)):
        result = run_inbox(*command, config=config)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert "configuration error: INBOX_HEALTH_PORT: 'abc' is not a port number" in (
            result.stderr
        )
    assert run_inbox("queue", config=config).returncode == 0


def test_agent_add_prints_a_token_once_and_refuses_unknown_teams(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    added = run_inbox("agent", "add", "ana", "--team", "billing", "--team", "orders", config=config)
    assert added.returncode == 0, added.stderr
    assert "agent ana added to billing, orders" in added.stdout
    assert "token: ibx_" in added.stdout
    again = run_inbox("agent", "add", "ana", "--team", "billing", config=config)
    assert again.returncode == 1 and "already exists" in again.stderr
    unknown = run_inbox("agent", "add", "bo", "--team", "nowhere", config=config)
    assert unknown.returncode == 2 and "unknown team 'nowhere'" in unknown.stderr


def test_user_add_sets_role_and_password_and_password_resets(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    generated = run_inbox(
        "user", "add", "sue", "--team", "billing", "--role", "supervisor", config=config
    )
    assert generated.returncode == 0, generated.stderr
    assert "supervisor sue added to billing" in generated.stdout
    password = re.search(r"^password: (\S+)$", generated.stdout, re.M)
    assert password is not None and len(password.group(1)) >= 12
    os.environ["INBOX_TEST_PASSWORD"] = "short"
    try:
        short = run_inbox(
            "user", "password", "sue", "--password-env", "INBOX_TEST_PASSWORD", config=config
        )
        assert short.returncode == 1 and "at least 10 characters" in short.stderr
        os.environ["INBOX_TEST_PASSWORD"] = "long enough passphrase"
        reset = run_inbox(
            "user", "password", "sue", "--password-env", "INBOX_TEST_PASSWORD", config=config
        )
        assert reset.returncode == 0 and "new password for sue set" in reset.stdout
    finally:
        del os.environ["INBOX_TEST_PASSWORD"]
    rows = sqlite3.connect(tmp_path / "inbox.db").execute("SELECT role, password_hash FROM agents")
    [(role, hashed)] = list(rows)
    assert role == "supervisor" and str(hashed).startswith("$argon2id$")


def test_route_shows_team_confidence_and_evidence(tmp_path: Path) -> None:
    result = run_inbox("route", "I was charged twice for one order", config=config_file(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "team: billing"
    assert lines[1].startswith("confidence: ")
    assert lines[2] == "priority: normal" and lines[3] == "language: en"
    assert lines[4] == "nearest examples:" and "billing" in lines[5]


def test_route_shows_urgency_by_meaning_and_spam(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    urgent = run_inbox("route", "The charger exploded and burned my hand", config=config)
    assert urgent.returncode == 0, urgent.stderr
    assert "priority: urgent; urgent in meaning: like " in urgent.stdout
    spam = run_inbox("route", "Get more Instagram followers cheaply", config=config)
    assert "spam: it would be quarantined, not answered" in spam.stdout


def test_train_makes_a_model_the_router_then_uses(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    result = run_inbox("train", "--epochs", "1", config=config)
    assert result.returncode == 0, result.stderr
    assert "training on 50 examples for 5 teams (0 of them agents' corrections)" in result.stdout
    assert "fine-tuning [" in result.stderr  # the progress bar
    assert "no unlabelled messages in the store yet" in result.stdout
    assert not (tmp_path / "var" / "model" / "inbox-history.npz").exists()
    report = json.loads((tmp_path / "var" / "model" / "inbox-training.json").read_text())
    assert report["examples"] == 50 and report["labels"] == 5 and report["steps"] >= 1
    routed = run_inbox("route", "--json", "I was charged twice for one order", config=config)
    assert json.loads(routed.stdout)["team"] == "billing"


PHRASES = {
    "parcel": [
        "my parcel is late",
        "the delivery never came",
        "where is my package",
        "my order has not arrived",
        "the courier lost my box",
        "still waiting for my shipment",
    ],
    "refund": [
        "I want my money back",
        "please refund my payment",
        "how long does a refund take",
        "return the amount you charged",
        "I was promised a refund",
        "give me a refund for the order",
    ],
    "login": [
        "I cannot sign in",
        "my password does not work",
        "the login page rejects me",
        "I am locked out of my account",
        "reset my password please",
        "two-factor code never arrives",
    ],
}


def test_eval_reports_intents_out_of_scope_pairs_and_triage_as_json(tmp_path: Path) -> None:
    for name, rows in (("train", slice(0, 4)), ("test", slice(4, 6))):
        lines = ["text,label"] + [
            f"{text},{label}" for label, texts in PHRASES.items() for text in texts[rows]
        ]
        (tmp_path / f"{name}.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "eval.json"
    result = run_inbox(
        "eval",
        str(tmp_path / "test.csv"),
        "--shots", "2", "--seed", "0", "--seed", "1",
        "--fine-tune", "--epochs", "1",
        "--oos-holdout", "1", "--pairs", "--triage",
        "--json-out", str(out),
        config=config_file(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "encoder: all-MiniLM-L6-v2 fine-tuned (1 epochs)" in result.stdout
    report = json.loads(out.read_text())
    seeds = report["intents"]["seeds"]
    assert [s["seed"] for s in seeds] == [0, 1]
    assert all(0.0 <= s["accuracy"] <= 1.0 for s in seeds)
    assert len(report["out_of_scope"]["unseen"]) == 1
    assert 0.0 <= report["out_of_scope"]["oos_recall"] <= 1.0
    assert report["duplicates"]["pairs"] == 12  # one positive and one negative per test row
    assert report["triage"]["messages"] == 6 and report["triage"]["kinds"]["spam"]["flagged"] == 0


def test_queue_command_reports_depth_and_dead_letters(tmp_path: Path) -> None:
    result = run_inbox("queue", config=config_file(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["pending: 0", "dead letters: 0"]


def test_bench_runs_end_to_end_and_reports_its_figures(tmp_path: Path) -> None:
    texts = tmp_path / "texts.csv"
    texts.write_text("text\nwhere is my parcel\nI was charged twice\nI cannot log in\n")
    result = run_inbox(
        "bench",
        "-n",
        "30",
        "--texts",
        str(texts),
        "--concurrency",
        "4",
        config=config_file(tmp_path),
    )
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout
    assert "raw encode:" in out and "pipeline:" in out and "latency accepted" in out
    assert "router + deduper + triage: " in out and "on top of the raw encode" in out
    # The bot answers some of these ("where is my parcel"): its answer counts as the first.
    assert "answer step (knowledge base): " in out and "sure enough to answer" in out
    ratio = float(out.split("ratio pipeline / raw encode: ")[1].split()[0])
    assert ratio > 0
