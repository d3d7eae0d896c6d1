"""``inbox ledger --check`` counts the queue's dead letters (the mailbox reconciliation on a
real Dovecot: tests/channels/test_mail_reconcile.py)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path

from inbox.config.settings import load_settings
from inbox.models import Envelope
from inbox.queue import open_queue
from tests.support.cli import config_file, run_inbox


async def test_a_dead_letter_fails_the_check(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    settings = load_settings(config)
    fine = await asyncio.to_thread(run_inbox, "ledger", "--check", "--json", config=config)
    assert fine.returncode == 0, fine.stderr
    assert json.loads(fine.stdout)["sources"] == {
        "mailboxes": [],
        "telegram": [],
        "unreadable": [],
        "missing": [],
    }
    queue = await open_queue(replace(settings.queue, max_attempts=1, retry_backoff=0.01))
    try:
        meta = {"imap_folder": "INBOX", "imap_uid": "7:4"}
        env = Envelope("email", "mail:x", "email", "eve@customer.test", "Hi", time.time())
        await queue.put([replace(env, meta=replace(env.meta, **meta))])
        (item,) = await queue.claim("test", 10, 1.0)
        assert not await queue.retry(item.item_id, "ValueError: the store refused it")
    finally:
        await queue.close()
    failing = await asyncio.to_thread(run_inbox, "ledger", "--check", config=config)
    assert failing.returncode == 1
    assert "1 unanswered" in failing.stdout and "the store refused it" in failing.stdout
    plain = await asyncio.to_thread(run_inbox, "ledger", config=config)
    assert plain.returncode == 0 and "sources:" not in plain.stdout
