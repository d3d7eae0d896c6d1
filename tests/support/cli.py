"""The ``inbox`` command run as a user runs it, on a config file in a temp folder."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inbox import tomlwrite
from inbox.config.settings import Settings, parse_settings
from tests.support.config import default_config
from tests.support.paths import ROOT


def run_inbox(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    """``inbox --config CONFIG ARGS…`` in a child process; its output, whatever its status."""
    return subprocess.run(
        [sys.executable, "-m", "inbox.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def config_file(tmp_path: Path, **changes: object) -> Path:
    """The shipped config.toml with its data in ``tmp_path`` and top-level ``changes``."""
    raw = default_config()
    raw["inbox"]["data_dir"] = str(tmp_path / "var")
    raw["store"]["url"] = f"sqlite+aiosqlite:///{tmp_path}/inbox.db"
    raw["queue"]["path"] = str(tmp_path / "queue.db")
    raw["kb"]["path"] = str(ROOT / "inbox" / "kb" / "examples")  # as beside the shipped file
    raw.update(changes)
    path = tmp_path / "config.toml"
    path.write_text(tomlwrite.dumps(raw))
    return path


def written_config(raw: dict[str, Any], tmp_path: Path) -> tuple[Settings, Path]:
    """``raw`` (a TOML-shaped test config, as ``make_raw_config`` and the channel helpers
    make it) written to ``tmp_path/config.toml``: the settings to start the service on
    and the file the ``inbox`` command reads, describing the same store, queue and
    channels."""
    path = tmp_path / "config.toml"
    path.write_text(tomlwrite.dumps(raw))
    return parse_settings(raw, tmp_path), path


@dataclass(frozen=True)
class LedgerCheck:
    """What ``inbox ledger --check --json`` said: its exit status and its report."""

    status: int
    report: dict[str, Any]

    @property
    def unanswered(self) -> list[dict[str, Any]]:
        """The unanswered contacts, each with its ticket, state, delivery and detail."""
        found: list[dict[str, Any]] = self.report["unanswered"]
        return found

    def counts(self) -> dict[tuple[str, str, str], int]:
        """``(channel, state, delivery) -> contacts``."""
        return {
            (c["channel"], c["state"], c["delivery"]): c["count"] for c in self.report["counts"]
        }


def ledger_check(config: Path) -> LedgerCheck:
    """``inbox ledger --check --json`` in a child process (blocking: run it in a thread)."""
    done = run_inbox("ledger", "--check", "--json", config=config)
    assert done.stdout.strip(), done.stderr
    return LedgerCheck(done.returncode, json.loads(done.stdout))
