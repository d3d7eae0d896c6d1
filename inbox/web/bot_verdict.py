"""The links under a bot answer on channels without buttons (email, the ticket page):
``GET /answer/{token}?v=yes`` shows the three choices with the linked one ready;
``POST`` records the tap. Opening the link records nothing (mail scanners open links).

A tap does what the same words would do in a reply: "yes" resolves, "no" or "a person"
hands the conversation to its team. Once a person has it, the page says so.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.bot_words import CHOICES, HandoffReason, Verdict
from inbox.pages.render import render
from inbox.pages.wording import page_language, page_texts
from inbox.pipeline.bot.moves import SAID_YES, BotTools, hand_off, resolve
from inbox.store.bot_rows import held
from inbox.store.engine import now
from inbox.store.languages import conversation_language
from inbox.store.locks import serialize
from inbox.store.references import conversation_of_reference
from inbox.store.writes import record_event
from inbox.text import format_reference
from inbox.texts import CHOICE_KEYS, Key, Wording, customer_language

NOT_VALID = "This link is not valid."


class VerdictRoutes:
    """The public verdict page (the signed link is the key)."""

    def __init__(
        self, engine: AsyncEngine, tools: BotTools, on_change: Callable[[int], None]
    ) -> None:
        """``on_change`` is told the conversation a tap changed (to send its message and
        update the pages that show it)."""
        self.engine = engine
        self.tools = tools
        self.on_change = on_change

    def routes(self) -> list[web.AbstractRouteDef]:
        """``/answer/{token}``, both ways."""
        return [web.get("/answer/{token}", self.page), web.post("/answer/{token}", self.answer)]

    async def _conversation(self, token: str) -> tuple[int, int]:
        reference = self.tools.links.verdict_reference(token)
        found = (
            None if reference is None else await conversation_of_reference(self.engine, reference)
        )
        if reference is None or found is None:
            raise web.HTTPNotFound(text=NOT_VALID)
        return reference, found

    async def page(self, request: web.Request) -> web.Response:
        """The choices, the one the link named first and ready."""
        reference, conversation_id = await self._conversation(request.match_info["token"])
        wanted = request.query.get("v", "")
        say = await self._wording(conversation_id, request)
        return render("answer.html", _page(say, reference, wanted, ""))

    async def answer(self, request: web.Request) -> web.Response:
        """Records the tapped choice."""
        reference, conversation_id = await self._conversation(request.match_info["token"])
        form = await request.post()
        try:
            verdict = Verdict(str(form.get("v", "")))
        except ValueError:
            raise web.HTTPUnprocessableEntity(text="Choose one of the answers.") from None
        if verdict is Verdict.OTHER:
            raise web.HTTPUnprocessableEntity(text="Choose one of the answers.")
        done = await self._apply(conversation_id, verdict)
        if done:
            self.on_change(conversation_id)
        outcome = verdict.value if done else "taken"
        say = await self._wording(conversation_id, request)
        return render("answer.html", _page(say, reference, verdict.value, outcome))

    async def _wording(self, conversation_id: int, request: web.Request) -> Wording:
        """The page in the customer's language (the bot answer's), else the browser's."""
        async with self.engine.connect() as conn:
            kept = await conversation_language(conn, conversation_id)
        return self.tools.settings.texts.wording(
            customer_language("", page_language(request), kept)
        )

    async def _apply(self, conversation_id: int, verdict: Verdict) -> bool:
        """Does what the verdict says, if the bot still holds the conversation."""
        async with self.engine.begin() as conn:
            await serialize(conn, "ingest")  # in step with the customer's replies
            conv = (await held(conn, [conversation_id])).get(conversation_id)
            if conv is None:
                return False
            data = {"verdict": verdict.value, "via": "link"}
            await record_event(conn, conversation_id, "bot_verdict", "customer", data)
            if verdict is Verdict.YES:
                await resolve(conn, conv, SAID_YES, self.tools, now())
            elif verdict is Verdict.HUMAN:
                await hand_off(conn, conv, HandoffReason.ASKED, "asked", self.tools)
            else:
                await hand_off(conn, conv, HandoffReason.UNHELPFUL, "unhelpful", self.tools)
        return True


def _page(say: Wording, reference: int, wanted: str, outcome: str) -> dict[str, object]:
    return {
        "lang": say.language,
        "t": page_texts(say),
        "heading": say(Key.ANSWER_HEADING, reference=format_reference(reference)),
        "choices": [(c.verdict.value, say(CHOICE_KEYS[c.verdict])) for c in CHOICES],
        "wanted": wanted,
        "outcome": outcome,
    }
