"""Customer satisfaction: after resolution the customer gets a rating link on their own
channel; one tap on a face records the rating (changeable, one per conversation).

The link is signed, so nobody rates another customer's conversation. Opening it records
nothing: mail scanners and chat link previews open every link they see, so the rating
is a POST made by a person's tap on the page.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.customer_links import CustomerLinks
from inbox.pages.render import render
from inbox.pages.wording import page_language, page_texts
from inbox.store.engine import now
from inbox.store.languages import conversation_language
from inbox.store.references import conversation_of_reference
from inbox.store.tables import csat_ratings
from inbox.store.writes import record_event
from inbox.text import clean_text, format_reference
from inbox.texts import Catalogue, Key, Wording, customer_language

SCORES = {5: Key.SCORE_5, 4: Key.SCORE_4, 3: Key.SCORE_3, 2: Key.SCORE_2, 1: Key.SCORE_1}
MAX_COMMENT = 2000


# The rating link is one of the customer's signed links.
CsatLinks = CustomerLinks


async def record_rating(
    conn: AsyncConnection, conversation_id: int, score: int, comment: str
) -> None:
    """Stores or replaces the conversation's rating, with an audit event. (A portable
    upsert: the primary key makes a racing second insert fail, never a second row.)"""
    stamp = now()
    changed = await conn.execute(
        update(csat_ratings)
        .where(csat_ratings.c.conversation_id == conversation_id)
        .values(score=score, comment=comment, updated_at=stamp)
    )
    if not changed.rowcount:
        await conn.execute(
            insert(csat_ratings).values(
                conversation_id=conversation_id,
                score=score,
                comment=comment,
                created_at=stamp,
                updated_at=stamp,
            )
        )
    await record_event(conn, conversation_id, "csat_rated", "customer", {"score": score})


NOT_VALID = "This rating link is not valid."


class CsatRoutes:
    """``GET /rate/{token}`` (the faces) and ``POST /rate/{token}`` (the tap)."""

    def __init__(
        self, engine: AsyncEngine, links: CsatLinks, texts: Catalogue | None = None
    ) -> None:
        self.engine = engine
        self.links = links
        self.texts = texts or Catalogue()

    def routes(self) -> list[web.AbstractRouteDef]:
        """The rating page's routes (public: the signed link is the key)."""
        return [web.get("/rate/{token}", self.page), web.post("/rate/{token}", self.rate)]

    async def _conversation(self, token: str) -> tuple[int, int]:
        reference = self.links.reference(token)
        found = (
            None if reference is None else await conversation_of_reference(self.engine, reference)
        )
        if reference is None or found is None:
            raise web.HTTPNotFound(text=NOT_VALID)
        return reference, found

    async def page(self, request: web.Request) -> web.Response:
        """Five faces, each a one-tap button; nothing is recorded by opening the link."""
        reference, conversation_id = await self._conversation(request.match_info["token"])
        async with self.engine.connect() as conn:
            current = await conn.scalar(
                select(csat_ratings.c.score).where(
                    csat_ratings.c.conversation_id == conversation_id
                )
            )
            say = await self._wording(conn, conversation_id, request)
        return render("rate.html", _page(say, reference, current, thanks=False))

    async def rate(self, request: web.Request) -> web.Response:
        """Records the tapped score (and an optional comment)."""
        reference, conversation_id = await self._conversation(request.match_info["token"])
        form = await request.post()
        try:
            score = int(str(form.get("score", "")))
        except ValueError:
            score = 0
        if score not in SCORES:
            raise web.HTTPUnprocessableEntity(text="Choose one of the five faces.")
        comment = clean_text(str(form.get("comment", "")))[:MAX_COMMENT]
        async with self.engine.begin() as conn:
            await record_rating(conn, conversation_id, score, comment)
            say = await self._wording(conn, conversation_id, request)
        return render("rate.html", _page(say, reference, score, thanks=True))

    async def _wording(
        self, conn: AsyncConnection, conversation_id: int, request: web.Request
    ) -> Wording:
        """The page in the language the rating request was written in (the customer's),
        else the browser's."""
        kept = await conversation_language(conn, conversation_id)
        return self.texts.wording(customer_language("", page_language(request), kept))


def _page(say: Wording, reference: int, current: int | None, *, thanks: bool) -> dict[str, Any]:
    """The rating page's context."""
    return {
        "lang": say.language,
        "t": page_texts(say),
        "heading": say(Key.RATE_HEADING, reference=format_reference(reference)),
        "scores": {score: say(key) for score, key in SCORES.items()},
        "current": current,
        "thanks": thanks,
    }
