"""Settings of the channels: the web form, the web chat, the mailboxes and the Telegram
bot. Each default is written here once; ``Rule`` says the limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from inbox.config.decisions import TEAM_NAME_CHARS, LinkSettings
from inbox.config.rules import AtLeastOne, Rule, without_trailing_slash

MB = 1024 * 1024
Seconds = Annotated[float, Rule(minimum=0.05)]
Backoff = Annotated[float, Rule(minimum=0.01)]
Timeout = Annotated[float, Rule(minimum=0.1)]


@dataclass(frozen=True)
class FormSettings:
    """The web form channel."""

    enabled: bool = True
    max_message_chars: AtLeastOne = 20_000
    max_body_bytes: Annotated[int, Rule(minimum=1024)] = 65_536
    rate_limit_per_minute: AtLeastOne = 20
    # How long a receipt waits for the worker's decision, to name the ticket the message
    # really joined (0: answer with the message's own reference at once).
    receipt_wait_seconds: float = 3.0


@dataclass(frozen=True)
class ChatSettings:
    """The web chat channel."""

    enabled: bool = True
    max_message_chars: AtLeastOne = 4_000
    rate_limit_per_minute: AtLeastOne = 60
    # The variable holding the secret a site signs its signed-in users with (see
    # connectors.chat_identity); unset or empty: the chat takes no identities.
    identity_secret_env: str = "CHAT_IDENTITY_SECRET"  # noqa: S105 (a name, not a secret)
    identity_secret: Annotated[str, Rule(in_file=False)] = field(default="", repr=False)


def _channel_name(name: str) -> str | None:
    if not set(name) <= TEAM_NAME_CHARS or not name.startswith("email"):
        return "start with 'email' and use lower-case letters, digits, '-'"
    return None


def _plain_address(address: str) -> str | None:
    if "@" not in address or any(c in address for c in " \r\n<>"):
        return "must be a plain address like help@example.com"
    return None


def _normal_address(address: str) -> str:
    return address.strip().lower()


def _imap_port(box: dict[str, Any]) -> int:
    return 993 if box["imap_tls"] == "ssl" else 143


def _smtp_port(box: dict[str, Any]) -> int:
    return 465 if box["smtp_tls"] == "ssl" else 587


def _address(box: dict[str, Any]) -> str:
    address: str = box["address"]
    return address


@dataclass(frozen=True)
class EmailSettings:
    """One mailbox of the email channel: IMAP in, SMTP out.

    ``name`` is the channel its tickets carry (``email`` for the first mailbox, by
    default); every mailbox shares the ``email`` identity, so a customer writing to two
    mailboxes (or through the web form) is one contact.
    """

    name: Annotated[str, Rule(check=_channel_name)]
    address: Annotated[str, Rule(tidy=_normal_address, check=_plain_address)]
    display_name: str = field(default="Support", kw_only=True)
    imap_host: str
    imap_port: Annotated[int, Rule(minimum=1, default_from=_imap_port)]
    imap_tls: Literal["ssl", "none"] = field(default="ssl", kw_only=True)
    imap_user: Annotated[str, Rule(empty_ok=True, default_from=_address)]
    imap_password: str = field(repr=False)
    smtp_host: str
    smtp_port: Annotated[int, Rule(minimum=1, default_from=_smtp_port)]
    smtp_tls: Literal["ssl", "starttls", "none"] = field(default="starttls", kw_only=True)
    smtp_user: str = field(default="", kw_only=True)
    smtp_password: str = field(repr=False)
    folder: str = "INBOX"
    idle: bool = True
    poll_interval: Seconds = 60.0
    after_import: Literal["keep", "seen", "move"] = "keep"
    move_to: str = ""
    fetch_batch: Annotated[int, Rule(minimum=1, cap=200)] = 50
    attachment_max_bytes: Annotated[int, Rule(key="attachment_max_mb", unit=MB)] = 10 * MB
    acknowledgements_per_hour: AtLeastOne = 5
    timeout: Timeout = 30.0
    reconnect_backoff: Backoff = 1.0
    reconnect_backoff_max: Backoff = 300.0
    # IDLE is ended and re-issued this often; the server must answer within probe_timeout,
    # so a server that went silent is noticed within their sum.
    idle_renew: Annotated[float, Rule(minimum=0.05, cap=25 * 60.0)] = 30.0
    probe_timeout: Seconds = 5.0


def _file_url(bot: dict[str, Any]) -> str:
    base_url: str = bot["base_url"]
    return base_url[: -len("/bot")] + "/file/bot" if base_url.endswith("/bot") else ""


@dataclass(frozen=True)
class TelegramSettings:
    """The Telegram bot: long polling in, ``sendMessage`` out.

    ``base_url`` and ``base_file_url`` point at the Bot API (the public one by default, a
    local Bot API server or a test stand-in otherwise). ``link_via`` names the email
    channel that sends ``/link`` codes ("" = the first mailbox).
    """

    token: str = field(repr=False)
    name: Annotated[str, Rule(in_file=False)] = "telegram"
    base_url: Annotated[str, Rule(tidy=without_trailing_slash)] = "https://api.telegram.org/bot"
    base_file_url: Annotated[str, Rule(tidy=without_trailing_slash, default_from=_file_url)] = (
        "https://api.telegram.org/file/bot"
    )
    poll_timeout: Annotated[int, Rule(cap=50)] = 25  # seconds one getUpdates long poll waits
    poll_limit: Annotated[int, Rule(minimum=1, cap=100)] = 100
    attachment_max_bytes: Annotated[int, Rule(key="attachment_max_mb", unit=MB)] = 20 * MB
    timeout: Timeout = 30.0
    reconnect_backoff: Backoff = 1.0
    reconnect_backoff_max: Backoff = 300.0
    link_via: str = LinkSettings.link_via
    link_code_minutes: Annotated[float, Rule(minimum=1.0)] = LinkSettings.code_minutes
    links_per_hour: AtLeastOne = LinkSettings.per_hour
