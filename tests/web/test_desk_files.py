"""What the agent page says of the files a message came with but the inbox did not keep."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import aiohttp
import pytest

from inbox.config.settings import Settings, parse_settings
from inbox.service.app import InboxService
from inbox.store.accounts import Accounts
from tests.support.mailbox import SUPPORT, email_config
from tests.support.mailservers import Dovecot
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http
from tests.support.smtp_server import SmtpServer
from tests.support.store import store_of
from tests.support.telegram_api import BotApi
from tests.support.telegram_channel import TOKEN_ENV
from tests.support.waiting import until

ANN = 515151
CAP_MB = 0.001  # 1,048 bytes: a 2,000-byte file is over it


def _mail_with_a_big_file() -> bytes:
    message = EmailMessage()
    message["From"] = "dee@customer.test"
    message["To"] = SUPPORT
    message["Subject"] = "My invoice"
    message["Message-ID"] = make_msgid(domain="customer.test")
    message.set_content("The invoice is attached, the amount is wrong.")
    message.add_attachment(
        b"x" * 2000, maintype="application", subtype="octet-stream", filename="scan.bin"
    )
    return message.as_bytes()


async def _pages(service: InboxService, *references: int) -> list[str]:
    """The conversations as an agent of every team sees them on the desk."""
    assert service.engine is not None
    teams = [t.name for t in service.settings.all_teams]
    base = f"http://127.0.0.1:{service.port}"
    await Accounts(service.engine).add_agent("kim", teams, password=TEST_PASSWORD)
    pages = []
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as desk:
        assert (await sign_in_http(desk, base, "kim", TEST_PASSWORD)).status == 303
        for reference in references:
            async with desk.get(f"{base}/agent/conversations/{reference}") as r:
                assert r.status == 200
                pages.append(await r.text())
    return pages


async def test_the_agent_page_says_why_a_file_was_not_kept(
    tmp_path: Path,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Awaitable[InboxService]],
) -> None:
    raw, user = email_config(tmp_path, dovecot, smtp_server, monkeypatch, attachment_max_mb=CAP_MB)
    monkeypatch.setenv(TOKEN_ENV, bot_api.token)
    raw["channels"]["telegram"] = {
        "token_env": TOKEN_ENV,
        "base_url": bot_api.base_url,
        "poll_timeout": 5,
        "reconnect_backoff": 0.05,
        "attachment_max_mb": CAP_MB,
    }
    service = await service_factory(parse_settings(raw, tmp_path))

    # On Telegram: a file the Bot API fails to give now, one it will not serve (a 404),
    # one over the cap. By mail: a file over the cap, kept in the original mail.
    await bot_api.customer_says(
        ANN,
        caption="My receipt",
        document=("receipt.pdf", "application/pdf", b"%PDF r"),
        file_trouble="5xx",
    )
    found = re.search(r"#(\d+)", (await bot_api.wait_for_texts(ANN, 1))[0])
    assert found is not None
    telegram_ticket = int(found.group(1))
    await bot_api.customer_says(
        ANN,
        caption="My statement",
        document=("statement.pdf", "application/pdf", b"%PDF s"),
        files_lost=True,
    )
    await bot_api.customer_says(
        ANN, caption="A video", document=("clip.mp4", "video/mp4", b"v" * 2000)
    )
    dovecot.save(user, _mail_with_a_big_file())
    store = store_of(service.settings)
    await until(lambda: store.count("SELECT count(*) FROM attachments WHERE omitted") == 4)
    (mail_ticket,) = store.rows(
        "SELECT reference FROM conversations WHERE address = 'dee@customer.test'"
    )[0]

    telegram_page, mail_page = await _pages(service, telegram_ticket, int(mail_ticket))
    assert "receipt.pdf (6 bytes, could not be fetched: not kept)" in telegram_page
    assert "statement.pdf (6 bytes, not kept)" in telegram_page
    assert "clip.mp4 (2000 bytes, not kept)" in telegram_page
    assert "too large" not in telegram_page
    assert "scan.bin (2000 bytes, too large: only in the original message)" in mail_page
