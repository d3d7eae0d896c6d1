"""A stand-in for the Telegram Bot API on loopback, faithful where the connector leans on it.

Same paths (``/bot<token>/<method>``, ``/file/bot<token>/<path>``), same JSON bodies and
error bodies, ``getUpdates`` with offset (which confirms and drops earlier updates), limit,
long-poll timeout and ``allowed_updates``, 409 for the older of two concurrent pollers, ``sendMessage`` with
400 over 4,096 UTF-16 units, ``sendDocument`` with an uploaded file (multipart, 400 for an
empty one or a caption over 1,024 units, 413 over 50 MB), 429 with
``parameters.retry_after`` (on either send), 403 for a chat that blocked the bot, an inline keyboard (``reply_markup``) on a sent message, ``callback_query``
updates for pressed buttons, ``answerCallbackQuery`` and ``editMessageReplyMarkup`` (with
their 400s for an unknown or stale query and an edit that changes nothing), ``getFile``
and file download. Tests push customer messages and button presses into it and read what
the bot sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.web_request import FileField

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_UPLOAD = 50 * 1024 * 1024  # a bot's document upload
MAX_CALLBACK_DATA = 64  # bytes
STALE_QUERY = "Bad Request: query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
TOKEN = "123456:TEST-token_for-the-stand-in"


@dataclass
class Sent:
    """One message the bot sent, as the stand-in accepted it."""

    chat_id: int
    message_id: int
    text: str
    date: int = 0
    # the inline keyboard under it now (``{"inline_keyboard": [[button, ...], ...]}``)
    reply_markup: dict[str, Any] | None = None
    # a document: (file name, MIME type, bytes); ``text`` is then its caption
    document: tuple[str, str, bytes] | None = None

    def buttons(self) -> list[tuple[str, str]]:
        """``(text, callback_data)`` of each button under the message, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _error(status: int, description: str, **parameters: Any) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


@dataclass
class BotApi:
    """The stand-in's state and its test controls."""

    token: str = TOKEN
    bot_id: int = 7_000_001
    username: str = "inbox_test_bot"
    port: int = 0
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    # update ids each getUpdates answer carried, in order
    served: list[list[int]] = field(default_factory=list)
    on_get_file: Callable[[str], Awaitable[None]] | None = None
    # sendMessage takes this long before Telegram accepts the message; a client that goes
    # away meanwhile (its process killed) has sent nothing
    send_delay: float = 0.0
    # awaited as each sendMessage call arrives (with the call's number, from 1), before
    # the delay: a test can act while the send is in flight
    on_send_message: Callable[[int], Awaitable[None]] | None = None
    # awaited as each sendDocument call arrives (with the call's number, from 1)
    on_send_document: Callable[[int], Awaitable[None]] | None = None
    _retry_after: int = 1
    _limited_calls: set[int] = field(default_factory=set)
    _send_calls: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(500_001))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    chats: set[int] = field(default_factory=set)
    lost: set[str] = field(default_factory=set)
    # file ids whose getFile fails: "5xx" answers 502, "hang" never answers
    troubled: dict[str, str] = field(default_factory=dict)
    # the message each update carried, by update id, for edits
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    failing_polls: int = 0  # getUpdates answers still to fail (see fail_polls)
    # callback queries pushed and not yet answered, and the answers given, by query id
    open_queries: set[str] = field(default_factory=set)
    answered: dict[str, dict[str, Any]] = field(default_factory=dict)
    _query_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(9_000_001))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _poller: asyncio.Future[None] | None = None
    _runner: web.AppRunner | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    def _notify(self) -> None:
        """Wakes everything waiting for a change (a new update, a sent message)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _changed_or(self, other: asyncio.Future[None] | None, timeout: float) -> None:
        """Waits for the next change, ``other`` finishing, or ``timeout``."""
        waiter = asyncio.ensure_future(self._changed.wait())
        waiting: set[asyncio.Future[Any]] = {waiter} | ({other} if other is not None else set())
        await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()

    # -- test controls -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def customer_says(
        self,
        chat_id: int,
        text: str = "",
        *,
        name: str = "Ann",
        caption: str = "",
        photo: bytes | None = None,
        document: tuple[str, str, bytes] | None = None,
        files_lost: bool = False,
        file_trouble: str = "",
        chat_type: str = "private",
        language: str = "en",
    ) -> int:
        """A customer's message reaches the bot (in a private chat unless ``chat_type``
        says "group", "supergroup" or "channel"), from an app set to ``language``
        (Telegram's ``language_code``); returns its update id. With
        ``files_lost``, ``getFile`` answers for its files but their download is a 404;
        with ``file_trouble`` ("5xx" or "hang") ``getFile`` itself fails for them."""
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        chat |= {"first_name": name} if chat_type == "private" else {"title": f"{name}'s group"}
        sender = {"id": chat_id, "is_bot": False, "first_name": name, "language_code": language}
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
        }
        if text:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
        if caption:
            message["caption"] = caption
        if photo is not None:
            sizes = []
            for scale, data in ((1, photo[: len(photo) // 4]), (4, photo)):
                file_id = self._add_file(f"photos/file_{len(self.files)}.jpg", data)
                sizes.append(
                    {
                        "file_id": file_id,
                        "file_unique_id": "u" + file_id,
                        "file_size": len(data),
                        "width": 90 * scale,
                        "height": 60 * scale,
                    }
                )
            message["photo"] = sizes
        if document is not None:
            filename, mime_type, data = document
            file_id = self._add_file(f"documents/file_{len(self.files)}", data)
            message["document"] = {
                "file_id": file_id,
                "file_unique_id": "u" + file_id,
                "file_name": filename,
                "mime_type": mime_type,
                "file_size": len(data),
            }
        if files_lost:
            self.lost.update(path for path, _data in self.files.values())
        if file_trouble:
            self.troubled.update({file_id: file_trouble for file_id in _file_ids(message)})
        kind = "channel_post" if chat_type == "channel" else "message"
        return self._push(kind, message)

    async def customer_edits(self, update_id: int, text: str) -> int:
        """The customer edits the text (or caption) of the message that came in update
        ``update_id``; returns the ``edited_message`` update's id."""
        message = dict(self.messages[update_id])
        message["text" if "text" in message else "caption"] = text
        message["edit_date"] = int(time.time())
        kind = "edited_channel_post" if message["chat"]["type"] == "channel" else "edited_message"
        return self._push(kind, message)

    async def customer_presses(
        self, chat_id: int, message_id: int, data: str, *, name: str = "Ann", query_id: str = ""
    ) -> str:
        """The customer presses the button with ``data`` under the bot's message
        ``message_id``; returns the callback query's id. Telegram sends a press only for a
        button that is there; a ``query_id`` given again is the same press delivered again."""
        (sent,) = [s for s in self.sent if s.chat_id == chat_id and s.message_id == message_id]
        if not query_id:
            assert data in [d for _text, d in sent.buttons()], (data, sent.buttons())
            query_id = str(next(self._query_ids))
        if query_id not in self.answered:  # an answered one stays answered
            self.open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": {"id": chat_id, "is_bot": False, "first_name": name, "language_code": "en"},
            "message": self._message_json(sent),
            "chat_instance": f"-{chat_id * 7 + 3}",
            "data": data,
        }
        update_id = next(self._ids)
        self.updates.append({"update_id": update_id, "callback_query": query})
        self._notify()
        return query_id

    def last_sent(self, chat_id: int) -> Sent:
        """The latest message the bot sent to ``chat_id``."""
        return [s for s in self.sent if s.chat_id == chat_id][-1]

    def buttons_of(self, chat_id: int) -> list[tuple[str, str]]:
        """The buttons under the latest message the bot sent to ``chat_id``, as they are now."""
        return self.last_sent(chat_id).buttons()

    async def wait_for(self, check: Callable[[], bool], timeout: float = 30) -> None:
        """Waits until ``check()`` holds, looking again after each change the bot makes."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not check():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError("the Bot API stand-in never saw what was awaited")
            await self._changed_or(None, left)

    def _push(self, kind: str, message: dict[str, Any]) -> int:
        update_id = next(self._ids)
        self.chats.add(message["chat"]["id"])
        self.messages[update_id] = message
        self.updates.append({"update_id": update_id, kind: message})
        self._notify()
        return update_id

    def fail_polls(self, count: int) -> None:
        """The next ``count`` getUpdates answers (the one waiting now first) are 502."""
        self.failing_polls += count
        self._notify()

    def rate_limit_next(self, count: int, retry_after: int = 1) -> None:
        """The next ``count`` sends (sendMessage or sendDocument) get 429 ``retry_after``."""
        after = self._send_calls + 1
        self.rate_limit_calls(*range(after, after + count), retry_after=retry_after)

    def rate_limit_calls(self, *numbers: int, retry_after: int = 1) -> None:
        """Sends number ``numbers`` (sendMessage and sendDocument calls, counting from 1)
        get 429 ``retry_after``."""
        self._limited_calls, self._retry_after = set(numbers), retry_after

    def texts_to(self, chat_id: int) -> list[str]:
        """The texts of the messages the bot sent to ``chat_id`` (not its documents)."""
        return [s.text for s in self.sent if s.chat_id == chat_id and s.document is None]

    def documents_to(self, chat_id: int) -> list[tuple[str, str, bytes]]:
        """The documents the bot sent to ``chat_id``: (file name, MIME type, bytes)."""
        return [s.document for s in self.sent if s.chat_id == chat_id and s.document is not None]

    async def wait_for_texts(self, chat_id: int, count: int, timeout: float = 30) -> list[str]:
        """Waits until the bot has sent ``count`` messages to ``chat_id``; returns them all."""

        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.texts_to(chat_id)) < count:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(
                    f"{count} messages to {chat_id} expected, got {self.texts_to(chat_id)}"
                )
            await self._changed_or(None, left)
        return self.texts_to(chat_id)

    def _add_file(self, path: str, data: bytes) -> str:
        file_id = f"F{len(self.files) + 1:04d}"
        self.files[file_id] = (path, data)
        return file_id

    async def start(self) -> None:
        """Serves on loopback: on a free port the first time, on the same one after."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        await site.start()
        server: Any = site._server
        self.port = server.sockets[0].getsockname()[1]
        self._runner = runner

    async def stop(self) -> None:
        """Goes away, as Telegram does for a client whose network is down: a waiting long
        poll has its connection cut, new connections are refused."""
        self._closing.set()
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._closing = asyncio.Event()

    # -- the Bot API -----------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        return app

    async def _method(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        self.calls[method] = self.calls.get(method, 0) + 1
        params = await _params(request)
        handler = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "getFile": self._get_file,
            "answerCallbackQuery": self._answer_callback_query,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
        }.get(method)
        if handler is None:
            return _error(404, "Not Found")
        if method == "sendDocument" and self.on_send_document is not None:
            await self.on_send_document(self.calls[method])
        if method == "sendMessage" and not await self._client_waits(request):
            return _error(500, "Internal Server Error: the client went away")
        response = await handler(params)
        if self._closing.is_set() and request.transport is not None:
            request.transport.abort()  # the connection drops before any answer
        return response

    async def _client_waits(self, request: web.Request) -> bool:
        """Runs the send hook and the send delay; False if the client went away meanwhile."""
        if self.on_send_message is not None:
            await self.on_send_message(self.calls["sendMessage"])
        if self.send_delay:
            await asyncio.sleep(self.send_delay)
        return request.transport is not None and not request.transport.is_closing()

    async def _get_me(self, params: dict[str, Any]) -> web.Response:
        return _ok(
            {
                "id": self.bot_id,
                "is_bot": True,
                "first_name": "Inbox",
                "username": self.username,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0, int(params.get("timeout") or 0))
        allowed = params.get("allowed_updates") or []
        allowed = set(json.loads(allowed) if isinstance(allowed, str) else allowed)
        # A newer poller terminates the one still waiting, as Telegram does.
        if self._poller is not None and not self._poller.done():
            self._poller.set_result(None)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._poller = mine
        if offset > 0:  # confirms every update below the offset: they are gone for good
            self.updates = [u for u in self.updates if u["update_id"] >= offset]

        def ready() -> list[dict[str, Any]]:
            # Telegram does not deliver kinds the bot did not ask for.
            found = [u for u in self.updates if u["update_id"] >= offset]
            return [u for u in found if not allowed or allowed & u.keys()][:limit]

        deadline = asyncio.get_running_loop().time() + timeout
        while (
            not ready()
            and not mine.done()
            and not self._closing.is_set()
            and not self.failing_polls
        ):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            await self._changed_or(mine, left)
        if self.failing_polls:
            self.failing_polls -= 1
            if self._poller is mine:
                self._poller = None
            return _error(502, "Bad Gateway")
        if mine.done():
            return _error(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one "
                "bot instance is running",
            )
        if self._poller is mine:
            self._poller = None
        found = ready()
        self.served.append([u["update_id"] for u in found])
        return _ok(found)

    async def _send_message(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params.get("chat_id", 0))
        text = str(params.get("text", ""))
        self._send_calls += 1
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if self._send_calls in self._limited_calls:
            return _error(
                429,
                f"Too Many Requests: retry after {self._retry_after}",
                retry_after=self._retry_after,
            )
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if _units(text) > MAX_TEXT:
            return _error(400, "Bad Request: message is too long")
        if chat_id not in self.chats:
            return _error(400, "Bad Request: chat not found")
        markup = _json_param(params.get("reply_markup"))
        refused = _keyboard_refused(markup)
        if refused:
            return _error(400, refused)
        sent = Sent(chat_id, next(self._message_ids), text, int(time.time()), markup or None)
        self.sent.append(sent)
        self._notify()
        return _ok(self._message_json(sent))

    async def _send_document(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params.get("chat_id", 0))
        caption = str(params.get("caption", "") or "")
        upload = params.get("document")
        self._send_calls += 1
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if self._send_calls in self._limited_calls:
            return _error(
                429,
                f"Too Many Requests: retry after {self._retry_after}",
                retry_after=self._retry_after,
            )
        if not isinstance(upload, FileField):
            return _error(400, "Bad Request: there is no document in the request")
        data = upload.file.read()
        if not data:
            return _error(400, "Bad Request: file must be non-empty")
        if len(data) > MAX_UPLOAD:
            return _error(413, "Request Entity Too Large")
        if _units(caption) > MAX_CAPTION:
            return _error(400, "Bad Request: message caption is too long")
        if chat_id not in self.chats:
            return _error(400, "Bad Request: chat not found")
        document = (upload.filename or "document", upload.content_type, data)
        sent = Sent(chat_id, next(self._message_ids), caption, int(time.time()), None, document)
        self.sent.append(sent)
        self._notify()
        return _ok(self._message_json(sent))

    def _message_json(self, sent: Sent) -> dict[str, Any]:
        """A message the bot sent, as the Bot API shows it (keyboard included)."""
        message: dict[str, Any] = {
            "message_id": sent.message_id,
            "from": {
                "id": self.bot_id,
                "is_bot": True,
                "first_name": "Inbox",
                "username": self.username,
            },
            "chat": {"id": sent.chat_id, "type": "private", "first_name": "Customer"},
            "date": sent.date,
        }
        if sent.document is None:
            message["text"] = sent.text
        else:
            name, mime_type, data = sent.document
            file_id = f"D{sent.message_id:06d}"
            message["document"] = {
                "file_id": file_id,
                "file_unique_id": "u" + file_id,
                "file_name": name,
                "mime_type": mime_type,
                "file_size": len(data),
            }
            if sent.text:
                message["caption"] = sent.text
        if sent.reply_markup:
            message["reply_markup"] = sent.reply_markup
        return message

    async def _answer_callback_query(self, params: dict[str, Any]) -> web.Response:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self.open_queries:  # unknown, or answered already
            return _error(400, STALE_QUERY)
        self.open_queries.discard(query_id)
        self.answered[query_id] = {k: v for k, v in params.items() if k != "callback_query_id"}
        self._notify()
        return _ok(True)

    async def _edit_message_reply_markup(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params.get("chat_id") or 0)
        message_id = int(params.get("message_id") or 0)
        found = [s for s in self.sent if s.chat_id == chat_id and s.message_id == message_id]
        if not found:
            return _error(400, "Bad Request: message to edit not found")
        markup = _json_param(params.get("reply_markup")) or None  # none given: no keyboard
        refused = _keyboard_refused(markup)
        if refused:
            return _error(400, refused)
        if markup == found[0].reply_markup:
            return _error(400, NOT_MODIFIED)
        found[0].reply_markup = markup
        self._notify()
        return _ok(self._message_json(found[0]))

    async def _get_file(self, params: dict[str, Any]) -> web.Response:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        if self.on_get_file is not None:
            await self.on_get_file(file_id)
        trouble = self.troubled.get(file_id)
        if trouble == "hang":  # until the client gives up (or the stand-in stops)
            await self._closing.wait()
        if trouble is not None:
            return _error(502, "Bad Gateway")
        path, data = self.files[file_id]
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": "u" + file_id,
                "file_size": len(data),
                "file_path": path,
            }
        )

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        for path, data in self.files.values():
            if path == request.match_info["path"] and path not in self.lost:
                return web.Response(body=data, content_type="application/octet-stream")
        return _error(404, "Not Found")


def _file_ids(message: dict[str, Any]) -> list[str]:
    """The ids of every file a message carries."""
    ids = [size["file_id"] for size in message.get("photo", [])]
    return ids + ([message["document"]["file_id"]] if "document" in message else [])


def _json_param(value: Any) -> Any:
    """A structured parameter: JSON-encoded in a form field or the query, as is in JSON."""
    return json.loads(value) if isinstance(value, str) and value else value


def _keyboard_refused(markup: Any) -> str:
    """Why the Bot API refuses a ``reply_markup`` (only inline keyboards here); "" if not."""
    if not markup:
        return ""
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        return "Bad Request: can't parse reply keyboard markup JSON object"
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not str(button.get("text", "")).strip():
            return "Bad Request: text buttons are unallowed in the inline keyboard"
        data = str(button.get("callback_data", ""))
        if not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
            return "Bad Request: BUTTON_DATA_INVALID"
    return ""


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


async def _params(request: web.Request) -> dict[str, Any]:
    """The method's parameters, as the Bot API takes them: query string, form fields or
    JSON (python-telegram-bot posts form fields with JSON-encoded values)."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
    elif request.can_read_body:
        form = await request.post()  # an uploaded file stays a FileField
        params.update({k: v for k, v in form.items() if isinstance(v, str | FileField)})
    return params


@pytest.fixture
async def bot_api() -> AsyncIterator[BotApi]:
    """The stand-in, serving on a free loopback port."""
    api = BotApi()
    await api.start()
    yield api
    await api.stop()
