"""Typed settings read from config.toml and validated at start.

A wrong value stops start-up with a ConfigError naming the key, for example
``teams[2].examples: must be a non-empty list``. Secrets never live in the file: a key
ending in ``_env`` names the environment variable that holds the secret.
"""

from __future__ import annotations

import os
import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifiers.meaning import known_language_codes
from inbox.config.reader import TableReader
from inbox.errors import ConfigError
from inbox.sla.policy import (
    SlaSettings,
    TeamSla,
    capped,
    parse_calendars,
    parse_sla,
    parse_team_sla,
)

TEAM_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class TeamSettings:
    """One team: who it is, how fast it answers, and example phrases that route to it."""

    name: str
    display_name: str
    first_response_hours: float
    examples: tuple[str, ...]
    languages: tuple[str, ...] = ()  # messages in these languages come here, whatever the topic
    sla: TeamSla = field(default_factory=TeamSla)


ALERT_KINDS = ("sla_warning", "sla_breached", "sla_escalated")


@dataclass(frozen=True)
class AlertSettings:
    """Who hears of SLA alerts besides the live dashboard, and of which kinds."""

    email: tuple[str, ...] = ()  # addresses, sent through the first mailbox
    telegram: tuple[str, ...] = ()  # chat ids of people who started the bot
    kinds: tuple[str, ...] = ("sla_breached", "sla_escalated")


CANNED_FIELDS = ("customer", "ticket", "agent", "team")


@dataclass(frozen=True)
class CannedReply:
    """A prepared answer; ``{customer}``, ``{ticket}``, ``{agent}``, ``{team}`` are filled in."""

    name: str
    text: str

    def expand(self, **values: str) -> str:
        """The text with its placeholders filled."""
        return self.text.format_map({k: values.get(k, "") for k in CANNED_FIELDS})


@dataclass(frozen=True)
class RoutingSettings:
    """How the router decides, and where it sends what it is unsure of."""

    threshold: float = 0.5
    margin: float = 0.0
    min_similarity: float = 0.2
    fallback_team: str = "triage"
    fallback_display_name: str = "Triage"
    fallback_first_response_hours: float = 8.0
    evidence_examples: int = 3


@dataclass(frozen=True)
class LinkSettings:
    """How a chat customer links their chat to their email (/link, /verify)."""

    link_via: str = ""  # the mailbox that sends the codes; empty: linking is off
    code_minutes: float = 15.0
    per_hour: int = 3


@dataclass(frozen=True)
class DedupSettings:
    """When a customer's new message is the same issue as an open one."""

    auto_merge: float = 0.7
    suggest: float = 0.5
    stitch: float = 0.6  # a new email this close to an open conversation continues it
    stitch_days: float = 14.0
    split_below: float = 0.3  # a long reply this unlike its thread, for another team: split


@dataclass(frozen=True)
class IncidentSettings:
    """When similar messages from many customers at once are one incident."""

    enabled: bool = True
    customers: int = 5
    window_minutes: float = 10.0
    similarity: float = 0.5


@dataclass(frozen=True)
class TriageSettings:
    """What makes a message urgent or a customer important."""

    urgent_phrases: tuple[str, ...] = ()
    high_phrases: tuple[str, ...] = ()
    vip_contacts: tuple[str, ...] = ()
    urgent_examples: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()
    spam_examples: tuple[str, ...] = ()
    urgent_similarity: float = 0.5
    negative_similarity: float = 0.45
    spam_similarity: float = 0.5
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueSettings:
    """The inbound queue: embedded SQLite at ``path`` by default, Redis Streams at ``url``."""

    url: str = ""
    name: str = "inbox"
    path: Path = Path("var/queue.db")
    batch_size: int = 512
    visibility_timeout: float = 60.0
    max_attempts: int = 5
    retry_backoff: float = 2.0
    retry_backoff_max: float = 300.0
    poll_interval: float = 0.5
    linger: float = 0.05


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
    give_up_after_hours: float = 72.0
    alert_after_minutes: float = 30.0
    lease_seconds: float = 60.0
    poll_interval: float = 0.5


@dataclass(frozen=True)
class WebSettings:
    """The HTTP server for the web channels, the agent API and the pages."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    max_request_bytes: int = 1_048_576
    # Seconds a client gets to send a request's headers, and again its body; an idle
    # kept-alive connection closes after as long. Above a load balancer's idle timeout.
    read_timeout: float = 75.0


@dataclass(frozen=True)
class FormSettings:
    """The web form channel."""

    enabled: bool = True
    max_message_chars: int = 20_000
    max_body_bytes: int = 65_536
    rate_limit_per_minute: int = 20
    # How long a receipt waits for the worker's decision, to name the ticket the message
    # really joined (0: answer with the message's own reference at once).
    receipt_wait_seconds: float = 3.0


@dataclass(frozen=True)
class ChatSettings:
    """The web chat channel."""

    enabled: bool = True
    max_message_chars: int = 4_000
    rate_limit_per_minute: int = 60


@dataclass(frozen=True)
class EmailSettings:
    """One mailbox of the email channel: IMAP in, SMTP out.

    ``name`` is the channel its tickets carry (``email`` for the first mailbox, by
    default); every mailbox shares the ``email`` identity, so a customer writing to two
    mailboxes (or through the web form) is one contact.
    """

    name: str
    address: str
    display_name: str
    imap_host: str
    imap_port: int
    imap_tls: str  # ssl | none
    imap_user: str
    imap_password: str = field(repr=False)
    smtp_host: str
    smtp_port: int
    smtp_tls: str  # ssl | starttls | none
    smtp_user: str
    smtp_password: str = field(repr=False)
    folder: str = "INBOX"
    idle: bool = True
    poll_interval: float = 60.0
    after_import: str = "keep"  # keep | seen | move
    move_to: str = ""
    fetch_batch: int = 50
    attachment_max_bytes: int = 10 * 1024 * 1024
    acknowledgements_per_hour: int = 5
    timeout: float = 30.0
    reconnect_backoff: float = 1.0
    reconnect_backoff_max: float = 300.0
    # IDLE is ended and re-issued this often; the server must answer within probe_timeout,
    # so a server that went silent is noticed within their sum.
    idle_renew: float = 30.0
    probe_timeout: float = 5.0


@dataclass(frozen=True)
class TelegramSettings:
    """The Telegram bot: long polling in, ``sendMessage`` out.

    ``base_url`` and ``base_file_url`` point at the Bot API (the public one by default, a
    local Bot API server or a test stand-in otherwise). ``link_via`` names the email
    channel that sends ``/link`` codes ("" = the first mailbox).
    """

    token: str = field(repr=False)
    name: str = "telegram"
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    poll_timeout: int = 25
    poll_limit: int = 100
    attachment_max_bytes: int = 20 * 1024 * 1024
    timeout: float = 30.0
    reconnect_backoff: float = 1.0
    reconnect_backoff_max: float = 300.0
    link_via: str = ""
    link_code_minutes: float = 15.0
    links_per_hour: int = 3


@dataclass(frozen=True)
class ModelSettings:
    """The sentence-transformers model; an empty path means the bundled all-MiniLM-L6-v2."""

    path: str = ""
    batch_size: int = 32


@dataclass(frozen=True)
class Settings:
    """Everything the product needs to start."""

    data_dir: Path
    secret: bytes
    dedup_window_minutes: float
    teams: tuple[TeamSettings, ...]
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    triage: TriageSettings = field(default_factory=TriageSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    web: WebSettings = field(default_factory=WebSettings)
    form: FormSettings = field(default_factory=FormSettings)
    chat: ChatSettings = field(default_factory=ChatSettings)
    email: tuple[EmailSettings, ...] = ()
    telegram: TelegramSettings | None = None
    model: ModelSettings = field(default_factory=ModelSettings)
    dedup: DedupSettings = field(default_factory=DedupSettings)
    linking: LinkSettings = field(default_factory=LinkSettings)
    incidents: IncidentSettings = field(default_factory=IncidentSettings)
    sla: SlaSettings = field(default_factory=SlaSettings)
    canned: tuple[CannedReply, ...] = ()
    alerts: AlertSettings = field(default_factory=AlertSettings)
    csat: bool = True  # ask for a rating after the first resolution

    def team(self, name: str) -> TeamSettings:
        """The team called ``name``, the fallback team included."""
        for team in self.all_teams:
            if team.name == name:
                return team
        raise KeyError(name)

    @property
    def email_channels(self) -> frozenset[str]:
        """The channel names of the configured mailboxes."""
        return frozenset(box.name for box in self.email)

    @property
    def all_teams(self) -> tuple[TeamSettings, ...]:
        """The configured teams plus the fallback (triage) team."""
        fallback = TeamSettings(
            name=self.routing.fallback_team,
            display_name=self.routing.fallback_display_name,
            first_response_hours=self.routing.fallback_first_response_hours,
            examples=(),
            sla=TeamSla(
                targets=capped(self.sla.targets, self.routing.fallback_first_response_hours)
            ),
        )
        return (*self.teams, fallback)


def _resolve(base: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else base / path


def _secret(data_dir: Path, env_name: str) -> bytes:
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


STORE_URL_ENV = "INBOX_STORE_URL"
QUEUE_URL_ENV = "INBOX_QUEUE_URL"


def _from_env(name: str, configured: str) -> str:
    """The environment variable ``name`` when it is set, else the configured value (read
    either way, so the file's key is known)."""
    return os.environ.get(name, "").strip() or configured


def _store_url(url: str, base: Path) -> str:
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
        f"store.url (or {STORE_URL_ENV}): '{_without_password(url)}' is neither "
        "sqlite+aiosqlite:///PATH nor postgresql://USER@HOST/DATABASE"
    )


def _queue_url(url: str) -> str:
    """The queue's Redis URL, or "" for the embedded queue."""
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"queue.url (or {QUEUE_URL_ENV}): '{_without_password(url)}' is not a redis:// "
            "URL; leave it empty for the embedded queue"
        )
    return url


def _without_password(url: str) -> str:
    """``url`` with any password replaced, for error messages."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def _password(r: TableReader, name: str, user: str) -> str:
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


def _choice(r: TableReader, name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = r.string(name, default)
    if value not in allowed:
        raise ConfigError(f"{r.key(name)}: must be one of {', '.join(allowed)}")
    return value


def _email_settings(raw: Any) -> tuple[EmailSettings, ...]:
    """``[[channels.email]]``: one table per mailbox."""
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ConfigError("channels.email: must be a list of [[channels.email]] tables")
    boxes: list[EmailSettings] = []
    for i, entry in enumerate(raw):
        r = TableReader(entry, f"channels.email[{i}]")
        if not r.boolean("enabled", True):
            r.seen.update(r.table)
            continue
        name = r.string("name", "email" if i == 0 else f"email-{i + 1}")
        if not set(name) <= TEAM_NAME_CHARS or not name.startswith("email"):
            raise ConfigError(
                f"{r.key('name')}: start with 'email' and use lower-case letters, digits, '-'"
            )
        if any(box.name == name for box in boxes):
            raise ConfigError(f"{r.key('name')}: '{name}' is used twice")
        address = r.string("address").strip().lower()
        if "@" not in address or any(c in address for c in " \r\n<>"):
            raise ConfigError(f"{r.key('address')}: must be a plain address like help@example.com")
        imap_user = r.string("imap_user", address, allow_empty=True)
        smtp_user = r.string("smtp_user", "", allow_empty=True)
        imap_tls = _choice(r, "imap_tls", "ssl", ("ssl", "none"))
        smtp_tls = _choice(r, "smtp_tls", "starttls", ("ssl", "starttls", "none"))
        after = _choice(r, "after_import", "keep", ("keep", "seen", "move"))
        box = EmailSettings(
            name=name,
            address=address,
            display_name=r.string("display_name", "Support"),
            imap_host=r.string("imap_host"),
            imap_port=r.integer("imap_port", 993 if imap_tls == "ssl" else 143, minimum=1),
            imap_tls=imap_tls,
            imap_user=imap_user,
            imap_password=_password(r, "imap_password_env", imap_user),
            smtp_host=r.string("smtp_host"),
            smtp_port=r.integer("smtp_port", 465 if smtp_tls == "ssl" else 587, minimum=1),
            smtp_tls=smtp_tls,
            smtp_user=smtp_user,
            smtp_password=_password(r, "smtp_password_env", smtp_user),
            folder=r.string("folder", "INBOX"),
            idle=r.boolean("idle", True),
            poll_interval=r.number("poll_interval", 60.0, minimum=0.05),
            after_import=after,
            move_to=r.string("move_to", "", allow_empty=after != "move"),
            fetch_batch=min(r.integer("fetch_batch", 50, minimum=1), 200),
            attachment_max_bytes=int(r.number("attachment_max_mb", 10.0) * 1024 * 1024),
            acknowledgements_per_hour=r.integer("acknowledgements_per_hour", 5, minimum=1),
            timeout=r.number("timeout", 30.0, minimum=0.1),
            reconnect_backoff=r.number("reconnect_backoff", 1.0, minimum=0.01),
            reconnect_backoff_max=r.number("reconnect_backoff_max", 300.0, minimum=0.01),
            idle_renew=min(r.number("idle_renew", 30.0, minimum=0.05), 25 * 60.0),
            probe_timeout=r.number("probe_timeout", 5.0, minimum=0.05),
        )
        r.finish()
        boxes.append(box)
    return tuple(boxes)


def _telegram_settings(r: TableReader, email: tuple[EmailSettings, ...]) -> TelegramSettings | None:
    """``[channels.telegram]``: off unless the table is there and ``enabled`` is not false."""
    if not r.table or not r.boolean("enabled", True):
        r.seen.update(r.table)
        return None
    env_name = r.string("token_env", "TELEGRAM_BOT_TOKEN")
    token = os.environ.get(env_name, "").strip()
    if not token:
        raise ConfigError(
            f"{r.key('token_env')}: the environment variable {env_name} holding the bot "
            "token (from @BotFather) is not set"
        )
    base_url = r.string("base_url", "https://api.telegram.org/bot").rstrip("/")
    default_files = base_url[: -len("/bot")] + "/file/bot" if base_url.endswith("/bot") else ""
    base_file_url = r.string("base_file_url", default_files).rstrip("/")
    link_via = r.string("link_via", email[0].name if email else "", allow_empty=True)
    if link_via and all(box.name != link_via for box in email):
        raise ConfigError(f"{r.key('link_via')}: no [[channels.email]] mailbox is named {link_via}")
    settings = TelegramSettings(
        token=token,
        base_url=base_url,
        base_file_url=base_file_url,
        poll_timeout=min(r.integer("poll_timeout", 25, minimum=0), 50),
        poll_limit=min(r.integer("poll_limit", 100, minimum=1), 100),
        attachment_max_bytes=int(r.number("attachment_max_mb", 20.0) * 1024 * 1024),
        timeout=r.number("timeout", 30.0, minimum=0.1),
        reconnect_backoff=r.number("reconnect_backoff", 1.0, minimum=0.01),
        reconnect_backoff_max=r.number("reconnect_backoff_max", 300.0, minimum=0.01),
        link_via=link_via,
        link_code_minutes=r.number("link_code_minutes", 15.0, minimum=1.0),
        links_per_hour=r.integer("links_per_hour", 3, minimum=1),
    )
    r.finish()
    return settings


def _alerts(
    r: TableReader, email: tuple[EmailSettings, ...], telegram: TelegramSettings | None
) -> AlertSettings:
    alerts = AlertSettings(
        email=r.strings("email", non_empty=False),
        telegram=tuple(str(v) for v in r.get("telegram", [])),
        kinds=r.strings("kinds", list(AlertSettings().kinds), non_empty=False),
    )
    r.finish()
    for i, address in enumerate(alerts.email):
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
            raise ConfigError(f"alerts.email[{i}]: {address!r} is not an email address")
    for i, chat in enumerate(alerts.telegram):
        if not re.fullmatch(r"-?\d+", chat):
            raise ConfigError(f"alerts.telegram[{i}]: must be a chat id (a number)")
    for i, kind in enumerate(alerts.kinds):
        if kind not in ALERT_KINDS:
            raise ConfigError(f"alerts.kinds[{i}]: must be one of {', '.join(ALERT_KINDS)}")
    if alerts.email and not email:
        raise ConfigError("alerts.email: needs a [[channels.email]] mailbox to send from")
    if alerts.telegram and telegram is None:
        raise ConfigError("alerts.telegram: needs [channels.telegram] to send with")
    return alerts


def _canned(raw: Any) -> tuple[CannedReply, ...]:
    if not isinstance(raw, list):
        raise ConfigError("canned: must be a list of [[canned]] tables")
    replies: list[CannedReply] = []
    for i, entry in enumerate(raw):
        r = TableReader(entry, f"canned[{i}]")
        reply = CannedReply(r.string("name"), r.string("text"))
        r.finish()
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(reply.text) if f is not None}
        except ValueError as err:
            raise ConfigError(f"canned[{i}].text: {err} (write {{{{ for a brace)") from err
        unknown = sorted(fields - set(CANNED_FIELDS))
        if unknown:
            raise ConfigError(
                f"canned[{i}].text: unknown placeholder {{{unknown[0]}}}; "
                f"use {', '.join('{' + f + '}' for f in CANNED_FIELDS)}"
            )
        replies.append(reply)
    return tuple(replies)


def parse_settings(raw: dict[str, Any], base: Path) -> Settings:
    """Validates a parsed TOML document; ``base`` anchors relative paths."""
    top = TableReader(raw, "")
    inbox = top.table_of("inbox")
    data_dir = _resolve(base, inbox.string("data_dir", "var"))
    secret_env = inbox.string("secret_env", "INBOX_SECRET")
    dedup_window = inbox.number("dedup_window_minutes", 60.0)
    inbox.finish()

    routing_t = top.table_of("routing")
    routing = RoutingSettings(
        threshold=routing_t.number("threshold", 0.5),
        margin=routing_t.number("margin", 0.0),
        min_similarity=routing_t.number("min_similarity", 0.2, minimum=-1.0),
        fallback_team=routing_t.string("fallback_team", "triage"),
        fallback_display_name=routing_t.string("fallback_display_name", "Triage"),
        fallback_first_response_hours=routing_t.number("fallback_first_response_hours", 8.0),
        evidence_examples=routing_t.integer("evidence_examples", 3, minimum=1),
    )
    routing_t.finish()
    if routing.threshold > 1:
        raise ConfigError("routing.threshold: must be between 0 and 1")

    sla = parse_sla(top.table_of("sla"), parse_calendars(top.table_of("calendars")))
    teams_raw = top.get("teams", None)
    if not isinstance(teams_raw, list) or not teams_raw:
        raise ConfigError("teams: must be a non-empty list of [[teams]] tables")
    teams: list[TeamSettings] = []
    for i, entry in enumerate(teams_raw):
        t = TableReader(entry, f"teams[{i}]")
        name = t.string("name")
        if not set(name) <= TEAM_NAME_CHARS:
            raise ConfigError(f"teams[{i}].name: use lower-case letters, digits, '-' and '_'")
        if name == routing.fallback_team:
            raise ConfigError(
                f"teams[{i}].name: '{name}' is also routing.fallback_team; "
                "the fallback team needs a name of its own"
            )
        if any(team.name == name for team in teams):
            raise ConfigError(f"teams[{i}].name: '{name}' is used twice")
        teams.append(
            TeamSettings(
                name=name,
                display_name=t.string("display_name", name.title()),
                first_response_hours=t.number("first_response_hours", 8.0),
                examples=t.strings("examples", non_empty=True),
                languages=tuple(c.lower() for c in t.strings("languages", non_empty=False)),
                sla=parse_team_sla(
                    t,
                    sla,
                    t.number("first_response_hours", 8.0)
                    if "first_response_hours" in t.table
                    else None,
                ),
            )
        )
        t.finish()
    names = {team.name for team in teams} | {routing.fallback_team}
    for i, team in enumerate(teams):
        if team.sla.escalate_to and team.sla.escalate_to not in names:
            raise ConfigError(f"teams[{i}].escalate_to: no team '{team.sla.escalate_to}'")

    triage_t = top.table_of("triage")
    triage = TriageSettings(
        urgent_phrases=tuple(
            p.lower() for p in triage_t.strings("urgent_phrases", non_empty=False)
        ),
        high_phrases=tuple(p.lower() for p in triage_t.strings("high_phrases", non_empty=False)),
        vip_contacts=tuple(p.lower() for p in triage_t.strings("vip_contacts", non_empty=False)),
        urgent_examples=triage_t.strings("urgent_examples", non_empty=False),
        negative_examples=triage_t.strings("negative_examples", non_empty=False),
        spam_examples=triage_t.strings("spam_examples", non_empty=False),
        urgent_similarity=triage_t.number("urgent_similarity", 0.5, minimum=-1.0),
        negative_similarity=triage_t.number("negative_similarity", 0.45, minimum=-1.0),
        spam_similarity=triage_t.number("spam_similarity", 0.5, minimum=-1.0),
        languages=tuple(c.lower() for c in triage_t.strings("languages", non_empty=False)),
    )
    triage_t.finish()
    known = known_language_codes()
    for i, team in enumerate(teams):
        for code in team.languages:
            if code not in triage.languages:
                raise ConfigError(
                    f"teams[{i}].languages: '{code}' is not among triage.languages "
                    f"({', '.join(triage.languages) or 'none'}), so it is never detected"
                )
    for code in triage.languages:
        if code not in known:
            raise ConfigError(f"triage.languages: '{code}' is not an ISO 639-1 code lingua knows")

    q = top.table_of("queue")
    queue = QueueSettings(
        url=_queue_url(_from_env(QUEUE_URL_ENV, q.string("url", "", allow_empty=True))),
        name=q.string("name", "inbox"),
        path=_resolve(base, q.string("path", "var/queue.db")),
        batch_size=q.integer("batch_size", 512, minimum=1),
        visibility_timeout=q.number("visibility_timeout", 60.0, minimum=1.0),
        max_attempts=q.integer("max_attempts", 5, minimum=1),
        retry_backoff=q.number("retry_backoff", 2.0),
        retry_backoff_max=q.number("retry_backoff_max", 300.0),
        poll_interval=q.number("poll_interval", 0.5, minimum=0.01),
        linger=q.number("linger", 0.05),
    )
    q.finish()
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", queue.name):
        raise ConfigError("queue.name: letters, digits, '.', '_' and '-' only")

    s = top.table_of("store")
    store = StoreSettings(
        url=_store_url(
            _from_env(STORE_URL_ENV, s.string("url", "sqlite+aiosqlite:///var/inbox.db")), base
        )
    )
    s.finish()

    o = top.table_of("outbox")
    o.get("max_attempts", None)  # no longer used (answers are retried for hours); tolerated
    outbox = OutboxSettings(
        retry_backoff=o.number("retry_backoff", 2.0),
        retry_backoff_max=o.number("retry_backoff_max", 300.0),
        give_up_after_hours=o.number("give_up_after_hours", 72.0, minimum=0.0001),
        alert_after_minutes=o.number("alert_after_minutes", 30.0),
        lease_seconds=o.number("lease_seconds", 60.0, minimum=1.0),
        poll_interval=o.number("poll_interval", 0.5, minimum=0.01),
    )
    o.finish()

    w = top.table_of("web")
    port = w.integer("port", 8080)
    host = w.string("host", "127.0.0.1")
    web = WebSettings(
        host=host,
        port=port,
        public_url=w.string("public_url", f"http://{host}:{port}").rstrip("/"),
        max_request_bytes=w.integer("max_request_bytes", 1_048_576, minimum=1024),
        read_timeout=w.number("read_timeout", 75.0, minimum=0.1),
    )
    w.finish()
    if port > 65535:
        raise ConfigError("web.port: must be at most 65535")

    channels = top.table_of("channels")
    f = channels.table_of("form")
    form = FormSettings(
        enabled=f.boolean("enabled", True),
        max_message_chars=f.integer("max_message_chars", 20_000, minimum=1),
        max_body_bytes=f.integer("max_body_bytes", 65_536, minimum=1024),
        rate_limit_per_minute=f.integer("rate_limit_per_minute", 20, minimum=1),
        receipt_wait_seconds=f.number("receipt_wait_seconds", 3.0, minimum=0.0),
    )
    f.finish()
    c = channels.table_of("chat")
    chat = ChatSettings(
        enabled=c.boolean("enabled", True),
        max_message_chars=c.integer("max_message_chars", 4_000, minimum=1),
        rate_limit_per_minute=c.integer("rate_limit_per_minute", 60, minimum=1),
    )
    c.finish()
    email = _email_settings(channels.get("email", []))
    telegram = _telegram_settings(channels.table_of("telegram"), email)
    channels.finish()

    m = top.table_of("model")
    model = ModelSettings(
        path=m.string("path", "", allow_empty=True),
        batch_size=m.integer("batch_size", 32, minimum=1),
    )
    m.finish()

    d = top.table_of("dedup")
    dedup = DedupSettings(
        auto_merge=d.number("auto_merge", 0.7, minimum=-1.0),
        suggest=d.number("suggest", 0.5, minimum=-1.0),
        stitch=d.number("stitch", 0.6, minimum=-1.0),
        stitch_days=d.number("stitch_days", 14.0),
        split_below=d.number("split_below", 0.3, minimum=-1.0),
    )
    d.finish()
    if not dedup.suggest <= dedup.auto_merge <= 1.0:
        raise ConfigError("dedup: need suggest <= auto_merge <= 1")
    canned = _canned(top.get("canned", []))
    alerts = _alerts(top.table_of("alerts"), email, telegram)
    csat_t = top.table_of("csat")
    csat = csat_t.boolean("enabled", True)
    csat_t.finish()
    b = top.table_of("incidents")
    incident_settings = IncidentSettings(
        enabled=b.boolean("enabled", True),
        customers=b.integer("customers", 5, minimum=2),
        window_minutes=b.number("window_minutes", 10.0),
        similarity=b.number("similarity", 0.5, minimum=-1.0),
    )
    b.finish()
    top.finish()

    return Settings(
        data_dir=data_dir,
        secret=_secret(data_dir, secret_env),
        dedup_window_minutes=dedup_window,
        teams=tuple(teams),
        routing=routing,
        triage=triage,
        queue=queue,
        store=store,
        outbox=outbox,
        web=web,
        form=form,
        chat=chat,
        email=email,
        telegram=telegram,
        model=model,
        dedup=dedup,
        incidents=incident_settings,
        sla=sla,
        canned=canned,
        alerts=alerts,
        csat=csat,
        # Telegram's settings say how linking works; the web chat links the same way.
        linking=LinkSettings(telegram.link_via, telegram.link_code_minutes, telegram.links_per_hour)
        if telegram is not None
        else LinkSettings(email[0].name if email else ""),
    )


def load_settings(path: Path) -> Settings:
    """Reads and validates the TOML file at ``path``."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigError(f"{path}: no such configuration file") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err
    return parse_settings(raw, path.resolve().parent)
