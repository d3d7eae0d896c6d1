"""SLA alerts reach the configured supervisors by email (a real SMTP server) and Telegram
(the Bot API stand-in), once each, as notes of the conversation the customer never sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from inbox.config.settings import parse_settings
from inbox.errors import ConfigError
from tests.support.config import make_raw_config
from tests.support.mailbox import email_config
from tests.support.mailservers import Dovecot
from tests.support.smtp_server import SmtpServer
from tests.support.store import store_of
from tests.support.telegram_api import BotApi
from tests.support.telegram_channel import TOKEN_ENV
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

BOSS_CHAT = 5150


async def test_a_breach_is_mailed_and_sent_on_telegram_to_supervisors_once(
    tmp_path: Path,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Any,
) -> None:
    raw, _user = email_config(tmp_path, dovecot, smtp_server, monkeypatch)
    monkeypatch.setenv(TOKEN_ENV, bot_api.token)
    raw["channels"]["telegram"] = {"token_env": TOKEN_ENV, "base_url": bot_api.base_url}
    raw["sla"] = {"warn_at": 0.5, "normal": {"first_response_minutes": 3 / 60}}
    raw["routing"]["fallback_first_response_hours"] = 3 / 3600
    raw["alerts"] = {"email": ["boss@example.com"], "telegram": [BOSS_CHAT]}
    raw["kb"]["answers"] = False  # alerts are under test: the bot would hold the ticket
    settings = parse_settings(raw, tmp_path)
    service = await service_factory(settings)
    await bot_api.customer_says(BOSS_CHAT, "/start")  # a bot may only write to who started it
    await bot_api.wait_for_texts(BOSS_CHAT, 1)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"http://127.0.0.1:{service.port}/api/messages",
            json={
                "email": "carl@example.com",
                "subject": "Double charge\r\nBcc: everyone@example.com",
                "message": "You charged my card twice",
            },
        ) as r,
    ):
        reference = (await r.json())["reference"]

    def to_boss() -> list[Any]:
        return [m for m in smtp_server.received if "boss@example.com" in m.rcpt_tos]

    [mail] = await until(to_boss, timeout=60)
    assert str(mail.message["Subject"]).startswith(f"SLA breached: #{reference} Double charge")
    assert mail.message["Bcc"] is None  # the customer's CR/LF went nowhere
    assert mail.message["In-Reply-To"] is None and mail.message["Auto-Submitted"]
    body = mail.message.get_content()
    assert f"ticket #{reference}" in body and f"/agent#{reference}" in body
    [_welcome, text] = await bot_api.wait_for_texts(BOSS_CHAT, 2, timeout=60)
    assert text.startswith(f"SLA breached: ticket #{reference}")

    store = store_of(settings)
    query = (
        "SELECT m.internal, o.state FROM messages m JOIN outbox o ON o.message_id = m.id"
        " WHERE m.author = 'alert'"
    )
    await until(lambda: [r[1] for r in store.rows(query)] == ["sent", "sent"])
    # Internal: shown to agents as notes, never in what the customer can read.
    assert [r[0] for r in store.rows(query)] == [1, 1]
    # The customer got their acknowledgement and nothing else.
    to_customer = [m for m in smtp_server.received if "carl@example.com" in m.rcpt_tos]
    assert all("SLA" not in str(m.message["Subject"]) for m in to_customer)


def test_alert_recipients_need_a_channel_to_send_with(tmp_path: Path) -> None:
    raw = make_raw_config(tmp_path)
    raw["alerts"] = {"email": ["boss@example.com"]}
    with pytest.raises(ConfigError, match=r"alerts.email: needs a \[\[channels.email\]\]"):
        parse_settings(raw, tmp_path)
    raw["alerts"] = {"kinds": ["sla_exploded"]}
    with pytest.raises(ConfigError, match=r"alerts.kinds\[0\]"):
        parse_settings(raw, tmp_path)
