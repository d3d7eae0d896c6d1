"""``inbox ledger`` as an operator runs it: the counts, the unanswered, and ``--check``'s
exit status for cron (the ledger's states on both back-ends: tests/pipeline/test_ledger.py).
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from pathlib import Path

from inbox.config.settings import load_settings
from inbox.errors import PermanentError
from inbox.models import Envelope
from inbox.pipeline.outbox import OutboxSender
from inbox.queue import open_queue
from inbox.store.accounts import Accounts
from inbox.store.desk import Desk
from inbox.store.outbox_rows import OutboxRows
from tests.support.cli import config_file, run_inbox
from tests.support.scripted_channel import ScriptedChannel
from tests.support.tickets import ingest_tickets, migrated_engine


async def test_check_exits_1_while_a_contact_is_unanswered_and_0_once_it_is_answered(
    tmp_path: Path,
) -> None:
    config = config_file(tmp_path, ledger={"unanswered_after_minutes": 0})
    settings = load_settings(config)
    engine = await migrated_engine(settings)
    channel = ScriptedChannel(failures={"ann": [PermanentError("550 no such user")]})
    sender = OutboxSender(
        OutboxRows(engine), {"scripted": channel}, settings.outbox, asyncio.Event()
    )
    try:
        mail = Envelope("scripted", "m-1", "scripted", "ann", "My order never came", time.time())
        async with engine.begin() as conn:
            await ingest_tickets(conn, settings, [mail], first_reference=4000)
        await sender.send_due()

        failing = await asyncio.to_thread(run_inbox, "ledger", "--check", config=config)
        assert failing.returncode == 1, failing.stderr
        assert "1 contacts, 1 unanswered" in failing.stdout
        assert "#4000" in failing.stdout and "550 no such user" in failing.stdout

        team = settings.routing.fallback_team
        agent, _token = await Accounts(engine).add_agent("ed", [team])
        desk = Desk(engine, {t.name for t in settings.all_teams}, team)
        await desk.reply(agent, 4000, "Your order left our warehouse today.")
        await sender.send_due()
        fine = await asyncio.to_thread(run_inbox, "ledger", "--check", "--json", config=config)
        assert fine.returncode == 0, fine.stdout + fine.stderr
        report = json.loads(fine.stdout)
        assert report["unanswered"] == [] and report["contacts"] == 1
        assert report["counts"] == [
            {
                "channel": "scripted",
                "state": "answered by an agent",
                "delivery": "sent",
                "count": 1,
            }
        ]
    finally:
        await engine.dispose()


def test_without_check_it_reports_and_exits_0(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    done = run_inbox("ledger", config=config)
    assert done.returncode == 0, done.stderr
    assert "0 contacts, 0 unanswered" in done.stdout


async def test_a_dead_letter_is_put_back_or_dismissed_from_the_command_line(
    tmp_path: Path,
) -> None:
    config = config_file(tmp_path, queue={"path": str(tmp_path / "queue.db"), "max_attempts": 1})
    settings = load_settings(config)
    queue = await open_queue(settings.queue)
    try:
        mail = Envelope("scripted", "d-1", "scripted", "bo", "Refund please", time.time())
        await queue.put([mail])
        (item,) = await queue.claim("test", 10, 1.0)
        await queue.retry(item.item_id, "ValueError: broken")
        (letter,) = await queue.dead_letters()
    finally:
        await queue.close()
    run = functools.partial(asyncio.to_thread, run_inbox, config=config)

    listed = await run("queue")
    assert f"item {letter.item_id} after 1 tries: ValueError: broken" in listed.stdout
    assert (await run("ledger", "--check")).returncode == 1
    assert (await run("queue", "--dismiss", "999")).returncode == 1
    dismissed = await run("queue", "--dismiss", letter.item_id, "--by", "ops", "--note", "a test")
    assert dismissed.returncode == 0, dismissed.stderr
    assert "dismissed by ops: a test" in (await run("queue")).stdout
    assert (await run("ledger", "--check")).returncode == 0
    back = await run("queue", "--retry", letter.item_id)
    assert back.returncode == 0 and "back in the queue" in back.stdout
    assert "dead letters: 0" in (await run("queue")).stdout
