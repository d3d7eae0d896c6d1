"""``inbox ledger --check``'s look at the sources: each mailbox folder's UIDs and each
Telegram bot's update ids against the store and the queue (the comparisons are in
``inbox.reconcile``; this module fetches the facts and prints the result)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import aioimaplib
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.mail.folder import read_folder
from connectors.mail.imap import cursor_source, parse_cursor
from inbox.config.settings import EmailSettings, Settings
from inbox.errors import TransientError
from inbox.models import DeadLetter
from inbox.queue import Queue
from inbox.reconcile.mailbox import (
    FolderState,
    MailboxCheck,
    MissingMail,
    compare_mailbox,
    dead_uids,
    to_identify,
)
from inbox.reconcile.telegram import TelegramCheck, compare_updates, dead_update_ids
from inbox.store.mail_uids import read_records, stored_message_ids
from inbox.store.telegram_updates import stored_update_ids


@dataclass(frozen=True)
class SourcesReport:
    """Every source reconciled; ``failures`` are sources that could not be read."""

    mailboxes: tuple[MailboxCheck, ...]
    telegram: tuple[TelegramCheck, ...]
    failures: tuple[tuple[str, str], ...]

    @property
    def missing(self) -> list[MissingMail]:
        return [m for box in self.mailboxes for m in box.missing]

    def to_json(self) -> dict[str, Any]:
        """What ``--json`` shows."""
        return {
            "mailboxes": [asdict(b) for b in self.mailboxes],
            "telegram": [asdict(t) for t in self.telegram],
            "unreadable": [{"source": s, "error": e} for s, e in self.failures],
            "missing": [asdict(m) for m in self.missing],
        }


async def check_sources(
    settings: Settings, queue: Queue, engine: AsyncEngine, dead: Sequence[DeadLetter]
) -> SourcesReport:
    """Reconciles every configured mailbox and the Telegram bot."""
    queued = await queue.pending()
    boxes: list[MailboxCheck] = []
    failures: list[tuple[str, str]] = []
    for box in settings.email:
        try:
            boxes.append(await check_mailbox(box, queue, engine, dead, queued))
        except (aioimaplib.AioImapException, OSError, TimeoutError, TransientError) as err:
            failures.append((f"{box.name} ({box.imap_host}/{box.folder})", f"{err}"))
    bots: list[TelegramCheck] = []
    if settings.telegram is not None:
        channel = settings.telegram.name
        async with engine.connect() as conn:
            by_bot = await stored_update_ids(conn, channel)
        dead_ids = dead_update_ids(dead, channel)
        for bot_id, known in sorted(by_bot.items()):
            cursor = await queue.cursor(f"telegram:{channel}:{bot_id}")
            number = int(cursor) if cursor and cursor.isdigit() else None
            bots.append(compare_updates(channel, bot_id, known, dead_ids, number))
    return SourcesReport(tuple(boxes), tuple(bots), tuple(failures))


async def check_mailbox(
    box: EmailSettings,
    queue: Queue,
    engine: AsyncEngine,
    dead: Sequence[DeadLetter],
    queued: int,
) -> MailboxCheck:
    """One folder: its UIDs (and, for those not accounted for, two headers) against the
    UIDs the store noted and the queue's dead letters."""
    cursor = parse_cursor(await queue.cursor(cursor_source(box)))
    async with read_folder(box) as folder:
        listing = await folder.uids()
        state = FolderState(box.name, box.folder, listing.validity, listing.uids, cursor)
        async with engine.connect() as conn:
            records = await read_records(conn, box.name)
        dead_here = dead_uids(dead, box.name, box.folder, listing.validity)
        wanted = to_identify(state, records, dead_here)
        found = await folder.headers(wanted) if wanted else {}
    headers = {uid: (h.message_id, h.subject) for uid, h in found.items()}
    async with engine.connect() as conn:
        stored = await stored_message_ids(conn, box.name, [h[0] for h in headers.values()])
    return compare_mailbox(state, records, dead_here, headers, stored, queued)


def print_sources(report: SourcesReport) -> None:
    """Per source its counts, then what is missing and where."""
    print("sources:")
    for b in report.mailboxes:
        matched = f" ({b.by_message_id} by Message-ID)" if b.by_message_id else ""
        print(
            f"  mailbox {b.channel} {b.folder} (UIDVALIDITY {b.validity}, fetched up to UID "
            f"{b.watermark}): {b.in_source} in the folder, {b.stored} stored{matched}, "
            f"{b.quarantined} quarantined, {b.dead} dead, {b.queued} queued, "
            f"{len(b.missing)} missing, {b.waiting} waiting"
        )
    for t in report.telegram:
        gaps = ", ".join(f"{a}-{z}" if a != z else str(a) for a, z in t.gaps)
        print(
            f"  telegram {t.channel} bot {t.bot_id} (cursor {t.cursor}): {t.recorded} stored, "
            f"{t.dead} dead, {t.unaccounted} update ids not kept (skipped on purpose or lost: "
            f"skips are only logged){': ' + gaps if gaps else ''}"
        )
    for source, error in report.failures:
        print(f"  {source}: could not be read: {error}")
    missing = report.missing
    if missing:
        print(f"missing ({len(missing)}):")
        for m in missing:
            named = " ".join(x for x in (m.message_id, repr(m.subject) if m.subject else "") if x)
            print(
                f"  {m.channel} {m.folder} UIDVALIDITY {m.validity} UID {m.uid}: {m.why}"
                f"{'  ' + named if named else ''}"
            )
