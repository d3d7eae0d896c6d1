"""Shared fixtures: settings in a temp folder, the real model, a running service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from classifiers.embedder import SentenceTransformerEmbedder
from inbox.config.settings import Settings
from inbox.service.app import InboxService
from tests.support.config import make_settings, without_bot
from tests.support.service import Running

# The two back-ends (``backend``), the real mail servers' fixtures (``dovecot``,
# ``smtp_server``), a configured ``mailbox`` on them, headless Chromium (``browser``) and
# the Bot API stand-in (``bot_api``), for every test module.
pytest_plugins = [
    "tests.support.backends",
    "tests.support.mailservers",
    "tests.support.smtp_server",
    "tests.support.mailbox",
    "tests.support.browser",
    "tests.support.telegram_api",
]


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2, loaded once for the whole run."""
    return SentenceTransformerEmbedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Test settings in a temp folder, with the knowledge-base bot silent: most tests follow
    a message's acknowledgement, which the example articles would often replace. The bot's
    own tests (tests/kb/test_bot_*.py, the dashboard's bot figures) ask for ``bot_settings``."""
    return without_bot(make_settings(tmp_path))


@pytest.fixture
def bot_settings(tmp_path: Path) -> Settings:
    """The shipped configuration as it is: the bot answers what it is sure of."""
    return make_settings(tmp_path)


@pytest.fixture
async def running(
    settings: Settings, embedder: SentenceTransformerEmbedder
) -> AsyncIterator[Running]:
    """The whole product on a free port, with the real model."""
    service = InboxService(settings, embedder=embedder)
    await service.start()
    # Like a browser, the client keeps cookies (the form's submitter cookie among them),
    # also for 127.0.0.1.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Running(service, http, f"http://127.0.0.1:{service.port}")
    await service.stop()


@pytest.fixture
async def service_factory(
    embedder: SentenceTransformerEmbedder,
) -> AsyncIterator[Callable[[Settings], Any]]:
    """Starts the product on given settings (several, if a test needs them); stops them all."""
    started: list[InboxService] = []

    async def start(settings: Settings) -> InboxService:
        service = InboxService(settings, embedder=embedder)
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        if service.engine is not None:
            await service.stop()
