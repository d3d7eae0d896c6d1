"""A team nobody works is a queue nobody sees: the dashboard says so loudly, the
fallback team included, until someone is added to it."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from inbox.config.settings import Settings
from inbox.service.app import InboxService
from tests.support.service import Running
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http
from tests.support.store import store_of
from tests.support.waiting import until


async def _panel(running: Running, name: str) -> str:
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        assert (await sign_in_http(http, running.base, name, TEST_PASSWORD)).status == 303
        async with http.get(running.base + "/supervisor/panel") as r:
            assert r.status == 200
            return await r.text()


async def test_the_dashboard_names_the_teams_nobody_works(running: Running) -> None:
    settings = running.service.settings
    fallback = settings.routing.fallback_team
    store = store_of(settings)
    # Too vague to route: the fallback team gets it, and nobody works that team.
    await running.submit(email="zoe@example.com", message="hello?")
    await until(
        lambda: store.count(f"SELECT count(*) FROM conversations WHERE team = '{fallback}'")
    )
    others = [t.name for t in settings.all_teams if t.name != fallback]
    await running.agent_token("sam", *others, role="supervisor")

    panel = await _panel(running, "sam")
    assert 'id="unstaffed"' in panel
    assert f"<strong>{fallback}</strong>: 1 open conversation (the fallback team" in panel
    assert f"inbox user add NAME --team {fallback}" in panel

    await running.agent_token("tia", fallback)
    assert 'id="unstaffed"' not in await _panel(running, "sam")


async def test_the_service_warns_at_start_about_a_team_nobody_works(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    service = InboxService(settings, roles={"sla"})
    with caplog.at_level(logging.WARNING, logger="inbox.service.app"):
        await service.start()
        await service.stop()
    fallback = settings.routing.fallback_team
    warned = [r.getMessage() for r in caplog.records if "has nobody in it" in r.getMessage()]
    assert any(f"team {fallback!r} has nobody in it (the fallback team" in w for w in warned)
    assert len(warned) == len(settings.all_teams)  # a fresh store: nobody anywhere
