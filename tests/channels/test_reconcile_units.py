"""The source reconciliation's comparisons, on facts given by hand (the real mailbox:
test_mail_reconcile.py)."""

from __future__ import annotations

import json

from inbox.models import DeadLetter
from inbox.reconcile.mailbox import NOT_STORED, FetchedUid, FolderState, compare_mailbox, dead_uids
from inbox.reconcile.telegram import compare_updates, dead_update_ids


def test_an_unnoted_uid_below_the_watermark_is_missing_unless_queued_or_known_by_id() -> None:
    state = FolderState("email", "INBOX", 7, (1, 2, 3, 4), (7, 3))
    records = [FetchedUid("INBOX", 7, 1, "mail:a", "message")]
    headers = {2: ("<b@x>", "B"), 3: ("<c@x>", "C")}
    check = compare_mailbox(state, records, {3}, headers, set(), queued=0)
    assert (check.stored, check.dead, check.waiting) == (1, 1, 1)
    assert [(m.uid, m.why, m.message_id) for m in check.missing] == [(2, NOT_STORED, "<b@x>")]
    # The same UID while the queue still holds items: not yet a loss.
    assert compare_mailbox(state, records, {3}, headers, set(), queued=5).queued == 1
    # A copy the queue took for one it had: its Message-ID is stored.
    by_id = compare_mailbox(state, records, {3}, headers, {"<b@x>"}, queued=0)
    assert by_id.missing == () and by_id.by_message_id == 1
    # A new UIDVALIDITY: nothing is fetched under it yet, all of it waits.
    renewed = compare_mailbox(
        FolderState("email", "INBOX", 8, (1, 2), (7, 3)), records, set(), {}, set(), 0
    )
    assert renewed.waiting == 2 and renewed.missing == ()


def test_dead_letters_name_their_uid_or_update_id() -> None:
    letters = [
        DeadLetter(
            "1",
            json.dumps({"channel": "email", "meta": {"imap_folder": "INBOX", "imap_uid": "7:4"}}),
            5,
            "x",
        ),
        DeadLetter(
            "2",
            json.dumps({"channel": "email", "meta": {"imap_folder": "INBOX", "imap_uid": "6:5"}}),
            5,
            "x",
        ),
        DeadLetter("3", "not json", 5, "x"),
        DeadLetter("4", json.dumps({"channel": "telegram", "meta": {"update_id": "90"}}), 5, "x"),
    ]
    assert dead_uids(letters, "email", "INBOX", 7) == {4}
    assert dead_update_ids(letters, "telegram") == {90}


def test_telegram_gaps_run_from_the_first_known_update_to_the_cursor() -> None:
    check = compare_updates("telegram", "42", {10, 11, 14}, {12}, cursor=17)
    assert (check.recorded, check.dead, check.unaccounted) == (3, 1, 4)
    assert check.gaps == ((13, 13), (15, 17))
    assert compare_updates("telegram", "42", set(), set(), 5).unaccounted == 0
