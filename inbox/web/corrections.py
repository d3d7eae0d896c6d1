"""What agents taught the router, under ``/supervisor/corrections``, for supervisors only.

Every correction (a reassignment, or a confirmed routing) with who made it, when, the
text the router learnt, and from which team to which; newest first, those waiting for a
review on top. Plain form posts with the session's CSRF token: Undo an active correction
(the routers unlearn it before their next batch), or Approve or Reject a pending one
(``[routing] corrections = "review"``). The store records who decided, and when.
"""

from __future__ import annotations

from typing import cast

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.config.settings import CorrectionMode
from inbox.errors import Conflict, NotFound
from inbox.pages.render import render
from inbox.store.accounts import Session
from inbox.store.corrections import Decision, decide, list_corrections
from inbox.web.auth import WebAuth

SHOWN = 300  # corrections on the page
DONE = {
    "undo": "Undone: the router no longer learns from it (the workers, before their next batch).",
    "approve": "Approved: the router learns from it before the next batch.",
    "reject": "Rejected: the router never learns from it.",
}


class CorrectionPages:
    """``/supervisor/corrections`` and its decision posts."""

    def __init__(
        self,
        engine: AsyncEngine,
        auth: WebAuth,
        teams: dict[str, str],
        mode: CorrectionMode,
    ) -> None:
        self.engine = engine
        self.auth = auth
        self.teams = teams  # name -> display name
        self.mode = mode

    def routes(self) -> list[web.AbstractRouteDef]:
        """The list, and the decision posts; all for supervisors only."""
        only = self.auth.page
        decision = "/supervisor/corrections/{correction_id:\\d+}/{action:undo|approve|reject}"
        return [
            web.get("/supervisor/corrections", only(self.page, supervisors_only=True)),
            web.post(decision, only(self.decide, supervisors_only=True)),
        ]

    async def page(self, request: web.Request, session: Session) -> web.Response:
        """The latest corrections, pending first."""
        corrections = await list_corrections(self.engine, SHOWN)
        context = {
            "corrections": corrections,
            "pending": sum(1 for c in corrections if c.state == "pending"),
            "teams": self.teams,
            "review": self.mode == "review",
            "done": DONE.get(request.query.get("done", ""), ""),
            "me": session.agent,
            "csrf": session.csrf,
        }
        response = render("supervisor_corrections.html", context)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def decide(self, request: web.Request, session: Session) -> web.Response:
        """Undoes, approves or rejects one correction."""
        correction_id = int(request.match_info["correction_id"])
        action = cast(Decision, request.match_info["action"])
        try:
            await decide(self.engine, correction_id, action, session.agent.name)
        except (NotFound, Conflict) as err:
            return _refused(err)
        raise web.HTTPSeeOther(f"/supervisor/corrections?done={action}")


def _refused(err: NotFound | Conflict) -> web.Response:
    status = 404 if isinstance(err, NotFound) else 409
    context = {
        "title": "Not found" if status == 404 else "Not done",
        "message": str(err),
        "back": "/supervisor/corrections",
        "back_text": "Back to the corrections",
    }
    return render("error.html", context, status=status)
