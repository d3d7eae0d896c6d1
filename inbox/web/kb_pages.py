"""The knowledge base's public pages: ``GET /kb/{id}``, a published article on its own page.

Customers reach it from the bot's answers. Drafts, retired and unknown articles are all
the same 404, so a page never tells whether an unpublished article exists.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.kb.articles import ARTICLE_ID
from inbox.pages.render import render
from inbox.pages.safe_markdown import render_markdown
from inbox.store.kb import KnowledgeBase


class KbPages:
    """The public article pages."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.kb = KnowledgeBase(engine)

    def routes(self) -> list[web.AbstractRouteDef]:
        """The article page's route (public: only published articles are shown)."""
        return [web.get("/kb/{article_id}", self.article)]

    async def article(self, request: web.Request) -> web.Response:
        """A published article, its Markdown rendered safely; 404 for anything else."""
        article_id = request.match_info["article_id"]
        stored = await self.kb.article(article_id) if ARTICLE_ID.match(article_id) else None
        if stored is None or stored.state != "published":
            return render(
                "error.html",
                {
                    "title": "Article not found",
                    "message": "There is no such article, or it is no longer available.",
                    "back": "/",
                    "back_text": "Back to the start page",
                },
                status=404,
            )
        title = stored.article.title
        return render(
            "kb_article.html",
            {
                "title": title,
                "body": render_markdown(stored.article.body, title=title),
                "updated_at": stored.updated_at,
            },
        )
