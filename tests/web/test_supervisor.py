"""The supervisor dashboard: live SLA alerts in a real browser, who may see what, the live
stream's team wall, and a CSV export a spreadsheet cannot be tricked by."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser

from inbox.config.settings import parse_settings
from inbox.web.live import LiveEvent
from tests.support.browser import ScriptWatch
from tests.support.config import make_raw_config
from tests.support.service import Running
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http
from tests.support.waiting import until

HOSTILE_SUBJECT = "<img src=x onerror=\"alert('dash'); top.__pwned = 1\"> refund"


async def test_a_supervisor_sees_the_warning_then_the_breach_live(
    tmp_path: Path, service_factory: Any, browser: Browser
) -> None:
    raw = make_raw_config(tmp_path)
    # A first-response target of 4 seconds: the warning at 2 s, the breach at 4 s.
    raw["sla"] = {"warn_at": 0.5, "normal": {"first_response_minutes": 4 / 60}}
    for team in raw["teams"]:
        team.pop("first_response_hours", None)
    raw["routing"]["fallback_first_response_hours"] = 4 / 3600
    service = await service_factory(parse_settings(raw, tmp_path))
    base = f"http://127.0.0.1:{service.port}"
    async with aiohttp.ClientSession() as http:
        await _watch_live(Running(service, http, base), browser)


async def _watch_live(running: Running, browser: Browser) -> None:
    service, base = running.service, running.base
    teams = [t.name for t in service.settings.all_teams]
    await running.agent_token("vera", *teams, role="supervisor")

    page = await browser.new_page()
    watch = ScriptWatch()
    watch.attach(page)
    navigations: list[str] = []
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(f"{base}/supervisor")
    await page.fill("#name", "vera")
    await page.fill("#password", TEST_PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#live-state:has-text('live')")
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    assert await page.locator("#risky-none").count() == 1

    ticket = await running.submit(
        email="walt@example.com", subject=HOSTILE_SUBJECT, message="I was charged twice"
    )
    ticket_name = f"#{ticket['reference']}"
    await page.wait_for_selector(f"#live-alerts li.sla-warning:has-text('{ticket_name}')")
    await page.wait_for_selector(f"#live-alerts li.sla-breached:has-text('{ticket_name}')")
    row = page.locator("#risky tr.sla-breached")
    await until(lambda: row.count())
    assert ticket_name in await row.first.inner_text()
    assert "refund" in await row.first.inner_text()  # the subject, as text
    assert navigations == []  # no reload: the page changed by itself
    await page.wait_for_selector("body[data-charts='drawn']")  # the bundled Chart.js drew
    assert errors == []  # no CSP violation, no script error
    assert watch.dialogs == [] and not await watch.flag(page)


async def test_who_may_see_the_dashboard(running: Running) -> None:
    await running.agent_token("al", "billing")
    await running.agent_token("sy", "billing", role="supervisor")
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        for path in ("/supervisor", "/supervisor/panel", "/supervisor/export.csv"):
            async with http.get(running.base + path, allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"].startswith("/login?next=")
        await sign_in_http(http, running.base, "al", TEST_PASSWORD)
        for path in ("/supervisor", "/supervisor/panel", "/supervisor/export.csv"):
            async with http.get(running.base + path) as r:
                assert r.status == 403, path
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await sign_in_http(http, running.base, "sy", TEST_PASSWORD)
        async with http.get(running.base + "/supervisor") as r:
            assert r.status == 200 and "Supervisor dashboard" in await r.text()


async def test_agent_load_counts_each_conversation_once(running: Running) -> None:
    token = await running.agent_token("mo", "billing", "orders", "triage", role="supervisor")
    receipt = await running.submit(email="pat@example.com", message="Refund my double charge")
    reference = receipt["reference"]
    status, _ = await running.api(
        "POST", f"/api/conversations/{reference}/assign", token, {"agent": "mo"}
    )
    assert status == 200
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await sign_in_http(http, running.base, "mo", TEST_PASSWORD)
        async with http.get(running.base + "/supervisor/panel") as r:
            panel = await r.text()
    assert "<li>mo: 1 open</li>" in panel


async def test_the_live_stream_keeps_to_the_teams_of_the_person(running: Running) -> None:
    await running.agent_token("bo", "billing")
    async with aiohttp.ClientSession() as http, http.get(running.base + "/live") as r:
        assert r.status == 401
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await sign_in_http(http, running.base, "bo", TEST_PASSWORD)
        async with http.get(running.base + "/live") as stream:
            assert stream.headers["Content-Type"] == "text/event-stream"
            hub = running.service.live
            await until(lambda: hub.listeners == 1)
            hub.publish(
                LiveEvent("sla", "orders", {"ticket": "#1"}),
                LiveEvent("sla", "billing", {"ticket": "#3"}, supervisors_only=True),
                LiveEvent("sla", "billing", {"ticket": "#2"}),
            )
            seen: list[dict[str, Any]] = []
            while not seen:
                line = (await asyncio.wait_for(stream.content.readline(), 10)).decode()
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
            assert seen == [{"team": "billing", "ticket": "#2"}]


async def test_the_export_defuses_formulas(running: Running) -> None:
    await running.agent_token("sam", "billing", "triage", role="supervisor")
    ticket = await running.submit(
        email="eve@example.com", subject='=HYPERLINK("http://evil")', message="My invoice"
    )
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await sign_in_http(http, running.base, "sam", TEST_PASSWORD)

        async def exported() -> list[dict[str, str]]:
            async with http.get(running.base + "/supervisor/export.csv") as r:
                assert r.headers["Content-Type"].startswith("text/csv")
                return list(csv.DictReader(io.StringIO(await r.text())))

        rows = await until(exported)
    [row] = rows
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await sign_in_http(http, running.base, "sam", TEST_PASSWORD)
        async with http.get(running.base + "/supervisor/charts.json") as r:
            charts = await r.json()
    assert len(charts["days"]) == 14 and charts["volume_by_channel"]["form"][-1] == 1
    assert charts["first_response_hours_by_team"] == {}  # nobody answered yet
    assert sum(sum(v) for v in charts["volume_by_team"].values()) == 1
    assert row["ticket"] == f"#{ticket['reference']}"
    assert row["subject"] == '\'=HYPERLINK("http://evil")'
    assert row["sla_state"] == "ok" and row["sla_due"].endswith("Z")
