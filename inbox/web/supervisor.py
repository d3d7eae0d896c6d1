"""The supervisor dashboard: server-rendered, live through ``/live``, with a CSV export.

Only supervisors and admins get these pages (an agent gets 403), and only for the teams
they belong to. The bot's part covers the period in ``?days=`` (one of ``PERIODS``);
its figures and the knowledge base's gaps export as JSON and CSV.
"""

from __future__ import annotations

import calendar
import csv
import io
import statistics
import time

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.models import Priority
from inbox.pages.render import render
from inbox.store.accounts import Session
from inbox.store.dashboard_rows import CSAT_DAYS, OPEN, PERIODS, bot_report, dashboard
from inbox.store.incident_rows import visible_incidents
from inbox.store.quarantine_review import unreviewed_count
from inbox.store.staffing import unstaffed_teams
from inbox.store.tables import agents, conversations
from inbox.web.auth import WebAuth
from inbox.web.bot_exports import bot_json, csv_cell, gaps_csv
from inbox.web.ledger_watch import LedgerWatch

CHART_DAYS = 14
GAP_ROWS = 15  # groups of unanswered questions on the page; the CSV has them all
EXPORT_COLUMNS = (
    "ticket",
    "team",
    "status",
    "priority",
    "channel",
    "assignee",
    "created_at",
    "first_response_at",
    "sla_state",
    "sla_due",
    "subject",
)


def period_days(request: web.Request) -> int:
    """The period asked for in ``?days=``; anything but one of ``PERIODS``: the default."""
    asked = request.query.get("days", "")
    return int(asked) if asked.isdigit() and int(asked) in PERIODS else CSAT_DAYS


def _iso(stamp: float | None) -> str:
    if stamp is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


class SupervisorPages:
    """``/supervisor``, ``/supervisor/panel`` (the live part) and the CSV export."""

    def __init__(
        self,
        engine: AsyncEngine,
        auth: WebAuth,
        ledger: LedgerWatch,
        team_names: list[str],
        fallback_team: str,
    ) -> None:
        self.engine = engine
        self.auth = auth
        self.ledger = ledger
        self.team_names = team_names  # the configured teams (to tell which nobody works)
        self.fallback_team = fallback_team

    def routes(self) -> list[web.AbstractRouteDef]:
        """The pages, each for supervisors only."""
        only = self.auth.page
        return [
            web.get("/supervisor", only(self.page, supervisors_only=True)),
            web.get("/supervisor/panel", only(self.panel, supervisors_only=True)),
            web.get("/supervisor/export.csv", only(self.export, supervisors_only=True)),
            web.get("/supervisor/charts.json", only(self.charts, supervisors_only=True)),
            web.get("/supervisor/bot.json", only(self.bot, supervisors_only=True)),
            web.get("/supervisor/kb-gaps.csv", only(self.gaps, supervisors_only=True)),
        ]

    async def _context(self, request: web.Request, session: Session) -> dict[str, object]:
        return {
            "board": await dashboard(self.engine, session.agent, period_days(request)),
            "incidents": await visible_incidents(self.engine, session.agent),
            "ledger": (await self.ledger.report()).visible_to(session.agent.teams),
            "ledger_settings": self.ledger.settings,
            "periods": PERIODS,
            "gap_rows": GAP_ROWS,
            "quarantined": await unreviewed_count(self.engine),
            "unstaffed": await unstaffed_teams(self.engine, self.team_names),
            "fallback_team": self.fallback_team,
            "me": session.agent,
            "csrf": session.csrf,
        }

    async def page(self, request: web.Request, session: Session) -> web.Response:
        """The whole dashboard."""
        response = render("supervisor.html", await self._context(request, session))
        response.headers["Cache-Control"] = "no-store"
        return response

    async def panel(self, request: web.Request, session: Session) -> web.Response:
        """The tables alone, for the page to swap in when something changes."""
        response = render("supervisor_panel.html", await self._context(request, session))
        response.headers["Cache-Control"] = "no-store"
        return response

    async def bot(self, request: web.Request, session: Session) -> web.Response:
        """The bot's figures and the knowledge base's gaps over the period, as JSON."""
        report = await bot_report(self.engine, session.agent, period_days(request))
        return web.json_response(bot_json(report), headers={"Cache-Control": "no-store"})

    async def gaps(self, request: web.Request, session: Session) -> web.Response:
        """The questions the bot could not answer over the period, a group a row, as CSV."""
        days = period_days(request)
        report = await bot_report(self.engine, session.agent, days)
        return web.Response(
            text=gaps_csv(report),
            content_type="text/csv",
            charset="utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="kb-gaps-{days}-days.csv"',
                "Cache-Control": "no-store",
            },
        )

    async def charts(self, request: web.Request, session: Session) -> web.Response:
        """The chart data over the last CHART_DAYS days: conversations a day by channel and
        by team, and the median time to the first answer by team and by channel."""
        days = [
            time.strftime("%Y-%m-%d", time.gmtime(time.time() - (CHART_DAYS - 1 - i) * 86400))
            for i in range(CHART_DAYS)
        ]
        since = calendar.timegm(time.strptime(days[0], "%Y-%m-%d"))
        c = conversations
        query = select(c.c.channel, c.c.team, c.c.created_at, c.c.first_response_at).where(
            c.c.team.in_(session.agent.teams), c.c.created_at >= since
        )
        volume: dict[str, dict[str, list[int]]] = {"channel": {}, "team": {}}
        waits: dict[str, dict[str, list[float]]] = {"channel": {}, "team": {}}
        async with self.engine.connect() as conn:
            for r in await conn.execute(query):
                day = time.strftime("%Y-%m-%d", time.gmtime(r.created_at))
                for by, key in (("channel", r.channel), ("team", r.team)):
                    if day in days:
                        volume[by].setdefault(key, [0] * CHART_DAYS)[days.index(day)] += 1
                    if r.first_response_at is not None:
                        waits[by].setdefault(key, []).append(r.first_response_at - r.created_at)

        def medians(by: str) -> dict[str, float]:
            return {
                key: round(statistics.median(values) / 3600, 2)
                for key, values in sorted(waits[by].items())
            }

        return web.json_response(
            {
                "days": days,
                "volume_by_channel": dict(sorted(volume["channel"].items())),
                "volume_by_team": dict(sorted(volume["team"].items())),
                "first_response_hours_by_team": medians("team"),
                "first_response_hours_by_channel": medians("channel"),
            },
            headers={"Cache-Control": "no-store"},
        )

    async def export(self, request: web.Request, session: Session) -> web.Response:
        """Open conversations of the supervisor's teams as CSV."""
        c = conversations
        query = (
            select(
                c.c.reference,
                c.c.team,
                c.c.status,
                c.c.priority,
                c.c.channel,
                agents.c.name,
                c.c.created_at,
                c.c.first_response_at,
                c.c.sla_state,
                c.c.sla_due,
                c.c.subject,
            )
            .outerjoin(agents, agents.c.id == c.c.assignee_id)
            .where(c.c.team.in_(session.agent.teams), c.c.status.in_(OPEN))
            .order_by(c.c.id)
        )
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        async with self.engine.connect() as conn:
            for r in await conn.execute(query):
                writer.writerow(
                    [
                        csv_cell(v)
                        for v in (
                            f"#{r.reference}",
                            r.team,
                            r.status,
                            Priority(r.priority).name.lower(),
                            r.channel,
                            r.name or "",
                            _iso(r.created_at),
                            _iso(r.first_response_at),
                            r.sla_state or "",
                            _iso(r.sla_due),
                            r.subject,
                        )
                    ]
                )
        return web.Response(
            text=out.getvalue(),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": 'attachment; filename="open-conversations.csv"'},
        )
