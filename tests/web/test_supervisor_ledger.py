"""The dashboard's unanswered contacts: a Telegram customer who blocked the bot gets no
acknowledgement; the supervisor of the ticket's team sees it, one of another team does
not."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from inbox.config.settings import Settings
from inbox.store.accounts import Accounts
from tests.support.config import without_bot
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http
from tests.support.store import store_of
from tests.support.telegram_api import BotApi
from tests.support.telegram_channel import ANN, telegram_settings
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

TEXT = "I was charged twice for my subscription this month"


async def _panel(base: str, name: str) -> str:
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await sign_in_http(http, base, name, TEST_PASSWORD)
        async with http.get(base + "/supervisor/panel") as r:
            assert r.status == 200
            return await r.text()


async def test_an_acknowledgement_nobody_received_shows_to_its_teams_supervisor_only(
    tmp_path: Path,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Any],
) -> None:
    settings = without_bot(telegram_settings(tmp_path, bot_api, monkeypatch))
    no_grace = dataclasses.replace(settings.ledger, unanswered_after_minutes=0)
    settings = dataclasses.replace(settings, ledger=no_grace)
    service = await service_factory(settings)
    store = store_of(settings)
    bot_api.blocked.add(ANN)
    await bot_api.customer_says(ANN, TEXT)
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='failed'") == 1)
    ((reference, team),) = store.rows("SELECT reference, team FROM conversations")
    other = next(t.name for t in settings.all_teams if t.name != team)
    accounts = Accounts(service.engine)
    await accounts.add_agent("sue", [team], role="supervisor", password=TEST_PASSWORD)
    await accounts.add_agent("oli", [other], role="supervisor", password=TEST_PASSWORD)
    base = f"http://127.0.0.1:{service.port}"

    mine = await _panel(base, "sue")
    assert 'id="unanswered"' in mine and f'href="/agent#{reference}"' in mine
    assert "acknowledged, waiting for an agent; delivery failed" in mine
    assert "bot was blocked by the user" in mine
    theirs = await _panel(base, "oli")
    assert 'id="unanswered-none"' in theirs and f"#{reference}" not in theirs
