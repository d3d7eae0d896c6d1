"""The quarantine's review page under ``/supervisor/quarantine``, for supervisors only.

The messages that could not become tickets, unreviewed first, with their text (escaped by
the templates: a spammer's markup is shown, never run); each unreviewed one has its
buttons, plain form posts with the session's CSRF token: Release (it becomes a ticket
through the queue), Spam (confirmed: never answered) and, for an unreadable one, Dismiss.
The store logs every review with who made it, and keeps it on the entry.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.errors import Conflict, NotFound
from inbox.pages.render import render
from inbox.queue.base import Sink
from inbox.store.accounts import Session
from inbox.store.files import Quarantine
from inbox.store.quarantine_review import confirm_spam, dismiss, release
from inbox.web.auth import WebAuth

SHOWN = 200  # entries on the page
DONE = {
    "released": "Released: the message is queued and becomes a ticket in a moment.",
    "spam": "Confirmed as spam: it is never answered.",
    "dismissed": "Dismissed.",
}


class QuarantinePages:
    """``/supervisor/quarantine`` and its review posts."""

    def __init__(self, engine: AsyncEngine, queue: Sink, auth: WebAuth) -> None:
        self.quarantine = Quarantine(engine)
        self.engine = engine
        self.queue = queue
        self.auth = auth

    def routes(self) -> list[web.AbstractRouteDef]:
        """The list, and the review posts; all for supervisors only."""
        only = self.auth.page
        review = "/supervisor/quarantine/{entry_id:\\d+}/{action:release|spam|dismiss}"
        return [
            web.get("/supervisor/quarantine", only(self.page, supervisors_only=True)),
            web.post(review, only(self.review, supervisors_only=True)),
        ]

    async def page(self, request: web.Request, session: Session) -> web.Response:
        """Every entry, unreviewed first, newest first within each part."""
        entries = await self.quarantine.entries(SHOWN, unreviewed_first=True)
        context = {
            "entries": entries,
            "unreviewed": sum(1 for e in entries if e.review is None),
            "done": DONE.get(request.query.get("done", ""), ""),
            "me": session.agent,
            "csrf": session.csrf,
        }
        response = render("supervisor_quarantine.html", context)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def review(self, request: web.Request, session: Session) -> web.Response:
        """Releases the entry as a ticket, confirms it as spam, or dismisses it."""
        entry_id, action = int(request.match_info["entry_id"]), request.match_info["action"]
        by = session.agent.name
        try:
            if action == "release":
                await release(self.engine, self.queue, entry_id, by)
            elif action == "spam":
                await confirm_spam(self.engine, entry_id, by)
            else:
                await dismiss(self.engine, entry_id, by)
        except (NotFound, Conflict) as err:
            return _refused(err)
        done = {"release": "released", "spam": "spam", "dismiss": "dismissed"}[action]
        raise web.HTTPSeeOther(f"/supervisor/quarantine?done={done}")


def _refused(err: NotFound | Conflict) -> web.Response:
    status = 404 if isinstance(err, NotFound) else 409
    context = {
        "title": "Not found" if status == 404 else "Not done",
        "message": str(err),
        "back": "/supervisor/quarantine",
        "back_text": "Back to the quarantine",
    }
    return render("error.html", context, status=status)
