"""The ``inbox`` command as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from inbox import tomlwrite
from tests.conftest import ROOT, default_config


def _inbox(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inbox.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def _config(tmp_path: Path, **changes: object) -> Path:
    raw = default_config()
    raw["inbox"]["data_dir"] = str(tmp_path / "var")
    raw["store"]["url"] = f"sqlite+aiosqlite:///{tmp_path}/inbox.db"
    raw["queue"]["path"] = str(tmp_path / "queue.db")
    raw.update(changes)
    path = tmp_path / "config.toml"
    path.write_text(tomlwrite.dumps(raw))
    return path


def test_a_wrong_value_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    raw = default_config()
    raw["teams"][2]["examples"] = []
    result = _inbox("serve", config=_config(tmp_path, teams=raw["teams"]))
    assert result.returncode == 2
    assert "configuration error: teams[2].examples: must be a non-empty list" in result.stderr


def test_agent_add_prints_a_token_once_and_refuses_unknown_teams(tmp_path: Path) -> None:
    config = _config(tmp_path)
    added = _inbox("agent", "add", "ana", "--team", "billing", "--team", "orders", config=config)
    assert added.returncode == 0, added.stderr
    assert "agent ana added to billing, orders" in added.stdout
    assert "token: ibx_" in added.stdout
    again = _inbox("agent", "add", "ana", "--team", "billing", config=config)
    assert again.returncode == 1 and "already exists" in again.stderr
    unknown = _inbox("agent", "add", "bo", "--team", "nowhere", config=config)
    assert unknown.returncode == 2 and "unknown team 'nowhere'" in unknown.stderr


def test_route_shows_team_confidence_and_evidence(tmp_path: Path) -> None:
    result = _inbox("route", "I was charged twice for one order", config=_config(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "team: billing"
    assert lines[1].startswith("confidence: ")
    assert lines[3] == "nearest examples:" and "billing" in lines[4]


def test_queue_command_reports_depth_and_dead_letters(tmp_path: Path) -> None:
    result = _inbox("queue", config=_config(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["pending: 0", "dead letters: 0"]


def test_bench_runs_end_to_end_and_reports_its_figures(tmp_path: Path) -> None:
    texts = tmp_path / "texts.csv"
    texts.write_text("text\nwhere is my parcel\nI was charged twice\nI cannot log in\n")
    result = _inbox(
        "bench", "-n", "30", "--texts", str(texts), "--concurrency", "4", config=_config(tmp_path)
    )
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout
    assert "raw encode:" in out and "pipeline:" in out and "latency accepted" in out
    ratio = float(out.split("ratio pipeline / raw encode: ")[1].split()[0])
    assert ratio > 0
