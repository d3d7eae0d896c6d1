"""Hostile text from the chat, the form and Telegram (message, sender name, file name) is
shown in the desk's list and conversation views and on the supervisor dashboard as text;
no script runs. (Email, with its HTML, is covered in test_agent_page.) Hostile JSON
(nested deep, numbers huge) and huge numbers in paths get a clear 4xx and one log line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser

from inbox.config.settings import parse_settings
from tests.support.browser import ScriptWatch, open_conversation, sign_in
from tests.support.service import Running
from tests.support.signing_in import TEST_PASSWORD
from tests.support.store import store_of
from tests.support.telegram_api import BotApi
from tests.support.telegram_channel import telegram_config
from tests.support.waiting import until

RUN = "alert('{0}'); top.__pwned = '{0}'; fetch('/pwned/{0}')"


def hostile(where: str) -> str:
    return f'<img src=x onerror="{RUN.format(where)}"><script>{RUN.format(where)}</script> {where}'


async def test_hostile_chat_form_and_telegram_text_never_runs(
    tmp_path: Path,
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Any,
    browser: Browser,
) -> None:
    raw = telegram_config(tmp_path, bot_api, monkeypatch)
    # Every ticket is at once "at risk", so the dashboard lists the subjects too.
    raw["sla"] = {"warn_at": 0.01, "normal": {"first_response_minutes": 2}}
    settings = parse_settings(raw, tmp_path)
    service = await service_factory(settings)
    base = f"http://127.0.0.1:{service.port}"
    async with aiohttp.ClientSession() as http:
        await _work_through(Running(service, http, base), settings, bot_api, browser)


async def _work_through(running: Running, settings: Any, bot_api: BotApi, browser: Browser) -> None:
    base = running.base
    teams = [t.name for t in settings.all_teams]
    await running.agent_token("sue", *teams, role="supervisor")

    await bot_api.customer_says(
        777,
        hostile("telegram-text"),
        name=hostile("telegram-name"),
        document=(hostile("telegram-file") + ".pdf", "application/pdf", b"%PDF-1.4 hello"),
    )
    await running.submit(
        name=hostile("form-name"),
        email="mal@example.com",
        subject=hostile("form-subject"),
        message=hostile("form-message"),
    )
    customer = await browser.new_page()
    await customer.goto(f"{base}/chat")
    await customer.wait_for_selector("#chat-status:has-text('Connected')")
    await customer.fill("#chat-input", hostile("chat-message"))
    await customer.click("#chat-form button[type=submit]")

    store = store_of(settings)
    await until(lambda: store.count("SELECT count(*) FROM conversations") == 3, timeout=60)
    await until(
        lambda: (
            store.count(
                "SELECT count(*) FROM conversations WHERE sla_state IN ('warning', 'breached')"
            )
            == 3
        ),
        timeout=60,
    )
    references = [r[0] for r in store.rows("SELECT reference FROM conversations ORDER BY id")]

    page = await browser.new_page()
    watch = ScriptWatch()
    watch.attach(page)
    await sign_in(page, base, "sue", TEST_PASSWORD)
    queue = await page.inner_text("#queue")
    assert "form-subject" in queue and "<img" in queue, queue  # shown, as text
    seen = ""
    for reference in references:
        await open_conversation(page, reference)
        seen += await page.inner_text("#conversation")
    for where in ("telegram-text", "telegram-name", "telegram-file", "form-name", "form-message"):
        assert where in seen, where
    assert "chat-message" in seen
    await page.goto(f"{base}/supervisor")
    risky = await page.inner_text("#risky")
    assert "form-subject" in risky
    await page.wait_for_selector("#live-state:has-text('live')")

    assert watch.dialogs == [], watch.dialogs
    assert watch.beacons == [], watch.beacons
    assert watch.console_errors == [], watch.console_errors  # not even a blocked attempt
    assert await watch.flag(page) is None


DEEP = "[" * 20_000 + "]" * 20_000  # deeper than Python's recursion limit
HUGE = "99999999999999999999999"  # beyond any store column


async def test_deep_json_and_huge_numbers_get_a_clear_4xx_and_one_log_line(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    token = await running.agent_token("nia", "billing", "triage")
    ticket = await running.submit(email="n@example.com", message="My invoice is wrong")
    ref = ticket["reference"]

    async def visible() -> bool:
        return (await running.api("GET", f"/api/conversations/{ref}", token))[0] == 200

    await until(visible)
    conversation = f"/api/conversations/{ref}"
    requests = [
        ("POST", "/api/messages", DEEP),
        ("POST", "/api/messages", '{"email": "n@example.com", "message": "hi", "x": 1e400}'),
        ("POST", f"{conversation}/notes", DEEP),
        ("POST", f"{conversation}/merge", '{"into": 1e400}'),
        ("POST", f"{conversation}/merge", '{"into": ' + "9" * 4000 + "}"),
        ("POST", f"{conversation}/merge", '{"into": ' + HUGE + "}"),
        ("POST", f"{conversation}/reply", '{"text": "hi", "seen": ' + HUGE + "}"),
        ("GET", f"/api/conversations/{HUGE}", None),
        ("POST", f"/api/conversations/{HUGE}/resolve", None),
        ("GET", f"/agent/conversations/{HUGE}", None),
    ]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for method, path, body in requests:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            async with running.http.request(
                method, running.base + path, data=body, headers=headers, allow_redirects=False
            ) as r:
                answer = await r.text()
                assert 400 <= r.status < 500, (path, body and body[:40], r.status, answer[:300])
        logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r for r in logged if r.levelno >= logging.ERROR] == [], (path, body and body[:40])
        assert len(logged) == 1, (path, body and body[:40], [r.getMessage() for r in logged])
    status, after = await running.api("GET", conversation, token)
    assert status == 200 and after["status"] != "merged"  # nothing happened


async def test_a_deeply_nested_chat_frame_gets_an_error_frame_and_the_socket_lives_on(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    async with running.http.post(running.base + "/chat/session") as r:
        token = (await r.json())["token"]
    async with running.http.ws_connect(f"{running.base}/chat/ws?token={token}") as ws:
        assert (await ws.receive_json(timeout=30))["type"] == "history"
        with caplog.at_level(logging.INFO):
            await ws.send_str(DEEP)
            refused = await ws.receive_json(timeout=30)
            await ws.send_str('{"type": "message", "client_id": 1e400, "text": "hi"}')
            refused_number = await ws.receive_json(timeout=30)
        assert refused["type"] == "error" and "nested" in refused["error"], refused
        assert refused_number["type"] == "error", refused_number
        await ws.send_json({"type": "message", "client_id": "c1", "text": "Still here?"})
        assert await ws.receive_json(timeout=30) == {"type": "accepted", "client_id": "c1"}
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2
