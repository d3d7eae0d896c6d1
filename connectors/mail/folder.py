"""What a mailbox folder holds, read without fetching any mail: its UIDs, and for a few of
them the Message-ID and Subject headers. For ``inbox ledger --check``. Only UID SEARCH and
BODY.PEEK run in the folder: no flag changes (aioimaplib takes no command after an
EXAMINE, so the folder is SELECTed; that clears only \\Recent, which nothing here reads).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

from connectors.mail.charsets import decode_words
from connectors.mail.imap import _Connection, _ok, _uid_set, _uidvalidity, parse_fetch, parse_search
from inbox.config.settings import EmailSettings
from inbox.text import single_line

HEADER_BATCH = 500  # UIDs per header fetch


@dataclass(frozen=True)
class FolderUids:
    """A folder's UIDVALIDITY and every UID in it, ascending."""

    validity: int
    uids: tuple[int, ...]


@dataclass(frozen=True)
class Headers:
    """The two headers that name a mail to an operator."""

    message_id: str
    subject: str


class FolderReader:
    """One read-only look at ``box``'s folder."""

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self.validity = 0

    async def uids(self) -> FolderUids:
        """Every UID in the folder (``UID SEARCH ALL``: a list of numbers, no mail)."""
        client = self._conn.client
        found = await self._conn.call("UID SEARCH", client.uid_search("ALL", charset=None))
        uids = sorted(set(parse_search(_ok(found, "UID SEARCH").lines)))
        return FolderUids(self.validity, tuple(uids))

    async def headers(self, uids: Sequence[int]) -> dict[int, Headers]:
        """Message-ID and Subject of these UIDs, from ``BODY.PEEK[HEADER.FIELDS]`` only."""
        found: dict[int, Headers] = {}
        ordered = sorted(set(uids))
        client = self._conn.client
        for start in range(0, len(ordered), HEADER_BATCH):
            chunk = ordered[start : start + HEADER_BATCH]
            items = "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)])"
            response = await self._conn.call(
                "UID FETCH", client.uid("fetch", _uid_set(chunk), items)
            )
            for uid, raw in parse_fetch(_ok(response, "UID FETCH").lines).items():
                found[uid] = _headers(raw)
        return found


@contextlib.asynccontextmanager
async def read_folder(box: EmailSettings) -> AsyncIterator[FolderReader]:
    """Logs in, selects ``box.folder`` and yields a reader; logs out after."""
    conn = _Connection(box)
    client = conn.client
    try:
        await conn.call("the greeting", client.wait_hello_from_server())
        _ok(await conn.call("LOGIN", client.login(box.imap_user, box.imap_password)), "LOGIN")
        examined = _ok(await conn.call("SELECT", client.select(box.folder)), "SELECT")
        reader = FolderReader(conn)
        reader.validity = _uidvalidity(examined.lines)
        yield reader
    finally:
        await conn.close()


def _headers(raw: bytes) -> Headers:
    parsed = BytesHeaderParser(policy=compat32).parsebytes(raw)
    message_id = single_line(str(parsed.get("Message-ID", "")))[:300]
    subject = single_line(decode_words(str(parsed.get("Subject", "")), lambda _defect: None))
    return Headers(message_id, subject[:300])
