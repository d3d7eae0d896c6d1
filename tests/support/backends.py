"""The two back-ends the store and queue tests run on.

- ``embedded``: SQLite store and SQLite queue in the test's temp folder (the default).
- ``scaled``: PostgreSQL store and Redis Streams queue, on the real servers that
  ``scripts/services`` starts (``INBOX_TEST_POSTGRES``, ``INBOX_TEST_REDIS`` to point
  elsewhere). Each test folder gets a database of its own, copied from a migrated template,
  and a queue name of its own; both are removed when the run ends.

A test or module marked ``both_backends`` runs once on each.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import re
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import redis

from inbox.store.engine import create_engine, migrate

BACKENDS = ("embedded", "scaled")
POSTGRES = os.environ.get(
    "INBOX_TEST_POSTGRES", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("INBOX_TEST_REDIS", "redis://127.0.0.1:6379/0")
PREFIX = f"inbox_test_{os.getpid()}"
TEMPLATE = f"{PREFIX}_template"
T = TypeVar("T")


class _State:
    backend = "embedded"
    template_ready = False
    databases: set[str] = set()  # noqa: RUF012 - one run's bookkeeping
    queues: set[str] = set()  # noqa: RUF012


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Runs ``coro`` to completion on a loop of its own (tests call this from inside theirs)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _url(database: str) -> str:
    return POSTGRES.rsplit("/", 1)[0] + "/" + database


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _drop_leftovers() -> None:
    """Drops the databases of earlier runs that were killed before they cleaned up."""
    conn = await asyncpg.connect(POSTGRES)
    try:
        names = [r[0] for r in await conn.fetch("SELECT datname FROM pg_database")]
    finally:
        await conn.close()
    for name in names:
        found = re.fullmatch(r"inbox_test_(\d+)_\w+", name)
        if found and not _alive(int(found.group(1))):
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _make_template() -> None:
    await _drop_leftovers()
    await _admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
    await _admin(f'CREATE DATABASE "{TEMPLATE}"')
    engine = create_engine("postgresql+asyncpg" + _url(TEMPLATE)[len("postgresql") :])
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


def current() -> str:
    """The back-end of the test running now."""
    return _State.backend


def _key(folder: Path) -> str:
    return hashlib.sha256(str(folder).encode()).hexdigest()[:12]


def scaled_store(folder: Path) -> str:
    """A migrated PostgreSQL database for a test folder: the same folder always gets the
    same one (so a test can restart the service on its data)."""
    database = f"{PREFIX}_{_key(folder)}"
    if database not in _State.databases:
        if not _State.template_ready:
            run_sync(_make_template())
            _State.template_ready = True
        run_sync(_admin(f'CREATE DATABASE "{database}" TEMPLATE "{TEMPLATE}"'))
        _State.databases.add(database)
    return "postgresql+asyncpg" + _url(database)[len("postgresql") :]


def scaled_queue(folder: Path) -> tuple[str, str]:
    """``(Redis URL, queue name)`` for a test folder."""
    name = f"test-{os.getpid()}-{_key(folder)}"
    _State.queues.add(name)
    return REDIS, name


def _clean_up() -> None:
    names = sorted(_State.databases) + ([TEMPLATE] if _State.template_ready else [])
    if names:

        async def drop_all() -> None:
            # One connection, one database at a time: a connection per database at once
            # ran past PostgreSQL's max_connections once the suite had enough of them.
            conn = await asyncpg.connect(POSTGRES)
            try:
                for n in names:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')
            finally:
                await conn.close()

        run_sync(drop_all())
    if _State.queues:
        client = redis.Redis.from_url(REDIS)
        try:
            for name in _State.queues:
                keys = list(client.scan_iter(match="{" + name + "}:*", count=1000))
                for first in range(0, len(keys), 500):
                    client.delete(*keys[first : first + 500])
        finally:
            client.close()


@pytest.fixture(autouse=True)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The back-end this test runs on (``embedded`` unless it is marked ``both_backends``)."""
    _State.backend = getattr(request, "param", "embedded")
    yield _State.backend
    _State.backend = "embedded"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_backends: run on SQLite + embedded queue and on PostgreSQL + Redis"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_backends") is not None:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _clean_up()


_PLACEHOLDER = re.compile(r"\?")


def postgres_rows(url: str, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Runs test SQL written for SQLite (``?`` placeholders) on PostgreSQL."""
    numbered = iter(range(1, 1000))
    query = _PLACEHOLDER.sub(lambda _m: f"${next(numbered)}", sql)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")

    async def fetch() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(dsn)
        try:
            return [tuple(r) for r in await conn.fetch(query, *args)]
        finally:
            await conn.close()

    return run_sync(fetch())
