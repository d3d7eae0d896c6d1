"""The Telegram channel configured against the Bot API stand-in on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inbox.config.settings import Settings, parse_settings
from tests.support.config import make_raw_config
from tests.support.telegram_api import BotApi

TOKEN_ENV = "TEST_TELEGRAM_TOKEN"
ANN = 424242  # a customer's chat id


def telegram_config(
    tmp_path: Path, api: BotApi, monkeypatch: pytest.MonkeyPatch, **extra: Any
) -> dict[str, Any]:
    """The test configuration with ``[channels.telegram]`` pointed at ``api``."""
    monkeypatch.setenv(TOKEN_ENV, api.token)
    raw = make_raw_config(tmp_path)
    raw["channels"]["telegram"] = {
        "token_env": TOKEN_ENV,
        "base_url": api.base_url,
        "poll_timeout": 5,
        "reconnect_backoff": 0.05,
        "reconnect_backoff_max": 0.5,
        **extra,
    }
    raw["outbox"] = {"retry_backoff": 0.1, "poll_interval": 0.05}
    return raw


def telegram_settings(
    tmp_path: Path, api: BotApi, monkeypatch: pytest.MonkeyPatch, **extra: Any
) -> Settings:
    """``telegram_config``, validated."""
    return parse_settings(telegram_config(tmp_path, api, monkeypatch, **extra), tmp_path)
