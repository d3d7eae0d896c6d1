"""The shipped configuration, moved into a test's temp folder and tuned for fast tests."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from inbox.config.settings import Settings, parse_settings
from tests.support import backends
from tests.support.paths import ROOT


def default_config() -> dict[str, Any]:
    """The shipped config.toml, parsed."""
    return tomllib.loads((ROOT / "config.toml").read_text())


def make_settings(tmp_path: Path, **overrides: dict[str, Any]) -> Settings:
    """The shipped configuration, moved into ``tmp_path`` and tuned for fast tests."""
    return parse_settings(make_raw_config(tmp_path, **overrides), tmp_path)


def make_raw_config(tmp_path: Path, **overrides: dict[str, Any]) -> dict[str, Any]:
    """``make_settings`` before validation: a TOML-shaped dict to adjust further."""
    raw = default_config()
    raw["inbox"]["data_dir"] = str(tmp_path / "var")
    raw["store"]["url"] = f"sqlite+aiosqlite:///{tmp_path}/inbox.db"
    raw["queue"].update(path=str(tmp_path / "queue.db"), retry_backoff=0.05, poll_interval=0.05)
    raw["outbox"].update(retry_backoff=0.05, poll_interval=0.05)
    raw["web"]["port"] = 0
    # The shipped example articles, as an installation beside its config.toml finds them.
    raw["kb"]["path"] = str(ROOT / "inbox" / "kb" / "examples")
    if backends.current() == "scaled":
        raw["store"]["url"] = backends.scaled_store(tmp_path)
        queue_url, queue_name = backends.scaled_queue(tmp_path)
        raw["queue"].update(url=queue_url, name=queue_name)
    for table, values in overrides.items():
        node = raw
        for part in table.split("."):
            node = node.setdefault(part, {})
        node.update(values)
    return raw


def without_bot(settings: Settings) -> Settings:
    """``settings`` with the knowledge-base bot silent: for tests of the acknowledgement
    path and the channels' transport, whose messages the example articles may answer.
    The bot has its own tests (tests/kb/test_bot_*.py)."""
    return dataclasses.replace(settings, kb=dataclasses.replace(settings.kb, answers=False))
