"""Shared fixtures: settings in a temp folder, the real model, a running service."""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from classifiers.embedder import SentenceTransformerEmbedder
from inbox.config.settings import Settings, parse_settings
from inbox.service.app import InboxService

# The real mail servers' fixtures (``dovecot``, ``smtp_server``), a configured ``mailbox``
# on them, headless Chromium
# (``browser``) and the Bot API stand-in (``bot_api``), for every test module.
pytest_plugins = [
    "tests.backends",
    "tests.mailservers",
    "tests.mailbox",
    "tests.browser",
    "tests.telegram_api",
]

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


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
    from tests import backends  # a plugin: imported by pytest first

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


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2, loaded once for the whole run."""
    return SentenceTransformerEmbedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Test settings in a temp folder."""
    return make_settings(tmp_path)


@dataclass
class Running:
    """A started service and an HTTP client pointed at it."""

    service: InboxService
    http: aiohttp.ClientSession
    base: str

    async def agent_token(self, name: str, *teams: str, role: str = "agent") -> str:
        """Creates a person through the store's account API (as ``inbox user add`` does),
        with the tests' password; returns their API token."""
        from inbox.store.accounts import Accounts
        from tests.browser import TEST_PASSWORD

        assert self.service.engine is not None
        _agent, token = await Accounts(self.service.engine).add_agent(
            name, list(teams), role=role, password=TEST_PASSWORD
        )
        return token

    async def api(self, method: str, path: str, token: str, json: Any = None) -> tuple[int, Any]:
        """Calls the agent API; returns status and parsed body (None when empty)."""
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.request(method, self.base + path, json=json, headers=headers) as r:
            body = await r.json() if r.content_type == "application/json" else None
            return r.status, body

    async def submit(self, **fields: str) -> dict[str, Any]:
        """Posts one message to the JSON intake endpoint."""
        async with self.http.post(self.base + "/api/messages", json=fields) as r:
            assert r.status in (200, 202), await r.text()
            body: dict[str, Any] = await r.json()
            return body


async def until(
    check: Callable[[], Awaitable[Any] | Any], *, timeout: float = 30.0, interval: float = 0.05
) -> Any:
    """Re-checks observable state until ``check`` returns something truthy (``check`` may
    be a coroutine function or a plain one)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


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


@dataclass
class Store:
    """Read-only SQL on the store (SQLite file or PostgreSQL), for assertions; the SQL uses
    ``?`` placeholders."""

    url: str

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if not self.url.startswith("sqlite"):
            from tests.backends import postgres_rows

            return postgres_rows(self.url, sql, args)
        conn = sqlite3.connect(self.url.split("///", 1)[1], timeout=30)
        try:
            return list(conn.execute(sql, args).fetchall())
        finally:
            conn.close()

    def count(self, sql: str, *args: Any) -> int:
        return int(self.rows(sql, *args)[0][0])


def store_of(settings: Settings) -> Store:
    return Store(settings.store.url)


def assert_each_stored_once(store: Store, count: int) -> None:
    """Every message stored once, one ticket each, one acknowledgement each."""
    assert store.count("SELECT count(*) FROM messages WHERE direction='in'") == count
    assert (
        store.count("SELECT count(DISTINCT external_id) FROM messages WHERE direction='in'")
        == count
    )
    assert store.count("SELECT count(*) FROM conversations") == count
    # One acknowledgement per ticket: nobody got two answers for one question.
    assert store.count("SELECT count(*) FROM outbox WHERE kind='acknowledgement'") == count
    assert (
        store.count(
            "SELECT count(DISTINCT conversation_id) FROM outbox WHERE kind='acknowledgement'"
        )
        == count
    )
