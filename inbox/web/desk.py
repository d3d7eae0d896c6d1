"""The agent desk's pages, rendered on the server with Jinja2 (autoescaped).

``/agent`` is the page; ``/agent/queue`` and ``/agent/conversations/{ref}`` are the parts
the page swaps in when something changes (a live event, an action). Actions go through
the agent API with the session and its CSRF token. A mail's sanitised HTML is shown only
in an iframe with an empty ``sandbox`` attribute, as its ``srcdoc`` (escaped as an
attribute value), under this page's CSP.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from inbox.answer_files import size_in_words
from inbox.config.settings import CannedReply, DeskSettings
from inbox.errors import NotFound
from inbox.form_identity import shown_address
from inbox.pages.render import relative_time, render
from inbox.store.accounts import Agent, Session
from inbox.store.contact_policy import FIRST_ANSWER_SUPPRESSED, RESUMED, STOPPED, SUPPRESSED
from inbox.store.desk import Desk
from inbox.store.desk_inbox import ListRow
from inbox.store.desk_views import ConversationView
from inbox.web.auth import WebAuth
from inbox.web.search_form import search_form

DEFAULT_VIEW = "all"


def fill_canned(
    canned: Sequence[CannedReply], view: ConversationView, agent: Agent, display: dict[str, str]
) -> list[dict[str, str]]:
    """The canned replies with this conversation's and this agent's details filled in."""
    values = {
        "customer": view.customer.get("name") or "there",
        "ticket": f"#{view.summary.reference}",
        "agent": agent.name,
        "team": display.get(view.summary.team, view.summary.team),
    }
    return [{"name": c.name, "text": c.expand(**values)} for c in canned]


def list_row(r: ListRow) -> dict[str, Any]:
    """A row of the middle pane as the template shows it."""
    s = r.summary
    return {
        **s.to_json(),
        "sla": sla_words(s.sla_state, s.sla_due),
        "due": relative_time(s.sla_due) if s.sla_due else "",
        "who": r.customer or shown_customer(s.channel, r.address),
        "preview": r.preview,
        "last_author": r.last_author,
        "last_at": r.last_at,
        "unread": r.unread,
    }


def shown_customer(channel: str, address: str) -> str:
    """Who wrote, when they gave no name: their address, or what the channel knows."""
    if channel == "webchat":
        return f"Chat visitor {address[:6]}"
    if channel == "telegram":
        return f"Telegram user {address}"
    return shown_address(channel, address)


def _first_words(view: ConversationView) -> str:
    """A title for a conversation without a subject (a form, a chat): how it began."""
    first = next((m.text for m in view.messages if m.direction == "in"), "")
    words = " ".join(first.split())
    return words if len(words) <= 70 else words[:70].rsplit(" ", 1)[0] + "…"


def _who(view: ConversationView) -> str:
    """The customer as the conversation shows them when they gave no name."""
    own = [o for o in view.customer.get("reply_options", []) if o["own"]]
    return shown_customer(view.summary.channel, own[0]["address"]) if own else "Customer"


def sla_words(state: str | None, due: float | None) -> str:
    """``SLA ok, due in 3 h 5 min``, ``SLA paused``, or "" without a clock."""
    if not state:
        return ""
    return f"SLA {state}, due {relative_time(due)}" if due else f"SLA {state}"


def evidence(routing: dict[str, Any] | None) -> str:
    """Why the conversation is with its team, in one line."""
    if not routing:
        return ""
    if routing.get("abstained"):
        why = f"sent to {routing['team']}: {routing.get('abstain_reason', '')}"
    else:
        why = f"routed to {routing['team']} with confidence {routing['confidence']:.2f}"
    near = [
        f"\u201c{n['text']}\u201d ({n['team']}, {n['score']:.2f})"
        for n in routing.get("nearest", [])[:2]
    ]
    return "Why: " + why + (f"; closest examples: {', '.join(near)}" if near else "")


def bot_part(view: ConversationView) -> list[str]:
    """What the bot did in the conversation, a line per step, for the agent who takes
    over: the article it answered with and how sure it was, and why it let go; and each
    automatic message the contact policy held back, with its rule."""
    lines = []
    for e in view.events:
        data = e["data"]
        if e["kind"] == "bot_answered":
            lines.append(
                f"The bot answered with \u201c{data['title']}\u201d ({data['article']}, "
                f"version {data['version']}; confidence {data['confidence']:.2f}, "
                f"threshold {data['threshold']:.2f})."
            )
        elif e["kind"] == "bot_handed_off":
            lines.append(f"Handed to a person: {data['reason']}.")
        elif e["kind"] == "resolved" and e["actor"] == "bot":
            lines.append(f"Resolved by the bot: {data.get('why', '')}.")
        elif e["kind"] in HELD:
            what = HELD[e["kind"]].format(message=data.get("message", "message"))
            lines.append(f"{what} held back: {data.get('reason', '')}.")
        elif e["kind"] in (STOPPED, RESUMED):
            now_off = "stopped" if e["kind"] == STOPPED else "resumed"
            who = "the customer" if e["actor"] == "customer" else e["actor"]
            lines.append(f"Automatic messages {now_off} by {who} ({data.get('via', '')}).")
    return lines


# The contact policy's events, as the agent reads them (see inbox.store.contact_policy).
HELD = {
    FIRST_ANSWER_SUPPRESSED: "An automatic answer (acknowledgement or the bot's) was",
    SUPPRESSED: "An automatic {message} was",
}


def duplicate_offer(view: ConversationView) -> dict[str, Any] | None:
    """The latest "possibly the same issue" suggestion still open, if any."""
    kinds = [e["kind"] for e in view.events]
    offers = [e for e in view.events if e["kind"] == "possible_duplicate"]
    if not offers or "merged_into" in kinds or view.summary.status == "resolved":
        return None
    data: dict[str, Any] = offers[-1]["data"]
    return data


class DeskPages:
    """``/agent``, ``/agent/queue`` and ``/agent/conversations/{ref}``."""

    def __init__(
        self,
        desk: Desk,
        auth: WebAuth,
        *,
        teams: Sequence[tuple[str, str]],
        canned: Sequence[CannedReply],
        channels: Sequence[str] = (),
        limits: DeskSettings | None = None,
    ) -> None:
        self.channels = list(channels)  # the search form's choice of channel
        self.desk = desk
        self.auth = auth
        self.teams = list(teams)
        self.canned = list(canned)
        self.limits = limits or DeskSettings()

    def routes(self) -> list[web.AbstractRouteDef]:
        """The desk's pages, each behind sign-in."""
        page = self.auth.page
        return [
            web.get("/agent", page(self.page)),
            web.get("/agent/queue", page(self.queue)),
            web.get("/agent/conversations/{ref:\\d+}", page(self.conversation)),
        ]

    async def _lists(self, request: web.Request, agent: Agent) -> dict[str, Any]:
        """The left and middle panes: the views with counts, and a page of the chosen one
        (``?view=``, ``?offset=``)."""
        views = await self.desk.views(agent)
        chosen = request.query.get("view") or DEFAULT_VIEW
        if chosen not in {v.key for v in views}:
            chosen = DEFAULT_VIEW
        try:
            offset = max(0, int(request.query.get("offset", "0")))
        except ValueError:
            offset = 0
        count = next(v.count for v in views if v.key == chosen)
        page = await self.desk.page(
            agent, chosen, offset=offset, total=count if count >= 0 else None
        )
        return {
            "views": views,
            "view": chosen,
            "label": next(v.label for v in views if v.key == chosen),
            "rows": [list_row(r) for r in page.rows],
            "total": page.total,
            "offset": page.offset,
            "limit": page.limit,
            "unread_mine": await self.desk.unread_mine(agent),
        }

    async def page(self, request: web.Request, session: Session) -> web.Response:
        """The whole desk: views, the list, and the conversation pane."""
        lists = await self._lists(request, session.agent)
        response = render(
            "agent.html",
            {
                "csrf": session.csrf,
                "me": session.agent,
                "team_names": dict(self.teams),
                **lists,
                **await search_form(self.desk, session.agent, self.channels),
            },
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    async def queue(self, request: web.Request, session: Session) -> web.Response:
        """The views and the list alone, for the page to swap in when something changes."""
        response = render("desk_lists.html", await self._lists(request, session.agent))
        response.headers["Cache-Control"] = "no-store"
        return response

    async def conversation(self, request: web.Request, session: Session) -> web.Response:
        """One conversation with everything an agent does with it."""
        agent = session.agent
        try:
            view = await self.desk.view(agent, int(request.match_info["ref"]))
        except NotFound as err:
            return render("desk_missing.html", {"message": str(err)}, status=404)
        await self.desk.seen(agent, view.summary.reference)
        s = view.summary
        people = [p for p in await self.desk.teammates(agent) if s.team in p["teams"]]
        display = dict(self.teams)
        meta = [s.status, s.team, s.priority, s.channel]
        meta.append(f"assigned to {s.assignee}" if s.assignee else "unassigned")
        meta.append(sla_words(s.sla_state, s.sla_due))
        response = render(
            "desk_conversation.html",
            {
                "c": view.to_json(),
                "meta": " · ".join(m for m in meta if m),
                "evidence": evidence(view.routing),
                "bot": bot_part(view),
                "offer": duplicate_offer(view),
                "seen": max((m.message_id for m in view.messages), default=0),
                "canned": fill_canned(self.canned, view, agent, display),
                "people": [p["name"] for p in people],
                "who": _who(view),
                "title": s.subject or _first_words(view),
                "teams": self.teams,
                "files": self.limits,
                "file_limit": size_in_words(self.limits.attachment_max_bytes),
            },
        )
        response.headers["Cache-Control"] = "no-store"
        return response
