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
import logging
import random
import re
from collections.abc import Callable, Sequence

import aioimaplib

from connectors.mail.envelopes import envelope_from_mail
from inbox.config import EmailSettings
from inbox.errors import TransientError
from inbox.queue import Sink

log = logging.getLogger(__name__)

IDLE_RENEW = 9 * 60.0  # re-issue IDLE well inside the 29 minutes servers allow
FETCH_START = re.compile(rb"^\d+ FETCH \(")
UID_ITEM = re.compile(rb"UID (\d+)")
UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")


class ImapError(TransientError):
    """The IMAP server refused or broke off; the connector reconnects."""


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


class ImapIngest:
    """Brings one mailbox folder's mail into the sink, for as long as it runs."""

    def __init__(
        self,
        box: EmailSettings,
        *,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.box = box
        self.source = (
            f"imap:{box.name}:{box.imap_user}@{box.imap_host}:{box.imap_port}/{box.folder}"
        )
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
        lost = asyncio.Event()
        client_type = aioimaplib.IMAP4_SSL if box.imap_tls == "ssl" else aioimaplib.IMAP4
        client = client_type(host=box.imap_host, port=box.imap_port, timeout=box.timeout)
        client.protocol.conn_lost_cb = lambda _exc: lost.set()
        try:
            await client.wait_hello_from_server()
            _ok(await client.login(box.imap_user, box.imap_password), "LOGIN")
            selected = _ok(await client.select(box.folder), f"SELECT {box.folder}")
            validity = _uidvalidity(selected.lines)
            connected.set()
            self._on_state("connected")
            while True:
                await self._catch_up(client, sink, validity)
                await self._wait_for_mail(client, lost)
        finally:
            await _close(client)

    async def _catch_up(self, client: aioimaplib.IMAP4, sink: Sink, validity: int) -> None:
        box = self.box
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
        search = _ok(await client.uid_search(f"UID {last + 1}:*", charset=None), "UID SEARCH")
        # "n:*" always includes the highest UID, even below n: keep only what is new.
        uids = sorted(uid for uid in parse_search(search.lines) if uid > last)
        while uids:
            chunk, uids = uids[: self.batch], uids[self.batch :]
            try:
                response = await asyncio.wait_for(
                    client.uid("fetch", _uid_set(chunk), "(UID BODY.PEEK[])"), box.timeout
                )
            except TimeoutError:
                self.batch = max(1, self.batch // 2)
                raise ImapError(f"UID FETCH stalled; fetching {self.batch} at a time") from None
            fetched = _ok(response, "UID FETCH")
            raws = parse_fetch(fetched.lines)
            envelopes = [envelope_from_mail(raws[uid], box) for uid in chunk if uid in raws]
            # The mails and the watermark past them, in one durable step.
            await sink.put(envelopes, cursor=(self.source, f"{validity}:{chunk[-1]}"))
            self.fetched += len(envelopes)
            await self._after_import(client, chunk)

    async def _after_import(self, client: aioimaplib.IMAP4, uids: list[int]) -> None:
        box, uid_set = self.box, _uid_set(uids)
        if box.after_import == "seen":
            _ok(await client.uid("store", uid_set, "+FLAGS", r"(\Seen)"), "UID STORE")
        elif box.after_import == "move":
            if client.has_capability("MOVE"):
                _ok(await client.uid("move", uid_set, box.move_to), "UID MOVE")
            else:
                _ok(await client.uid("copy", uid_set, box.move_to), "UID COPY")
                _ok(await client.uid("store", uid_set, "+FLAGS", r"(\Deleted)"), "UID STORE")
                _ok(await client.expunge(), "EXPUNGE")

    async def _wait_for_mail(self, client: aioimaplib.IMAP4, lost: asyncio.Event) -> None:
        box = self.box
        if not (box.idle and client.has_capability("IDLE")):
            lost_wait = asyncio.ensure_future(lost.wait())
            try:
                await asyncio.wait({lost_wait}, timeout=box.poll_interval)
            finally:
                lost_wait.cancel()
            if lost.is_set():
                raise ImapError("connection lost")
            return
        idle = await client.idle_start(timeout=IDLE_RENEW)
        lost_wait = asyncio.ensure_future(lost.wait())
        try:
            while True:
                push = asyncio.ensure_future(client.wait_server_push(timeout=IDLE_RENEW + 60))
                done, _ = await asyncio.wait({push, lost_wait}, return_when=asyncio.FIRST_COMPLETED)
                if lost_wait in done:
                    push.cancel()
                    raise ImapError("connection lost while idle")
                lines = push.result()
                if lines == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break  # time to renew the IDLE
                if any(b"EXISTS" in bytes(line) for line in lines):
                    break
        finally:
            lost_wait.cancel()
            if client.has_pending_idle():
                client.idle_done()
                await asyncio.wait_for(idle, box.timeout)


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


async def _close(client: aioimaplib.IMAP4) -> None:
    try:
        if client.has_pending_idle():
            client.idle_done()
        if client.get_state() in ("AUTH", "SELECTED"):
            await asyncio.wait_for(client.logout(), 5.0)
    except (aioimaplib.AioImapException, OSError, TimeoutError):
        pass
    finally:
        # A connection still being made when we stop would otherwise open afterwards.
        connecting = getattr(client, "_client_task", None)
        if connecting is not None and not connecting.done():
            connecting.cancel()
        transport = getattr(client.protocol, "transport", None)
        if transport is not None:
            transport.close()
