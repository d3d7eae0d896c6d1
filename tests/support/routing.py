"""The router as the service builds it, for the classifier tests; a message as the
running service routes it."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from classifiers.embedder import SentenceTransformerEmbedder
from classifiers.router import Router
from inbox.config.settings import Settings
from inbox.pipeline.routing import RoutingService
from inbox.service.app import InboxService
from tests.support.staff_web import call
from tests.support.waiting import until


def shipped_router(settings: Settings, embedder: SentenceTransformerEmbedder) -> Router:
    """The router exactly as the service builds it from config.toml."""
    return asyncio.run(RoutingService.build(settings, embedder)).router


async def filed(service: InboxService, token: str, email: str, text: str) -> dict[str, Any]:
    """A new customer's message to the running service, once the worker filed it: its
    conversation as the agent API shows it (team, routing evidence)."""
    base = f"http://127.0.0.1:{service.port}"
    async with (
        aiohttp.ClientSession() as http,
        http.post(base + "/api/messages", json={"email": email, "message": text}) as r,
    ):
        assert r.status in (200, 202), await r.text()
        reference = (await r.json())["reference"]

    async def stored() -> dict[str, Any] | None:
        status, view = await call(service, "GET", f"/api/conversations/{reference}", token)
        return view if status == 200 else None

    found: dict[str, Any] = await until(stored)
    return found
