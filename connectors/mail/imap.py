"""IMAP in: every mail above the stored watermark, however long the connector was away.

The watermark is ``UIDVALIDITY:UID`` per mailbox and folder, stored by the queue in the
same transaction as the mails it covers: a crash before that commit fetches them again
(and the queue, keyed by each mail's identity, keeps one of each); a crash after it
fetches nothing twice. No time window, no cap. When UIDVALIDITY changes, every mail in
the folder is read again and matched by identity, so nothing is imported twice.
New mail is noticed with IDLE where the server offers it, else by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TypeVar

import aioimaplib

from connectors.mail.envelopes import envelope_from_mail
from inbox.config.settings import EmailSettings
from inbox.errors import TransientError
from inbox.models import Envelope
from inbox.queue import Sink

log = logging.getLogger(__name__)

EXISTS_LINE = re.compile(rb"\* \d+ EXISTS\r\n")
EXISTS_TAIL = 32  # bytes kept between reads, for an EXISTS line split across them
# Probe an idle connection after 10 s of silence, every 5 s, give up after 3 unanswered.
KEEPALIVE = (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))
T = TypeVar("T")
FETCH_START = re.compile(rb"^\d+ FETCH \(")
UID_ITEM = re.compile(rb"UID (\d+)")
UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")


def cursor_source(box: EmailSettings) -> str:
    """The name the queue keeps ``box``'s watermark under."""
    return f"imap:{box.name}:{box.imap_user}@{box.imap_host}:{box.imap_port}/{box.folder}"


def with_uid(envelope: Envelope, folder: str, validity: int, uid: int) -> Envelope:
    """``envelope`` marked with where it was fetched: the store notes the UID with the
    message, so ``inbox ledger --check`` can tell a folder's mail from what was lost."""
    meta = replace(envelope.meta, imap_folder=folder, imap_uid=f"{validity}:{uid}")
    return replace(envelope, meta=meta)


class ImapError(TransientError):
    """The IMAP server refused or broke off; the connector reconnects."""


class NoAnswer(ImapError):
    """The IMAP server did not answer a command in time."""


def parse_cursor(value: str | None) -> tuple[int, int] | None:
    """``(uidvalidity, last_uid)`` from a stored cursor."""
    if not value:
        return None
    try:
        validity, uid = value.split(":", 1)
        return int(validity), int(uid)
    except ValueError:
        return None


def parse_search(lines: Sequence[bytes | bytearray]) -> list[int]:
    """UIDs from a ``UID SEARCH`` response."""
    uids: list[int] = []
    for line in lines[:-1]:  # the last line is the tagged completion text
        words = bytes(line).split()
        if words[:1] == [b"SEARCH"]:  # aioimaplib usually strips it
            words = words[1:]
        if words and all(w.isdigit() for w in words):
            uids.extend(int(w) for w in words)
    return uids


def parse_fetch(lines: Sequence[bytes | bytearray]) -> dict[int, bytes]:
    """``{uid: raw message}`` from a ``UID FETCH (UID BODY.PEEK[])`` response.

    aioimaplib gives each message as its ``n FETCH (... {size}`` line, the literal
    (a bytearray), then the rest of the item list, where some servers put the UID.
    """
    found: dict[int, bytes] = {}
    uid: int | None = None
    body: bytes | None = None

    def flush() -> None:
        if uid is not None and body is not None:
            found[uid] = body

    for line in lines:
        if isinstance(line, bytearray):
            body = bytes(line)
            continue
        if FETCH_START.match(line):
            flush()
            uid, body = None, None
        match = UID_ITEM.search(line)
        if match and uid is None:
            uid = int(match.group(1))
    flush()
    return found


class _Protocol(aioimaplib.IMAP4ClientProtocol):  # type: ignore[misc]
    """aioimaplib's protocol, noting every EXISTS the server announces.

    aioimaplib drops an EXISTS that arrives while a FETCH or SEARCH runs, and the server
    does not repeat it at the next IDLE: without this note such a mail waited for the
    next IDLE renewal. A false alarm (the text inside a fetched mail) costs one SEARCH.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.announced = asyncio.Event()
        self._tail = b""

    def data_received(self, d: bytes) -> None:
        """Notes an EXISTS (also one split across reads), then parses as usual."""
        seen = self._tail + d
        if EXISTS_LINE.search(seen):
            self.announced.set()
        self._tail = seen[-EXISTS_TAIL:]
        super().data_received(d)


class _Client(aioimaplib.IMAP4):  # type: ignore[misc]
    """An aioimaplib client speaking through :class:`_Protocol`."""

    def create_client(
        self,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop | None,
        conn_lost_cb: Callable[[Exception | None], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """As aioimaplib's, with our protocol."""
        running = loop if loop is not None else asyncio.get_running_loop()
        self.protocol = _Protocol(running)
        self._client_task = running.create_task(
            running.create_connection(lambda: self.protocol, host, port, ssl=ssl_context)
        )


class _Connection:
    """One IMAP connection: every command gets an answer in time, or the connection is
    declared dead at once (a hang-up is noticed mid-command, not after a timeout)."""

    def __init__(self, box: EmailSettings) -> None:
        self.box = box
        self.lost = asyncio.Event()
        context = ssl.create_default_context() if box.imap_tls == "ssl" else None
        self.client = _Client(
            host=box.imap_host, port=box.imap_port, timeout=box.timeout, ssl_context=context
        )
        self.client.protocol.conn_lost_cb = lambda _exc: self.lost.set()
        self.protocol: _Protocol = self.client.protocol

    async def call(self, what: str, pending: Awaitable[T], within: float | None = None) -> T:
        """The answer to one command; ImapError when the connection drops or is silent."""
        limit = self.box.timeout if within is None else within
        answer = asyncio.ensure_future(pending)
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            done, _ = await asyncio.wait(
                {answer, lost}, timeout=limit, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            lost.cancel()
        if answer in done:
            return answer.result()
        answer.cancel()
        if lost in done:
            raise ImapError(f"connection lost during {what}")
        raise NoAnswer(f"no answer to {what} within {limit:g}s")

    def keep_alive(self) -> None:
        """TCP keepalive, so a vanished host or network is noticed during a long FETCH too."""
        transport = getattr(self.protocol, "transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for name, value in KEEPALIVE:
                if hasattr(socket, name):
                    sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)

    async def close(self) -> None:
        """LOGOUT when the server is still there; the socket is closed in any case."""
        client = self.client
        try:
            if client.has_pending_idle() and not self.lost.is_set():
                client.idle_done()
            if not self.lost.is_set() and client.get_state() in ("AUTH", "SELECTED"):
                await self.call("LOGOUT", client.logout(), self.box.probe_timeout)
        except (aioimaplib.AioImapException, OSError, TimeoutError, ImapError):
            pass
        finally:
            # A connection still being made when we stop would otherwise open afterwards;
            # aioimaplib's own helper tasks (IDLE) would wait forever on a closed socket.
            pending = [client._client_task, *client.tasks, *client.protocol.tasks]
            for task in pending:
                if not task.done():
                    task.cancel()
            transport = getattr(client.protocol, "transport", None)
            if transport is not None:
                transport.close()


class ImapIngest:
    """Brings one mailbox folder's mail into the sink, for as long as it runs."""

    def __init__(
        self,
        box: EmailSettings,
        *,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.box = box
        self.source = cursor_source(box)
        self._on_state = on_state or (lambda _state: None)
        self.fetched = 0
        # aioimaplib parses a response recursively, line by line; a response with very
        # many small mails can overflow and stall it. A fetch that stalls halves this.
        self.batch = box.fetch_batch

    async def run(self, sink: Sink) -> None:
        """Ingests until cancelled, reconnecting with back-off and jitter."""
        backoff = self.box.reconnect_backoff
        while True:
            connected = asyncio.Event()
            try:
                await self._session(sink, connected)
            except (aioimaplib.AioImapException, OSError, TimeoutError, TransientError) as err:
                reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
                self._on_state(f"disconnected: {reason}")
                log.warning(
                    "email %s: IMAP %s:%s: %s; reconnecting",
                    self.box.name,
                    self.box.imap_host,
                    self.box.imap_port,
                    reason,
                )
            if connected.is_set():
                backoff = self.box.reconnect_backoff
            await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
            backoff = min(backoff * 2, self.box.reconnect_backoff_max)

    async def _session(self, sink: Sink, connected: asyncio.Event) -> None:
        box = self.box
        conn = _Connection(box)
        client = conn.client
        try:
            await conn.call("the greeting", client.wait_hello_from_server())
            conn.keep_alive()
            _ok(await conn.call("LOGIN", client.login(box.imap_user, box.imap_password)), "LOGIN")
            selected = _ok(await conn.call("SELECT", client.select(box.folder)), "SELECT")
            validity = _uidvalidity(selected.lines)
            connected.set()
            self._on_state("connected")
            while True:
                await self._catch_up(conn, sink, validity)
                await self._wait_for_mail(conn)
        finally:
            await conn.close()

    async def _catch_up(self, conn: _Connection, sink: Sink, validity: int) -> None:
        """Imports until a look finds nothing new and the server announced nothing since.

        Mail that arrives during a fetch is found by the next look, not by the next IDLE.
        """
        while True:
            conn.protocol.announced.clear()
            imported = await self._import_new(conn, sink, validity)
            if not imported and not conn.protocol.announced.is_set():
                return

    async def _import_new(self, conn: _Connection, sink: Sink, validity: int) -> int:
        """Fetches every mail above the watermark into the sink; returns how many."""
        box, client = self.box, conn.client
        stored = parse_cursor(await sink.cursor(self.source))
        last = 0
        if stored is not None and stored[0] == validity:
            last = stored[1]
        elif stored is not None:
            log.warning(
                "email %s: UIDVALIDITY of %s changed (%s -> %s); reading the folder again, "
                "mails already imported are recognised and skipped",
                box.name,
                box.folder,
                stored[0],
                validity,
            )
        search = await conn.call("UID SEARCH", client.uid_search(f"UID {last + 1}:*", charset=None))
        # "n:*" always includes the highest UID, even below n: keep only what is new.
        uids = sorted(uid for uid in parse_search(_ok(search, "UID SEARCH").lines) if uid > last)
        found = len(uids)
        while uids:
            chunk, uids = uids[: self.batch], uids[self.batch :]
            try:
                response = await conn.call(
                    "UID FETCH", client.uid("fetch", _uid_set(chunk), "(UID BODY.PEEK[])")
                )
            except NoAnswer:
                self.batch = max(1, self.batch // 2)
                raise ImapError(f"UID FETCH stalled; fetching {self.batch} at a time") from None
            fetched = _ok(response, "UID FETCH")
            raws = parse_fetch(fetched.lines)
            envelopes = [
                with_uid(envelope_from_mail(raws[uid], box), box.folder, validity, uid)
                for uid in chunk
                if uid in raws
            ]
            # The mails and the watermark past them, in one durable step.
            await sink.put(envelopes, cursor=(self.source, f"{validity}:{chunk[-1]}"))
            self.fetched += len(envelopes)
            await self._after_import(conn, chunk)
        return found

    async def _after_import(self, conn: _Connection, uids: list[int]) -> None:
        box, client, uid_set = self.box, conn.client, _uid_set(uids)
        if box.after_import == "seen":
            stored = await conn.call(
                "UID STORE", client.uid("store", uid_set, "+FLAGS", r"(\Seen)")
            )
            _ok(stored, "UID STORE")
        elif box.after_import == "move":
            if client.has_capability("MOVE"):
                _ok(await conn.call("UID MOVE", client.uid("move", uid_set, box.move_to)), "MOVE")
            else:
                _ok(await conn.call("UID COPY", client.uid("copy", uid_set, box.move_to)), "COPY")
                flagged = client.uid("store", uid_set, "+FLAGS", r"(\Deleted)")
                _ok(await conn.call("UID STORE", flagged), "UID STORE")
                _ok(await conn.call("EXPUNGE", client.expunge()), "EXPUNGE")

    async def _wait_for_mail(self, conn: _Connection) -> None:
        """Returns when there may be new mail: announced, polled for, or IDLE renewed.

        Every renewal ends IDLE and waits at most ``probe_timeout`` for the server's
        answer, so a server that went silent is noticed within seconds, not at the
        next command's full timeout.
        """
        box, client = self.box, conn.client
        if not (box.idle and client.has_capability("IDLE")):
            lost_wait = asyncio.ensure_future(conn.lost.wait())
            try:
                await asyncio.wait({lost_wait}, timeout=box.poll_interval)
            finally:
                lost_wait.cancel()
            if conn.lost.is_set():
                raise ImapError("connection lost")
            return
        idle = await conn.call("IDLE", client.idle_start(timeout=box.idle_renew), box.probe_timeout)
        try:
            while True:
                # The renewal timer stops this wait; the margin covers a timer that never fires.
                push = client.wait_server_push(timeout=box.idle_renew + box.probe_timeout)
                try:
                    lines = await conn.call("IDLE", push, box.idle_renew + box.probe_timeout)
                except NoAnswer:
                    break
                if lines == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break  # time to renew the IDLE
                if any(b"EXISTS" in bytes(line) for line in lines):
                    break
        finally:
            if client.has_pending_idle() and not conn.lost.is_set():
                client.idle_done()
                await conn.call("DONE", idle, box.probe_timeout)


def _ok(response: aioimaplib.Response, what: str) -> aioimaplib.Response:
    if response.result != "OK":
        detail = b" ".join(bytes(line) for line in response.lines[-1:]).decode("utf-8", "replace")
        raise ImapError(f"{what} refused: {response.result} {detail[:300]}")
    return response


def _uidvalidity(lines: Sequence[bytes | bytearray]) -> int:
    for line in lines:
        match = UIDVALIDITY.search(bytes(line))
        if match:
            return int(match.group(1))
    raise ImapError("SELECT did not report UIDVALIDITY")


def _uid_set(uids: Sequence[int]) -> str:
    """A compact UID set: ``1:5,7,9:12``."""
    parts: list[str] = []
    start = prev = uids[0]
    for uid in uids[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        parts.append(f"{start}:{prev}" if start != prev else str(start))
        start = prev = uid
    parts.append(f"{start}:{prev}" if start != prev else str(start))
    return ",".join(parts)
