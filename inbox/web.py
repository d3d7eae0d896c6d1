"""The product's one HTTP server: web channels, agent API, static files, health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from aiohttp import web

from connectors.pages import PAGE_CSP, render
from inbox.agent_api import AgentApi
from inbox.web_auth import WebAuth

STATIC = Path(__file__).resolve().parent.parent / "connectors" / "static"


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Safe defaults on every response; JSON errors for the API."""
    try:
        response = await handler(request)
    except web.HTTPException as err:
        if not request.path.startswith("/api/") or err.status < 400:
            raise
        response = web.json_response({"error": err.reason}, status=err.status)
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


async def index(request: web.Request) -> web.Response:
    """A landing page pointing at the customer channels."""
    return render("index.html", {})


async def health(request: web.Request) -> web.Response:
    """Liveness for load balancers and scripts."""
    return web.json_response({"status": "ok"})


def build_web_app(
    channel_routes: Sequence[web.AbstractRouteDef],
    agent_api: AgentApi,
    web_auth: WebAuth,
    *,
    max_request_bytes: int,
) -> web.Application:
    """Assembles the HTTP application."""
    app = web.Application(middlewares=[security_headers], client_max_size=max_request_bytes)
    app.add_routes(
        [
            web.get("/", index),
            web.get("/healthz", health),
        ]
    )
    app.add_routes(web_auth.routes())
    app.add_routes(channel_routes)
    app.add_routes(agent_api.routes())
    app.router.add_static("/static", STATIC, follow_symlinks=False)
    return app
