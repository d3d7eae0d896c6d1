"""A mailbox the product reads in the tests: a fresh Dovecot user, the settings with that
mailbox configured, the store the product writes, and the mails customers send to it.

The ``mailbox`` and ``mail_config`` fixtures are visible to every test module (``pytest_plugins`` in conftest).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from inbox.config.settings import Settings, parse_settings
from inbox.service.app import InboxService
from tests.support.config import make_raw_config
from tests.support.mailservers import Dovecot, mailbox_config
from tests.support.smtp_server import SmtpServer
from tests.support.store import Store, store_of

SUPPORT = "support@inbox.test"
PASSWORD_ENV = "TEST_IMAP_PASSWORD"


def mail(
    sender: str,
    subject: str,
    body: str,
    *,
    in_reply_to: str = "",
    references: str = "",
    headers: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    """A customer's mail as raw bytes, and its Message-ID."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = SUPPORT
    message["Subject"] = subject
    message_id = make_msgid(domain="customer.test")
    message["Message-ID"] = message_id
    message["Date"] = "Sun, 22 Nov 2026 10:00:00 +0000"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes(), message_id


def email_settings(
    tmp_path: Path,
    server: Dovecot,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    **box: Any,
) -> tuple[Settings, str]:
    """Settings with one mailbox on a fresh Dovecot user; returns them and the user."""
    raw, user = email_config(tmp_path, server, smtp, monkeypatch, **box)
    return parse_settings(raw, tmp_path), user


def email_config(
    tmp_path: Path,
    server: Dovecot,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    **box: Any,
) -> tuple[dict[str, Any], str]:
    """``email_settings`` as a TOML-shaped dict, for a config file."""
    user, password = server.new_user()
    monkeypatch.setenv(PASSWORD_ENV, password)
    raw = make_raw_config(tmp_path)
    raw["channels"]["email"] = [
        mailbox_config(server, smtp, user, PASSWORD_ENV, reconnect_backoff=0.05, **box)
    ]
    return raw, user


@dataclass
class Mailbox:
    """One configured mailbox on a fresh Dovecot user; ``start`` runs the product on it
    (again, after a stop: every start is stopped at the end of the test)."""

    settings: Settings
    user: str
    store: Store
    _start: Callable[[Settings], Awaitable[InboxService]]

    async def start(self) -> InboxService:
        """Starts the product on this mailbox's settings."""
        return await self._start(self.settings)


@pytest.fixture
def mailbox(
    tmp_path: Path,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Awaitable[InboxService]],
) -> Mailbox:
    """A fresh Dovecot user's mailbox, configured; ``start`` runs the product on it."""
    settings, user = email_settings(tmp_path, dovecot, smtp_server, monkeypatch)
    return Mailbox(settings, user, store_of(settings), service_factory)


@pytest.fixture
def mail_config(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The test configuration with one mailbox (a fresh Dovecot user) sending through the
    test's SMTP server, before validation: for tests that tune it first."""
    raw, _user = email_config(tmp_path, dovecot, smtp_server, monkeypatch)
    return raw
