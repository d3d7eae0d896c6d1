"""Health and metrics endpoints of every process: ``/health`` and ``/metrics``.

The web role serves them beside its pages; the other roles serve them on a small server
of their own (``inbox serve --health-port``), so an orchestrator can probe and scrape
each process.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.metrics import Metrics
from inbox.queue import Queue
from inbox.store.tables import outbox
from inbox.web.ledger_watch import LedgerWatch

PROBE_TIMEOUT = 5.0


def register_gauges(
    metrics: Metrics, engine: AsyncEngine, queue: Queue | None, ledger: LedgerWatch
) -> None:
    """The shared-state gauges: queue depth, in flight, dead letters, outbox backlog, and
    the contacts nobody has answered."""

    async def backlog() -> float:
        async with engine.connect() as conn:
            value = await conn.scalar(
                select(func.count()).where(outbox.c.state.in_(("pending", "sending")))
            )
        return float(value or 0)

    metrics.gauge("inbox_outbox_backlog", "Answers and alerts not yet sent.", backlog)
    metrics.gauge(
        "inbox_unanswered_contacts",
        "Customer contacts with no delivered answer past [ledger] unanswered_after_minutes.",
        ledger.unanswered,
    )
    if queue is None:
        return

    async def depth() -> float:
        return float(await queue.pending())

    async def dead() -> float:
        return float(await queue.dead_count())

    async def in_flight() -> float:
        return float(await queue.in_flight())

    metrics.gauge("inbox_queue_depth", "Inbound messages not yet processed.", depth)
    metrics.gauge("inbox_queue_dead_letters", "Inbound messages given up on.", dead)
    metrics.gauge(
        "inbox_queue_in_flight", "Messages handed to a worker, not yet acknowledged.", in_flight
    )


class HealthRoutes:
    """``GET /health`` (is this process and what it depends on working) and ``/metrics``."""

    def __init__(
        self, engine: AsyncEngine, queue: Queue | None, metrics: Metrics, roles: list[str]
    ) -> None:
        self.engine = engine
        self.queue = queue
        self.metrics = metrics
        self.roles = roles
        self.started = time.time()

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get("/health", self.health), web.get("/metrics", self.scrape)]

    async def _check(self, what: str) -> str:
        try:
            if what == "store":
                async with asyncio.timeout(PROBE_TIMEOUT), self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            elif self.queue is not None:
                async with asyncio.timeout(PROBE_TIMEOUT):
                    await self.queue.pending()
        except Exception as err:
            return f"failing: {type(err).__name__}: {err}"[:300]
        return "ok"

    async def health(self, request: web.Request) -> web.Response:
        """200 when the store (and queue, where this process uses one) answer, else 503."""
        checks = {"store": await self._check("store")}
        if self.queue is not None:
            checks["queue"] = await self._check("queue")
        healthy = all(v == "ok" for v in checks.values())
        body = {
            "status": "ok" if healthy else "failing",
            "roles": self.roles,
            "checks": checks,
            "uptime_seconds": round(time.time() - self.started, 1),
        }
        return web.json_response(body, status=200 if healthy else 503)

    async def scrape(self, request: web.Request) -> web.Response:
        """The process's metrics in Prometheus's text format."""
        return web.Response(
            text=await self.metrics.render(), content_type="text/plain", charset="utf-8"
        )


async def serve_health(routes: HealthRoutes, host: str, port: int) -> web.AppRunner:
    """A small server with only ``/health`` and ``/metrics``, for roles without the web."""
    app = web.Application()
    app.add_routes(routes.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
