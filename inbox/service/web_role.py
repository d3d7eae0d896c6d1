"""The web role's server: the web channels, the agent desk and API, the dashboard, the
live pages and health, in one aiohttp application."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.base import WebChannel
from inbox.config.settings import Settings, WebSettings
from inbox.metrics import Metrics
from inbox.pipeline.bot.moves import BotTools
from inbox.queue import Queue
from inbox.service.channels import reply_channels
from inbox.store.accounts import Accounts
from inbox.store.desk import Desk
from inbox.store.form_copies import form_copies_for
from inbox.store.sla_clocks import SlaClocks
from inbox.texts import Catalogue
from inbox.web.admin import AdminPages
from inbox.web.agent_api import AgentApi
from inbox.web.app import build_web_app
from inbox.web.auth import WebAuth
from inbox.web.bot_verdict import VerdictRoutes
from inbox.web.corrections import CorrectionPages
from inbox.web.csat import CsatLinks, CsatRoutes
from inbox.web.customer_files import CustomerFiles
from inbox.web.desk import DeskPages
from inbox.web.desk_search import SearchRoutes
from inbox.web.health import HealthRoutes
from inbox.web.kb_admin import KbAdminPages
from inbox.web.kb_pages import KbPages
from inbox.web.ledger_watch import LedgerWatch
from inbox.web.live import ChangeFeed, LiveHub, LiveRoutes
from inbox.web.quarantine import QuarantinePages
from inbox.web.supervisor import SupervisorPages


@dataclass(frozen=True)
class WebParts:
    """What the service gives its web app: the store, the queue and the live feeds."""

    engine: AsyncEngine
    queue: Queue
    metrics: Metrics
    live: LiveHub
    changes: ChangeFeed
    clocks: SlaClocks
    channels: tuple[WebChannel, ...]
    roles: tuple[str, ...]
    on_reply: Callable[[], None]
    ledger: LedgerWatch


def _rating_request(rating: CsatLinks, texts: Catalogue) -> Callable[[int, str], str]:
    """The rating request for a ticket, in the customer's language."""
    return lambda reference, language: rating.request_text(reference, texts, language)


def _desk(settings: Settings, parts: WebParts, rating: CsatLinks) -> Desk:
    s = settings
    return Desk(
        parts.engine,
        {t.name for t in s.all_teams},
        s.routing.fallback_team,
        clocks=parts.clocks,
        rating_request=_rating_request(rating, s.texts) if s.csat else None,
        reply_channels=reply_channels(s),
        form_copies=form_copies_for(s, rating),
        contact=s.contact,
        corrections=s.routing.corrections,
    )


def _channel_names(settings: Settings, parts: WebParts) -> list[str]:
    """The channels conversations come from (the search form's choice of channel)."""
    names = [box.name for box in settings.email]
    if settings.telegram is not None:
        names.append(settings.telegram.name)
    return names + [c.name for c in parts.channels]


def web_app(settings: Settings, parts: WebParts, rating: CsatLinks) -> web.Application:
    """The web role's application; its links to customers come from ``rating``."""
    s, engine, changes = settings, parts.engine, parts.changes
    https = s.web.public_url.startswith("https://")
    accounts = Accounts(engine)
    web_auth = WebAuth(accounts, secure_cookies=https, secret=s.secret)
    desk = _desk(s, parts, rating)
    team_names = [(t.name, t.display_name) for t in s.all_teams]
    api = AgentApi(
        accounts,
        desk,
        on_reply=parts.on_reply,
        web_auth=web_auth,
        teams=team_names,
        canned=s.canned,
        on_change=lambda reference: changes.changed(references=[reference]),
        limits=s.desk,
    )

    def verdict_changed(conversation_id: int) -> None:
        parts.on_reply()  # the handoff or thanks message goes out now
        changes.changed(ids=[conversation_id])

    health = HealthRoutes(engine, parts.queue, parts.metrics, list(parts.roles))
    pages = [
        *DeskPages(
            desk,
            web_auth,
            teams=team_names,
            canned=s.canned,
            channels=_channel_names(s, parts),
            limits=s.desk,
        ).routes(),
        *SearchRoutes(desk, web_auth, api.guard).routes(),
        *CsatRoutes(engine, rating, s.texts).routes(),
        *VerdictRoutes(engine, BotTools(s, parts.clocks, rating), verdict_changed).routes(),
        *KbPages(engine).routes(),
        *CustomerFiles(engine, s.secret).routes(),
        *KbAdminPages(engine, web_auth, team_names).routes(),
        *LiveRoutes(parts.live, web_auth).routes(),
        *SupervisorPages(
            engine, web_auth, parts.ledger, [t for t, _ in team_names], s.routing.fallback_team
        ).routes(),
        *QuarantinePages(engine, parts.queue, web_auth).routes(),
        *AdminPages(engine, web_auth, team_names, parts.live.end_streams_of).routes(),
        *CorrectionPages(engine, web_auth, dict(team_names), s.routing.corrections).routes(),
        *health.routes(),
    ]
    app = build_web_app(
        [*(r for c in parts.channels for r in c.routes()), *pages],
        api,
        web_auth,
        max_request_bytes=s.web.max_request_bytes,
        read_timeout=s.web.read_timeout,
        https=https,
    )

    async def close_connections(_app: web.Application) -> None:
        # Runs once the server stopped accepting, before it waits for open requests:
        # a chat socket would otherwise hold the shutdown until aiohttp gives up.
        parts.live.close()
        for channel in parts.channels:
            await channel.close_connections()

    app.on_shutdown.append(close_connections)
    return app


def web_runner(app: web.Application, settings: WebSettings) -> web.AppRunner:
    """The runner that serves ``app`` with the configured time limits."""
    # aiohttp's keep-alive timer also runs from a connection's start until a request's
    # headers are in: the limit on slow headers (the body has its own, in web.py).
    # Lingering (reading an unread body before closing) would give a client cut off
    # for a slow body 10 s more.
    return web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=settings.read_timeout,
        lingering_time=min(10.0, settings.read_timeout),
    )


async def listen(runner: web.AppRunner, settings: WebSettings) -> int:
    """Starts serving on the configured address; returns the port really bound (the
    configured one, or a free one for port 0)."""
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    port: int = sockets[0].getsockname()[1] if sockets else settings.port
    return port
