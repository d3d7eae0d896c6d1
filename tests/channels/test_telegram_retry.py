"""An acknowledgement to a Telegram customer who blocked the bot fails for good; the
conversation says so in the desk, and once the customer unblocks the bot, an agent's "Try
again" delivers it, once. The Bot API is the stand-in on loopback; the rest is the product.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from inbox.config.settings import Settings
from inbox.service.app import InboxService
from inbox.store.accounts import Accounts
from tests.support.browser import ScriptWatch, open_conversation, sign_in
from tests.support.config import without_bot
from tests.support.signing_in import TEST_PASSWORD
from tests.support.staff_web import StaffBrowser, signed_in
from tests.support.store import Store, store_of
from tests.support.telegram_api import BotApi
from tests.support.telegram_channel import ANN, telegram_settings
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


async def _staff(service: InboxService, name: str, teams: list[str]) -> StaffBrowser:
    assert service.engine is not None
    await Accounts(service.engine).add_agent(name, teams, password=TEST_PASSWORD)
    return await signed_in(service, name)


async def _press(staff: StaffBrowser, reference: int, message: int) -> tuple[int, Any]:
    """What the page's "Try again" button sends: the session cookie and its CSRF token."""
    async with staff.http.post(
        f"{staff.base}/api/conversations/{reference}/retry",
        json={"message": message},
        headers={"X-CSRF-Token": staff.csrf},
    ) as r:
        return r.status, await r.json()


@dataclass
class Failed:
    """The product after a customer who blocked the bot wrote: its acknowledgement failed."""

    service: InboxService
    store: Store
    api: BotApi
    reference: int
    message_id: int  # the acknowledgement's
    team: str  # the ticket's


@pytest.fixture
async def failed(
    tmp_path: Path,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Callable[[Settings], Any],
) -> Failed:
    settings = without_bot(telegram_settings(tmp_path, bot_api, monkeypatch))
    service = await service_factory(settings)
    store = store_of(settings)
    bot_api.blocked.add(ANN)
    await bot_api.customer_says(ANN, "Please cancel my subscription, I am moving abroad.")
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='failed'") == 1)
    ((reference, team, message_id, error),) = store.rows(
        "SELECT c.reference, c.team, o.message_id, o.last_error FROM outbox o "
        "JOIN conversations c ON c.id = o.conversation_id"
    )
    assert "blocked" in error
    return Failed(service, store, bot_api, int(reference), int(message_id), str(team))


async def test_try_again_delivers_the_acknowledgement_once_the_customer_unblocks(
    failed: Failed,
) -> None:
    service, store, bot_api = failed.service, failed.store, failed.api
    reference, message_id, team = failed.reference, failed.message_id, failed.team
    ada = await _staff(service, "ada", [team])
    bea = await _staff(service, "bea", [team])
    try:
        _status, page = await ada.get(f"/agent/conversations/{reference}")
        assert "Not delivered: " in page and "bot was blocked by the user" in page
        assert f'class="retry-delivery" data-message="{message_id}">Try again' in page

        bot_api.blocked.discard(ANN)  # the customer unblocked the bot
        # Two agents press at once: one queues it, the other is told it is not failed.
        pressed = await asyncio.gather(
            _press(ada, reference, message_id), _press(bea, reference, message_id)
        )
        assert sorted(status for status, _ in pressed) == [202, 409]
        refusal = next(body for status, body in pressed if status == 409)
        assert "not failed" in refusal["error"]

        (text,) = await bot_api.wait_for_texts(ANN, 1)
        assert f"#{reference}" in text
        await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='sent'") == 1)
        assert bot_api.texts_to(ANN) == [text]  # once
        ((actor, data),) = store.rows(
            "SELECT actor, data FROM events WHERE kind='delivery_retried'"
        )
        assert actor in ("ada", "bea") and "blocked" in str(data)

        _status, page = await ada.get(f"/agent/conversations/{reference}")
        assert "Not delivered" not in page and "Try again" not in page
        assert f'data-message="{message_id}" data-delivery="sent"' in page

        # Sent now: another press is refused, and nothing goes out again.
        status, body = await _press(bea, reference, message_id)
        assert status == 409 and "is sent, not failed" in body["error"]
        assert bot_api.texts_to(ANN) == [text]
    finally:
        await ada.http.close()
        await bea.http.close()


async def test_an_agent_outside_the_team_cannot_try_again(failed: Failed) -> None:
    service, store, bot_api = failed.service, failed.store, failed.api
    reference, message_id, team = failed.reference, failed.message_id, failed.team
    others = [t.name for t in service.settings.all_teams if t.name != team]
    outsider = await _staff(service, "olly", others)
    try:
        bot_api.blocked.discard(ANN)
        status, body = await _press(outsider, reference, message_id)
        assert status == 404 and "in your teams" in body["error"]
        status, _page = await outsider.get(f"/agent/conversations/{reference}")
        assert status == 404
    finally:
        await outsider.http.close()
    assert store.rows("SELECT state FROM outbox") == [("failed",)]
    assert store.count("SELECT count(*) FROM events WHERE kind='delivery_retried'") == 0
    assert bot_api.texts_to(ANN) == []


async def test_the_desk_shows_not_delivered_and_its_try_again_button_sends_it(
    failed: Failed, browser: Browser
) -> None:
    service, store, bot_api = failed.service, failed.store, failed.api
    reference, message_id, team = failed.reference, failed.message_id, failed.team
    assert service.engine is not None
    await Accounts(service.engine).add_agent("cy", [team], password=TEST_PASSWORD)
    page = await browser.new_page()
    watch = ScriptWatch()
    watch.attach(page)
    await sign_in(page, f"http://127.0.0.1:{service.port}", "cy")
    await open_conversation(page, reference)
    shown = page.locator(f"#messages li[data-message='{message_id}']")
    await shown.locator(".not-delivered:has-text('bot was blocked by the user')").wait_for()

    bot_api.blocked.discard(ANN)
    await shown.locator("button.retry-delivery:has-text('Try again')").click()
    await page.wait_for_selector("#status:has-text('Delivered.')")
    after = page.locator(f"#messages li[data-message='{message_id}'][data-delivery='sent']")
    await after.wait_for()
    assert await after.locator(".not-delivered").count() == 0
    assert len(bot_api.texts_to(ANN)) == 1
    assert store.count("SELECT count(*) FROM outbox WHERE state='sent'") == 1
    assert watch.console_errors == []
