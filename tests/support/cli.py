"""The ``inbox`` command run as a user runs it, on a config file in a temp folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from inbox import tomlwrite
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
