"""The knowledge base's editor pages under ``/agent/kb``, for signed-in staff.

Plain forms (each with the session's CSRF token), rendered on the server: the list of
articles with a form for a new one, and one article's editor with a preview that uses the
customers' safe Markdown renderer. Saving makes a draft (a new version for an existing
article); Publish and Retire show only to those allowed (see ``kb_editing``), and the
server checks again. Every change is logged with who made it; each version records its
author, and a draft made from an answer is in that conversation's audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.errors import ArticleError, Conflict, NotFound
from inbox.pages.render import render
from inbox.pages.safe_markdown import render_markdown
from inbox.store.accounts import Session
from inbox.store.kb import KnowledgeBase, StoredArticle
from inbox.web.auth import WebAuth
from inbox.web.kb_editing import (
    ArticleFields,
    KbEditing,
    NotAllowed,
    fields_from_form,
    may_publish,
)

log = logging.getLogger(__name__)
DONE = {
    "saved": "Draft saved. It answers nobody until it is published.",
    "drafted": "Draft made from the answer. Edit it, then save; it answers nobody until "
    "it is published.",
    "published": "Published: this version is now the one in force.",
    "retired": "Retired: the article answers nobody any more.",
}


def _fields_of(stored: StoredArticle) -> ArticleFields:
    a = stored.article
    return ArticleFields(
        title=a.title,
        body=a.body,
        article_id=a.id,
        team=a.team or "",
        language=a.language,
        tags=a.tags,
        questions=a.questions,
    )


def _no_store(response: web.Response) -> web.Response:
    response.headers["Cache-Control"] = "no-store"
    return response


class KbAdminPages:
    """``/agent/kb`` (the list and a new article) and ``/agent/kb/{id}`` (one article)."""

    def __init__(self, engine: AsyncEngine, auth: WebAuth, teams: Sequence[tuple[str, str]]):
        self.kb = KnowledgeBase(engine)
        self.editing = KbEditing(self.kb, [name for name, _display in teams])
        self.auth = auth
        self.teams = list(teams)

    def routes(self) -> list[web.AbstractRouteDef]:
        """The editor's pages and form posts, each behind sign-in (posts: and CSRF)."""
        page, one = self.auth.page, "/agent/kb/{article_id}"
        return [
            web.get("/agent/kb", page(self.index)),
            web.post("/agent/kb", page(self.create)),
            web.get(one, page(self.article)),
            web.post(one, page(self.edit)),
            web.post(one + "/publish", page(self.publish)),
            web.post(one + "/retire", page(self.retire)),
        ]

    def _form(self, session: Session, fields: ArticleFields, **extra: Any) -> dict[str, Any]:
        context = {"csrf": session.csrf, "me": session.agent, "teams": self.teams, "f": fields}
        return {**context, "error": "", "done": "", "preview": "", **extra}

    async def index(self, request: web.Request, session: Session) -> web.Response:
        """Every article with its state, and the form for a new one."""
        return _no_store(await self._index(session, ArticleFields(title="", body="")))

    async def _index(
        self, session: Session, fields: ArticleFields, status: int = 200, **extra: Any
    ) -> web.Response:
        articles = await self.kb.listing()
        context = self._form(session, fields, articles=articles, **extra)
        return render("kb_admin.html", context, status=status)

    async def create(self, request: web.Request, session: Session) -> web.Response:
        """Previews or saves a new article as a draft."""
        form = await request.post()
        fields = fields_from_form(form)
        try:
            if form.get("action") == "preview":
                article = self.editing.article_of(fields)
                preview = render_markdown(article.body, title=article.title)
                return _no_store(await self._index(session, fields, preview=preview))
            stored = await self.editing.create(session.agent, fields)
        except (ArticleError, Conflict) as err:
            return _no_store(await self._index(session, fields, 422, error=str(err)))
        log.info("%s created the draft article %s", session.agent.name, stored.id)
        raise web.HTTPSeeOther(f"/agent/kb/{stored.id}?done=saved")

    async def article(self, request: web.Request, session: Session) -> web.Response:
        """One article: its newest version in the editor and in the preview."""
        article_id = request.match_info["article_id"]
        try:
            current, newest = await self.editing.versions(article_id)
        except NotFound as err:
            return self._refused(404, str(err))
        done = DONE.get(request.query.get("done", ""), "")
        return _no_store(self._editor(session, current, newest, _fields_of(newest), done=done))

    def _editor(
        self,
        session: Session,
        current: StoredArticle,
        newest: StoredArticle,
        fields: ArticleFields,
        status: int = 200,
        **extra: Any,
    ) -> web.Response:
        if not extra.get("preview"):
            extra["preview"] = render_markdown(newest.article.body, title=fields.title)
        allowed = may_publish(session.agent, current, newest)
        context = self._form(
            session, fields, current=current, newest=newest, may_publish=allowed, **extra
        )
        return render("kb_admin_edit.html", context, status=status)

    async def edit(self, request: web.Request, session: Session) -> web.Response:
        """Previews or saves an edit: a new draft version."""
        article_id = request.match_info["article_id"]
        form = await request.post()
        fields = fields_from_form(form)
        try:
            current, newest = await self.editing.versions(article_id)
        except NotFound as err:
            return self._refused(404, str(err))
        try:
            if form.get("action") == "preview":
                article = self.editing.article_of(fields, article_id)
                preview = render_markdown(article.body, title=article.title)
                return _no_store(self._editor(session, current, newest, fields, preview=preview))
            stored = await self.editing.edit(session.agent, article_id, fields)
        except ArticleError as err:
            page = self._editor(session, current, newest, fields, 422, error=str(err))
            return _no_store(page)
        log.info("%s saved version %d of article %s", session.agent.name, stored.version, stored.id)
        raise web.HTTPSeeOther(f"/agent/kb/{stored.id}?done=saved")

    async def publish(self, request: web.Request, session: Session) -> web.Response:
        """Publishes the newest version (supervisors and admins)."""
        article_id = request.match_info["article_id"]
        try:
            stored = await self.editing.publish(session.agent, article_id)
        except NotAllowed as err:
            return self._refused(403, str(err))
        except NotFound as err:
            return self._refused(404, str(err))
        log.info(
            "%s published version %d of article %s", session.agent.name, stored.version, stored.id
        )
        raise web.HTTPSeeOther(f"/agent/kb/{article_id}?done=published")

    async def retire(self, request: web.Request, session: Session) -> web.Response:
        """Retires the article (supervisors and admins)."""
        article_id = request.match_info["article_id"]
        try:
            await self.editing.retire(session.agent, article_id)
        except NotAllowed as err:
            return self._refused(403, str(err))
        except (NotFound, Conflict) as err:
            return self._refused(404 if isinstance(err, NotFound) else 409, str(err))
        log.info("%s retired article %s", session.agent.name, article_id)
        raise web.HTTPSeeOther(f"/agent/kb/{article_id}?done=retired")

    @staticmethod
    def _refused(status: int, message: str) -> web.Response:
        titles = {403: "Not allowed", 404: "Article not found"}
        context = {
            "title": titles.get(status, "Not done"),
            "message": message,
            "back": "/agent/kb",
            "back_text": "Back to the knowledge base",
        }
        return render("error.html", context, status=status)
