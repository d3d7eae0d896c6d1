"""Search in the desk: ``/agent/search`` (the left and middle panes with the results in
the list's place, for the page to swap in) and ``GET /api/search`` (the same as JSON).

What narrows a search comes as query parameters (``q``, ``status``, ``team``,
``assignee``, ``channel``, ``priority``, ``sla``, ``from``, ``to``, ``offset``,
``limit``); a value that is not one of the choices is a 422 at the API and ignored on the
page. Dates are days in UTC, ``to`` included.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from urllib.parse import urlencode

from aiohttp import web

from inbox.models import Priority, Status
from inbox.pages.render import render
from inbox.store.accounts import Agent, Session
from inbox.store.desk import Desk
from inbox.store.desk_inbox import PAGE
from inbox.store.desk_search import SLA_STATES, SearchFilters
from inbox.web.auth import WebAuth
from inbox.web.desk import DEFAULT_VIEW, list_row

DAY = 86_400.0
FILTERS = ("status", "team", "assignee", "channel", "priority", "sla", "from", "to")
ApiHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Guard = Callable[[Callable[[web.Request, Agent], Awaitable[web.Response]]], ApiHandler]


class BadFilter(ValueError):
    """A filter's value is not one of its choices."""


def _day(value: str, name: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(value, "%Y-%m-%d")))
    except ValueError as err:
        raise BadFilter(f"{name} must be a date as YYYY-MM-DD") from err


def _choice(value: str, name: str, choices: Sequence[str]) -> str:
    if value and value not in choices:
        raise BadFilter(f"{name} must be one of {', '.join(choices)}")
    return value


def parse_filters(query: Mapping[str, str], agent: Agent) -> SearchFilters:
    """The filters in a request's query (raises BadFilter on a value not on offer; a team
    is one of the agent's own: there is nothing to find in another)."""
    get = {name: query.get(name, "").strip() for name in FILTERS}
    priorities = [p.name.lower() for p in Priority]
    return SearchFilters(
        status=_choice(get["status"], "status", [s.value for s in Status]),
        team=_choice(get["team"], "team", list(agent.teams)),
        assignee=agent.name if get["assignee"] == "me" else get["assignee"],
        channel=get["channel"],
        priority=_choice(get["priority"], "priority", priorities),
        sla_state=_choice(get["sla"], "sla", list(SLA_STATES)),
        since=_day(get["from"], "from") if get["from"] else None,
        until=_day(get["to"], "to") + DAY if get["to"] else None,
    )


def _paging(query: Mapping[str, str]) -> tuple[int, int]:
    try:
        return max(0, int(query.get("offset", "0"))), max(
            1, min(200, int(query.get("limit", PAGE)))
        )
    except ValueError as err:
        raise BadFilter("offset and limit must be numbers") from err


class SearchRoutes:
    """``/agent/search`` behind sign-in and ``/api/search`` behind the API's check."""

    def __init__(self, desk: Desk, auth: WebAuth, api_guard: Guard) -> None:
        self.desk = desk
        self.auth = auth
        self.api_guard = api_guard

    def routes(self) -> list[web.AbstractRouteDef]:
        """The two ways to search."""
        return [
            web.get("/agent/search", self.auth.page(self.page)),
            web.get("/api/search", self.api_guard(self.api)),
        ]

    async def page(self, request: web.Request, session: Session) -> web.Response:
        """The views and the results, in the list's place and row shape."""
        agent = session.agent
        typed = request.query.get("q", "")
        try:
            filters = parse_filters(request.query, agent)
        except BadFilter:
            filters = SearchFilters()
        try:
            offset, limit = _paging(request.query)
        except BadFilter:
            offset, limit = 0, PAGE
        found = await self.desk.search(agent, typed, filters, offset=offset, limit=limit)
        views = await self.desk.views(agent)
        back = request.query.get("view") or DEFAULT_VIEW
        if back not in {v.key for v in views}:
            back = DEFAULT_VIEW
        kept = {k: request.query[k] for k in ("q", *FILTERS) if request.query.get(k)}
        response = render(
            "desk_search.html",
            {
                "views": views,
                "view": "",  # no view is current while searching
                "back": back,
                "back_label": next(v.label for v in views if v.key == back),
                "search": urlencode({**kept, "view": back}),
                "q": " ".join(typed.split()),
                "rows": [list_row(r) for r in found.rows],
                "total": found.total,
                "offset": found.offset,
                "limit": found.limit,
                "unread_mine": await self.desk.unread_mine(agent),
                "empty": "No conversation in your teams matches.",
            },
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    async def api(self, request: web.Request, agent: Agent) -> web.Response:
        """``?q=&status=&team=&assignee=&channel=&priority=&sla=&from=&to=&offset=&limit=``"""
        try:
            filters = parse_filters(request.query, agent)
            offset, limit = _paging(request.query)
        except BadFilter as err:
            return web.json_response({"error": str(err)}, status=422)
        found = await self.desk.search(
            agent, request.query.get("q", ""), filters, offset=offset, limit=limit
        )
        return web.json_response(
            {
                "q": found.query,
                "total": found.total,
                "offset": found.offset,
                "limit": found.limit,
                "conversations": [
                    {
                        **r.summary.to_json(),
                        "customer": r.customer,
                        "address": r.address,
                        "preview": r.preview,
                        "last_author": r.last_author,
                        "last_at": r.last_at,
                        "unread": r.unread,
                    }
                    for r in found.rows
                ],
            }
        )
