"""The web role alone (no model: nothing routes), with staff to sign in and call the API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from inbox.service.app import InboxService
from inbox.store.accounts import Accounts
from tests.support.config import make_settings
from tests.support.signing_in import TEST_PASSWORD, cookie_jar, sign_in_http

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


async def web_only(tmp_path: Path) -> InboxService:
    """The web role on the test back-end, started (the shipped example articles imported)."""
    service = InboxService(make_settings(tmp_path), roles=["web"])
    await service.start()
    return service


@dataclass
class StaffBrowser:
    """A signed-in person's cookie session, as a browser without script holds it."""

    http: aiohttp.ClientSession
    base: str
    csrf: str

    async def get(self, path: str) -> tuple[int, str]:
        """The page at ``path`` (redirects not followed)."""
        async with self.http.get(self.base + path, allow_redirects=False) as r:
            return r.status, await r.text()

    async def post_form(self, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
        """Posts a form with the session's CSRF token: status, page, where it redirects."""
        data = {"csrf": self.csrf, **fields}
        async with self.http.post(self.base + path, data=data, allow_redirects=False) as r:
            return r.status, await r.text(), r.headers.get("Location", "")


async def person(service: InboxService, name: str, role: str = "agent") -> str:
    """Adds a person in every team with the tests' password; returns their API token."""
    assert service.engine is not None
    teams = [t.name for t in service.settings.all_teams]
    _agent, token = await Accounts(service.engine).add_agent(
        name, teams, role=role, password=TEST_PASSWORD
    )
    return token


async def signed_in(
    service: InboxService, name: str, password: str = TEST_PASSWORD
) -> StaffBrowser:
    """A cookie session signed in as ``name``, holding the desk's CSRF token (close its
    ``http`` when done)."""
    base = f"http://127.0.0.1:{service.port}"
    http = aiohttp.ClientSession(cookie_jar=cookie_jar())
    response = await sign_in_http(http, base, name, password)
    assert response.status == 303
    async with http.get(base + "/agent") as r:
        found = CSRF_FIELD.search(await r.text())
    assert found is not None
    return StaffBrowser(http, base, found.group(1))


async def call(
    service: InboxService, method: str, path: str, token: str, json: Any = None
) -> tuple[int, Any]:
    """Calls the agent API with a bearer token: status and parsed JSON (None if none)."""
    headers = {"Authorization": f"Bearer {token}"}
    url = f"http://127.0.0.1:{service.port}{path}"
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, json=json, headers=headers) as r,
    ):
        body = await r.json() if r.content_type == "application/json" else None
        return r.status, body
