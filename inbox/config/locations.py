"""Values that come from outside the file: the secret, store and queue URLs from the
environment, passwords named by ``*_env`` keys."""

from __future__ import annotations

import os
import re
from pathlib import Path

from inbox.config.reader import TableReader
from inbox.errors import ConfigError

STORE_URL_ENV = "INBOX_STORE_URL"
QUEUE_URL_ENV = "INBOX_QUEUE_URL"


def secret(data_dir: Path, env_name: str) -> bytes:
    """The signing secret: from the environment, else generated once and kept in data_dir."""
    value = os.environ.get(env_name)
    if value:
        return value.encode()
    key_file = data_dir / "secret.key"
    if key_file.exists():
        return key_file.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32).hex().encode()
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def from_env(name: str, configured: str) -> str:
    """The environment variable ``name`` when it is set, else the configured value (read
    either way, so the file's key is known)."""
    return os.environ.get(name, "").strip() or configured


def store_url(url: str, base: Path) -> str:
    """The store's SQLAlchemy URL: a relative SQLite path becomes relative to the config
    file's folder; ``postgresql://`` and ``postgres://`` get the asyncpg driver."""
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix):
        if not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(base / url[len(prefix) :])
        return url
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain) :]
    if url.startswith("postgresql+asyncpg://"):
        return url
    raise ConfigError(
        f"store.url (or {STORE_URL_ENV}): '{without_password(url)}' is neither "
        "sqlite+aiosqlite:///PATH nor postgresql://USER@HOST/DATABASE"
    )


def queue_url(url: str) -> str:
    """The queue's Redis URL, or "" for the embedded queue."""
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"queue.url (or {QUEUE_URL_ENV}): '{without_password(url)}' is not a redis:// "
            "URL; leave it empty for the embedded queue"
        )
    return url


def without_password(url: str) -> str:
    """``url`` with any password replaced, for error messages."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def password(r: TableReader, name: str, user: str) -> str:
    """The password named by ``<name>`` (an environment variable), or "" without a user."""
    env_name = r.string(name, "", allow_empty=True)
    if not user:
        return ""
    if not env_name:
        raise ConfigError(f"{r.key(name)}: name the environment variable holding the password")
    value = os.environ.get(env_name)
    if value is None:
        raise ConfigError(f"{r.key(name)}: the environment variable {env_name} is not set")
    return value
