"""The product's one HTTP server: web channels, agent API, static files, health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from inbox.pages.render import PAGE_CSP, STATIC, client_ip, render
from inbox.safe_json import fits_store
from inbox.web.agent_api import AgentApi
from inbox.web.auth import WebAuth

HSTS = "max-age=31536000"  # a year: browsers then never try plain http on this host
log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def security_headers(
    *, https: bool
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """Safe defaults added to every response as it is sent: pages, redirects, streams,
    and aiohttp's own 404s and 405s (an ``on_response_prepare`` hook sees them all)."""

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if https:
            response.headers.setdefault("Strict-Transport-Security", HSTS)

    return add


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """JSON errors for the API; a request no store could answer is a clear 4xx."""
    try:
        return await handler(request)
    except web.HTTPException as err:
        if not request.path.startswith("/api/") or err.status < 400:
            raise
        return web.json_response({"error": err.reason}, status=err.status)
    except (RecursionError, OverflowError) as err:
        # Input nested or sized beyond what Python or the store take (each known place
        # refuses it itself; this is the net under the ones not known yet).
        log.warning(
            "refused %s %s from %s: %r", request.method, request.path, client_ip(request), err
        )
        return _refused(request, 400, "the request holds a value too large or nested too deeply")


@web.middleware
async def bounded_path_numbers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A number in the path that no store column can hold names nothing: 404."""
    for value in request.match_info.values():
        if value.isdecimal() and not fits_store(value):
            log.warning("refused %s %.80s: a number too large", request.method, request.path)
            raise web.HTTPNotFound()
    return await handler(request)


def body_deadline(seconds: float) -> Middleware:
    """Cuts off a client that takes longer than ``seconds`` to send a request's body
    (408, connection closed); the handler stops waiting for it. aiohttp itself has no
    such limit: one slow client could hold a connection for ever."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.body_exists or request.content.is_eof():
            return await handler(request)
        finished = False
        try:
            async with asyncio.timeout(seconds) as deadline:

                def arrived() -> None:  # the whole body is in: no deadline any more
                    if not finished and not deadline.expired():
                        deadline.reschedule(None)

                request.content.on_eof(arrived)
                return await handler(request)
        except TimeoutError:
            if not deadline.expired():
                raise  # the handler's own timeout, not the body's
            log.warning("%s sent no complete request body within %ss", client_ip(request), seconds)
            response = _refused(
                request, 408, f"the request body did not arrive within {seconds:g} s"
            )
            response.force_close()
            return response
        finally:
            finished = True

    return guard


def _refused(request: web.Request, status: int, message: str) -> web.Response:
    if request.path == "/api" or request.path.startswith("/api/"):
        return web.json_response({"error": message}, status=status)
    return web.Response(text=message, status=status)


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
    read_timeout: float = 75.0,
    https: bool = False,
) -> web.Application:
    """Assembles the HTTP application."""
    app = web.Application(
        middlewares=[api_errors, bounded_path_numbers, body_deadline(read_timeout)],
        client_max_size=max_request_bytes,
    )
    app.on_response_prepare.append(security_headers(https=https))
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
