"""One mailbox folder's UIDs against the store's record of the mail fetched from it.

Every mail the worker stores (as a message or in quarantine) has its UID noted in the
same transaction (``inbox.store.mail_uids``). So for each UID in the folder:

- noted, and its message or quarantine entry is there: **stored** / **quarantined**;
- noted, but the store no longer holds what it became: **missing** (lost after storing);
- not noted, in the queue's dead letters: **dead**;
- not noted, above the connector's watermark: **waiting** (not fetched yet);
- not noted, below the watermark, but its Message-ID is a stored message of the channel
  (a copy the queue took for one it already had, or mail stored before UIDs were noted):
  **stored**, counted as matched by Message-ID;
- otherwise, while the queue still holds items: **queued** (a worker may not have stored
  it yet); with the queue empty: **missing**.

A noted UID whose message is gone is missing even when it has left the folder since
(``after_import = "move"``, or deleted by someone).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from inbox.models import DeadLetter
from inbox.reconcile.dead import dead_metas

NOT_STORED = "fetched, but in neither the store, the quarantine nor the dead letters"
LOST = "stored, then removed from the store"
LOST_AND_GONE = "stored, then removed from the store; no longer in the folder"


@dataclass(frozen=True)
class FetchedUid:
    """A UID the store noted, and what it holds for it now."""

    folder: str
    validity: int
    uid: int
    external_id: str
    held: str  # "message", "quarantine", or "" when neither is there any more


@dataclass(frozen=True)
class FolderState:
    """What the source says: the folder's UIDs and the connector's watermark in it."""

    channel: str
    folder: str
    validity: int
    uids: tuple[int, ...]
    cursor: tuple[int, int] | None  # (uidvalidity, last UID fetched)

    @property
    def watermark(self) -> int:
        """The last UID fetched under the folder's current UIDVALIDITY (0: none yet)."""
        if self.cursor is None or self.cursor[0] != self.validity:
            return 0
        return self.cursor[1]


@dataclass(frozen=True)
class MissingMail:
    """A mail the store should hold and does not."""

    channel: str
    folder: str
    validity: int
    uid: int
    why: str
    message_id: str = ""
    subject: str = ""
    external_id: str = ""


@dataclass(frozen=True)
class MailboxCheck:
    """One folder reconciled: how many of its UIDs are where, and the missing ones."""

    channel: str
    folder: str
    validity: int
    watermark: int
    in_source: int = 0
    stored: int = 0
    by_message_id: int = 0  # of ``stored``: matched by Message-ID, not by a noted UID
    quarantined: int = 0
    dead: int = 0
    queued: int = 0
    waiting: int = 0
    missing: tuple[MissingMail, ...] = field(default=())


def dead_uids(letters: Sequence[DeadLetter], channel: str, folder: str, validity: int) -> set[int]:
    """The UIDs of this folder among the queue's dead letters."""
    found: set[int] = set()
    for meta in dead_metas(letters, channel):
        if meta.get("imap_folder") != folder:
            continue
        uid_validity, _, uid = str(meta.get("imap_uid", "")).partition(":")
        if uid_validity == str(validity) and uid.isdigit():
            found.add(int(uid))
    return found


def _noted(state: FolderState, records: Sequence[FetchedUid]) -> dict[int, FetchedUid]:
    return {r.uid: r for r in records if r.folder == state.folder and r.validity == state.validity}


def to_identify(
    state: FolderState, records: Sequence[FetchedUid], dead: Collection[int]
) -> list[int]:
    """The folder's UIDs whose headers the comparison needs: fetched, but not noted."""
    noted = _noted(state, records)
    return [
        uid
        for uid in state.uids
        if uid <= state.watermark and (uid not in noted or not noted[uid].held)
        if uid not in dead
    ]


def compare_mailbox(
    state: FolderState,
    records: Sequence[FetchedUid],
    dead: Collection[int],
    headers: Mapping[int, tuple[str, str]],
    stored_ids: Collection[str],
    queued: int,
) -> MailboxCheck:
    """The folder reconciled. ``headers`` are ``(Message-ID, Subject)`` by UID (those
    ``to_identify`` named), ``stored_ids`` the Message-IDs among them that the store has,
    ``queued`` how many items the queue still holds."""
    noted = _noted(state, records)
    tally = {"stored": 0, "by_message_id": 0, "quarantined": 0, "dead": 0, "queued": 0}
    waiting = 0
    missing: list[MissingMail] = []

    def lost(uid: int, why: str, external_id: str = "", validity: int = state.validity) -> None:
        message_id, subject = headers.get(uid, ("", ""))
        missing.append(
            MissingMail(
                state.channel, state.folder, validity, uid, why, message_id, subject, external_id
            )
        )

    for uid in state.uids:
        record = noted.get(uid)
        if record is not None and record.held:
            tally["stored" if record.held == "message" else "quarantined"] += 1
        elif record is not None:
            lost(uid, LOST, record.external_id)
        elif uid in dead:
            tally["dead"] += 1
        elif uid > state.watermark:
            waiting += 1
        elif headers.get(uid, ("", ""))[0] in stored_ids:
            tally["stored"] += 1
            tally["by_message_id"] += 1
        elif queued:
            tally["queued"] += 1
        else:
            lost(uid, NOT_STORED)
    present = set(state.uids)
    for r in records:
        if r.held or (
            r.folder == state.folder and r.validity == state.validity and r.uid in present
        ):
            continue
        missing.append(
            MissingMail(
                state.channel, r.folder, r.validity, r.uid, LOST_AND_GONE, external_id=r.external_id
            )
        )
    return MailboxCheck(
        state.channel,
        state.folder,
        state.validity,
        state.watermark,
        in_source=len(state.uids),
        waiting=waiting,
        missing=tuple(missing),
        **tally,
    )
