"""Settings of where and how the product runs: its folder, queue, store, outbox, web
server and model. Each default is written here once; ``Rule`` says the limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from inbox.config.rules import AtLeastOne, Rule, at_most, matching, without_trailing_slash


@dataclass(frozen=True)
class InboxTable:
    """The ``[inbox]`` table: the product's folder, its secret and the repeat filter."""

    data_dir: Path = Path("var")  # the signing key and the SQLite files live here
    # The variable holding the signing secret (a name, not a secret); set it when several
    # processes share one store.
    secret_env: str = "INBOX_SECRET"  # noqa: S105
    # The same text from the same customer within this window is one message.
    dedup_window_minutes: float = 60.0


@dataclass(frozen=True)
class QueueSettings:
    """The inbound queue: embedded SQLite at ``path`` by default, Redis Streams at ``url``."""

    url: str = ""
    name: Annotated[
        str, Rule(check=matching(r"[A-Za-z0-9_.-]+", "letters, digits, '.', '_' and '-' only"))
    ] = "inbox"
    path: Path = Path("var/queue.db")
    batch_size: AtLeastOne = 512  # most messages one worker pass takes
    # Seconds before a dead worker's batch is handed out again.
    visibility_timeout: Annotated[float, Rule(minimum=1.0)] = 60.0
    max_attempts: AtLeastOne = 5  # then the message goes to the dead-letter list
    retry_backoff: float = 2.0  # seconds, doubled on every try
    retry_backoff_max: float = 300.0
    poll_interval: Annotated[float, Rule(minimum=0.01)] = 0.5
    linger: float = 0.05  # seconds a pass waits for more messages once it has some


@dataclass(frozen=True)
class StoreSettings:
    """The store: any SQLAlchemy async URL (SQLite by default, PostgreSQL at scale)."""

    url: str = "sqlite+aiosqlite:///var/inbox.db"


@dataclass(frozen=True)
class OutboxSettings:
    """The outbox sender's retry policy: a temporary failure is retried, with back-off, for
    ``give_up_after_hours``; supervisors hear of an answer failing ``alert_after_minutes``."""

    retry_backoff: float = 2.0
    retry_backoff_max: float = 300.0
    give_up_after_hours: Annotated[float, Rule(minimum=0.0001)] = 72.0
    alert_after_minutes: float = 30.0
    lease_seconds: Annotated[float, Rule(minimum=1.0)] = 60.0
    poll_interval: Annotated[float, Rule(minimum=0.01)] = 0.5


@dataclass(frozen=True)
class LedgerSettings:
    """The answer ledger (``inbox ledger``): a customer's message with no delivered answer
    ``unanswered_after_minutes`` after it came is unanswered; reports look back ``days``."""

    unanswered_after_minutes: Annotated[float, Rule(minimum=0.0)] = 15.0
    days: Annotated[float, Rule(minimum=0.01)] = 30.0


def _own_address(web: dict[str, Any]) -> str:
    return f"http://{web['host']}:{web['port']}"


@dataclass(frozen=True)
class WebSettings:
    """The HTTP server for the web channels, the agent API and the pages."""

    host: str = "127.0.0.1"
    port: Annotated[int, Rule(check=at_most(65535))] = 8080
    public_url: Annotated[str, Rule(default_from=_own_address, tidy=without_trailing_slash)] = (
        f"http://{host}:{port}"
    )
    max_request_bytes: Annotated[int, Rule(minimum=1024)] = 1_048_576
    # Seconds a client gets to send a request's headers, and again its body; an idle
    # kept-alive connection closes after as long. Above a load balancer's idle timeout.
    read_timeout: Annotated[float, Rule(minimum=0.1)] = 75.0


MB = 1024 * 1024
TELEGRAM_UPLOAD_MAX = 50 * MB  # the most a bot may send as one document


@dataclass(frozen=True)
class DeskSettings:
    """The agent desk: files agents attach to answers. A larger file, or one file too
    many, is refused before anything is stored or sent."""

    attachment_max_bytes: Annotated[
        int,
        Rule(
            key="attachment_max_mb",
            unit=MB,
            minimum=0.001,
            check=at_most(TELEGRAM_UPLOAD_MAX, "must be at most 50 (Telegram's limit for bots)"),
        ),
    ] = 10 * MB
    attachment_max_count: Annotated[int, Rule(minimum=1, check=at_most(20))] = 10


@dataclass(frozen=True)
class ModelSettings:
    """The sentence-transformers model; an empty path means the bundled all-MiniLM-L6-v2."""

    path: str = ""
    batch_size: AtLeastOne = 32
