"""A running service as the tests talk to it: its HTTP base, the agent API, the intake."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from inbox.service.app import InboxService
from inbox.store.accounts import Accounts
from tests.support.signing_in import TEST_PASSWORD


@dataclass
class Running:
    """A started service and an HTTP client pointed at it."""

    service: InboxService
    http: aiohttp.ClientSession
    base: str

    async def agent_token(self, name: str, *teams: str, role: str = "agent") -> str:
        """Creates a person through the store's account API (as ``inbox user add`` does),
        with the tests' password; returns their API token."""
        assert self.service.engine is not None
        _agent, token = await Accounts(self.service.engine).add_agent(
            name, list(teams), role=role, password=TEST_PASSWORD
        )
        return token

    async def api(self, method: str, path: str, token: str, json: Any = None) -> tuple[int, Any]:
        """Calls the agent API; returns status and parsed body (None when empty)."""
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.request(method, self.base + path, json=json, headers=headers) as r:
            body = await r.json() if r.content_type == "application/json" else None
            return r.status, body

    async def submit(self, **fields: str) -> dict[str, Any]:
        """Posts one message to the JSON intake endpoint."""
        async with self.http.post(self.base + "/api/messages", json=fields) as r:
            assert r.status in (200, 202), await r.text()
            body: dict[str, Any] = await r.json()
            return body
