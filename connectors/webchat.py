"""The web chat channel: a small embeddable page talking over a WebSocket.

A visitor's session is a random id signed by the server; the token lives in the
visitor's browser, so nobody reads another visitor's conversation by guessing ids.
Messages are idempotent on ``(session, client_id)``; answers are pushed live to every
open socket of the session and are in the history when the visitor comes back.

A visitor may give a name (each message frame carries it; it names a new customer). A
site's signed-in user comes with an identity the site signed (``connectors.chat_identity``):
their session is then their own, in any browser, and joined to their customer before they
write; an identity whose signature is wrong is refused, never half-trusted.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from aiohttp import WSMsgType, web

from connectors.base import CustomerTranscripts
from connectors.chat_identity import (
    MAX_NAME_CHARS,
    ChatIdentities,
    IdentityRefused,
    user_session,
    verify_visitor,
)
from connectors.following import follow_sent
from inbox import safe_json
from inbox.answer_files import FileLinks
from inbox.command_words import parse_command
from inbox.config.settings import ChatSettings
from inbox.models import AnswerFile, Envelope, MessageMeta, Outbound, TranscriptEntry
from inbox.pages.ratelimit import RateLimiter
from inbox.pages.render import EMBEDDABLE_CSP, client_ip, render
from inbox.pages.wording import page_language, page_texts
from inbox.queue import Sink
from inbox.signing import Signer
from inbox.text import clean_text, single_line
from inbox.texts import CHAT_KEYS, Catalogue, from_accept_language, supported

log = logging.getLogger(__name__)
CHANNEL = "webchat"
MAX_FRAME_BYTES = 64 * 1024
MAX_SESSION_BODY_BYTES = 4 * 1024


def entry_json(entry: TranscriptEntry, links: FileLinks) -> dict[str, Any]:
    """One transcript entry as the chat page receives it."""
    return message_json(
        entry.message_id,
        entry.author,
        entry.text,
        entry.created_at,
        entry.choices,
        files_json(entry.files, links),
    )


def files_json(files: Sequence[AnswerFile], links: FileLinks) -> list[dict[str, Any]]:
    """An answer's files as the page links them: name, size and the signed download."""
    return [{"name": f.filename, "size": f.size, "url": links.path(f.file_id)} for f in files]


def message_json(
    message_id: int,
    author: str,
    text: str,
    at: float,
    choices: tuple[str, ...],
    files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A message frame. ``choices`` are replies the page offers as buttons while the
    message is the latest; a pressed one is sent back as if the visitor typed it.
    ``files`` are an agent's attachments, each a link the visitor opens without a session."""
    return {
        "type": "message",
        "id": message_id,
        "author": author,
        "text": text,
        "at": at,
        "choices": list(choices),
        "files": files or [],
    }


async def push(ws: web.WebSocketResponse, frame: dict[str, Any]) -> bool:
    """Sends one frame; False if the visitor has gone (a closed tab is no error)."""
    try:
        await ws.send_json(frame)
    except ConnectionError as err:  # aiohttp's "Cannot write to closing transport" among them
        log.debug("a chat socket closed before a %s frame reached it: %s", frame["type"], err)
        return False
    return True


class WebChatConnector:
    """``GET /chat``, ``POST /chat/session`` and the ``/chat/ws`` WebSocket."""

    name = CHANNEL

    def __init__(
        self,
        settings: ChatSettings,
        secret: bytes,
        transcripts: CustomerTranscripts,
        identities: ChatIdentities,
        *,
        texts: Catalogue | None = None,
    ) -> None:
        self.settings = settings
        self.texts = texts or Catalogue()  # the page's words, in the browser's language
        self.transcripts = transcripts
        self.identities = identities
        self._secret = secret
        self.sessions = Signer(secret, "chat-session")
        self.file_links = FileLinks(secret)
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        self.session_limiter = RateLimiter(30)
        self._sockets: dict[str, set[web.WebSocketResponse]] = {}
        self._sink: Sink | None = None

    async def run(self, sink: Sink) -> None:
        """Accepts chat messages until cancelled; closes every socket on the way out."""
        self._sink = sink
        try:
            await asyncio.Event().wait()
        finally:
            self._sink = None
            await self.close_connections()

    async def follow(self, stopping: asyncio.Event, interval: float = 1.0) -> None:
        """Pushes answers that another web process delivered to this process's sockets
        (see ``connectors.following``); the page ignores an id it already shows."""

        async def deliver(address: str, entry: TranscriptEntry) -> None:
            for ws in list(self._sockets.get(address, ())):
                await push(ws, entry_json(entry, self.file_links))

        await follow_sent(
            self.transcripts, CHANNEL, stopping, lambda: bool(self._sockets), deliver, interval
        )

    async def close_connections(self) -> None:
        """Closes every open socket (1001, going away); the page reconnects by itself."""
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1001, message=b"server shutting down")

    async def close(self) -> None:
        """Nothing more to release: the sockets closed with the web server."""

    @property
    def open_sockets(self) -> int:
        """Chat sockets open right now, all visitors together."""
        return sum(len(sockets) for sockets in self._sockets.values())

    async def send(self, outbound: Outbound) -> str:
        """Pushes the answer to the visitor's open sockets; it is in the history anyway.

        A push that finds the socket gone still counts as delivered: the outbox marks the
        answer sent, which is what puts it in the history the page loads when it comes back.
        """
        frame = message_json(
            outbound.message_id,
            outbound.author,
            outbound.text,
            time.time(),
            outbound.choices,
            files_json(outbound.files, self.file_links),
        )
        for ws in list(self._sockets.get(outbound.address, ())):
            await push(ws, frame)
        return f"webchat:{outbound.message_id}"

    def routes(self) -> list[web.AbstractRouteDef]:
        """The chat's HTTP routes."""
        return [
            web.get("/chat", self.page),
            web.post("/chat/session", self.new_session),
            web.get("/chat/ws", self.socket),
        ]

    async def page(self, request: web.Request) -> web.Response:
        """The chat page, in the browser's language (its script's words come in the page);
        it can be embedded in an iframe on any site."""
        say = self.texts.wording(page_language(request))
        context = {
            "lang": say.language,
            "t": page_texts(say),
            "script_texts": {
                key.value: say.catalogue.template(say.language, key) for key in CHAT_KEYS
            },
        }
        return render("chat.html", context, csp=EMBEDDABLE_CSP)

    async def new_session(self, request: web.Request) -> web.Response:
        """Starts a visitor session and returns its signed token: a random one, or the
        signed-in user's own when the page passed their identity and its valid signature
        (JSON or form fields ``user_id``, ``email``, ``name``, ``user_hash``)."""
        wait = self.session_limiter.check(client_ip(request))
        if wait > 0:
            return web.json_response({"error": "too many new sessions; slow down"}, status=429)
        fields = await _fields(request)
        if isinstance(fields, str):
            return web.json_response({"error": fields}, status=400)
        try:
            visitor = verify_visitor(self.settings.identity_secret, fields)
        except IdentityRefused as err:
            log.info("a chat identity was refused: %s", err.reason)
            return web.json_response(
                {"error": f"your identity could not be verified: {err.reason}"}, status=403
            )
        if visitor is None:
            token = self.sessions.sign(secrets.token_hex(16))
            return web.json_response({"token": token, "verified": False})
        session = user_session(self._secret, visitor.user_id)
        await self.identities.bind(session, visitor.email, visitor.name)
        return web.json_response(
            {"token": self.sessions.sign(session), "verified": True, "name": visitor.name}
        )

    async def socket(self, request: web.Request) -> web.StreamResponse:
        """The live conversation: history first, then messages both ways."""
        session = self.sessions.verify(request.query.get("token", ""))
        if session is None:
            return web.json_response({"error": "invalid or missing session token"}, status=403)
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        self._sockets.setdefault(session, set()).add(ws)
        try:
            history = await self.transcripts.for_identity(CHANNEL, session)
            if not await push(
                ws,
                {"type": "history", "messages": [entry_json(e, self.file_links) for e in history]},
            ):
                return ws
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    # The message is queued before its reply frame goes out: a visitor gone
                    # by then loses nothing, and the page resends what it saw unconfirmed.
                    if not await push(ws, await self._receive(session, frame.data, request)):
                        break
                elif frame.type == WSMsgType.ERROR:
                    break
        finally:
            sockets = self._sockets.get(session)
            if sockets is not None:
                sockets.discard(ws)
                if not sockets:
                    del self._sockets[session]
        return ws

    async def _receive(self, session: str, data: str, request: web.Request) -> dict[str, Any]:
        try:
            raw: Any = safe_json.loads(data)
        except ValueError as err:
            return {"type": "error", "error": f"frames must be JSON: {err}"}
        if not isinstance(raw, dict) or raw.get("type") != "message":
            return {"type": "error", "error": "unknown frame type"}
        client_id = raw.get("client_id")
        text = raw.get("text")
        if not isinstance(client_id, str) or not 1 <= len(client_id) <= 100:
            return {"type": "error", "error": "client_id must be a string of 1 to 100 characters"}
        if not isinstance(text, str) or not clean_text(text):
            return {"type": "error", "client_id": client_id, "error": "write a message"}
        text = clean_text(text)
        name = raw.get("name", "")
        if not isinstance(name, str):
            return {"type": "error", "client_id": client_id, "error": "name must be text"}
        if len(text) > self.settings.max_message_chars:
            limit = self.settings.max_message_chars
            return {
                "type": "error",
                "client_id": client_id,
                "error": f"the message is too long: at most {limit} characters",
            }
        if self.limiter.check(session) > 0:
            return {"type": "error", "client_id": client_id, "error": "slow down a little"}
        if self._sink is None:
            return {"type": "error", "client_id": client_id, "error": "the inbox is restarting"}
        meta = MessageMeta(ip=client_ip(request), language=_browser_language(raw, request))
        command = parse_command(text)
        if command is not None:  # /link you@example.com, /status ...: answered by the bot
            name, args = command
            meta = replace(meta, command=name, args=args)
        envelope = Envelope(
            channel=CHANNEL,
            external_id=f"{session}:{client_id}",
            identity_channel=CHANNEL,
            address=session,
            text=text,
            received_at=time.time(),
            meta=meta,
            sender_name=single_line(name)[:MAX_NAME_CHARS],
        )
        await self._sink.put([envelope])
        return {"type": "accepted", "client_id": client_id}


def _browser_language(frame: dict[str, Any], request: web.Request) -> str:
    """The visitor's browser language: the page sends ``navigator.language`` with each
    message; the socket's ``Accept-Language`` stands in for an older page."""
    said = frame.get("language")
    if isinstance(said, str) and supported(said[:35]):
        return supported(said[:35])
    return from_accept_language(request.headers.get("Accept-Language", ""))


async def _fields(request: web.Request) -> dict[str, object] | str:
    """The fields posted to ``/chat/session`` (a JSON object, a form, or nothing), or what
    is wrong with the body."""
    if request.content_length and request.content_length > MAX_SESSION_BODY_BYTES:
        return f"the request is too large: at most {MAX_SESSION_BODY_BYTES} bytes"
    if request.content_type == "application/json":
        body = await request.text()
        try:
            raw: Any = safe_json.loads(body) if body.strip() else {}
        except ValueError as err:
            return f"the body must be JSON: {err}"
        if not isinstance(raw, dict):
            return "the body must be a JSON object"
        return raw
    form = await request.post()
    return {key: value for key, value in form.items() if isinstance(value, str)}
