"""``inbox outbox``: lists the deliveries given up on; ``--retry ID`` puts one back, once."""

from __future__ import annotations

from pathlib import Path

from inbox.config.settings import load_settings
from tests.support.cli import config_file, run_inbox
from tests.support.failed_delivery import failed_acknowledgement
from tests.support.scripted_channel import ScriptedChannel
from tests.support.store import store_of
from tests.support.tickets import migrated_engine


async def test_list_the_failed_deliveries_and_retry_one(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    settings = load_settings(config)
    engine = await migrated_engine(settings)
    try:
        _sender, row_id = await failed_acknowledgement(engine, settings, ScriptedChannel())
    finally:
        await engine.dispose()

    listed = run_inbox("outbox", config=config)
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.splitlines()
    assert line.split("\t")[:4] == [str(row_id), "#3000", "acknowledgement", "scripted"]
    assert line.endswith("550 5.1.1 mailbox unavailable")

    retried = run_inbox("outbox", "--retry", str(row_id), config=config)
    assert retried.returncode == 0, retried.stderr
    assert f"outbox {row_id} queued again" in retried.stdout
    store = store_of(settings)
    assert store.rows("SELECT state, attempts FROM outbox") == [("pending", 0)]
    ((actor,),) = store.rows("SELECT actor FROM events WHERE kind='delivery_retried'")
    assert actor.startswith("cli:")

    again = run_inbox("outbox", "--retry", str(row_id), config=config)
    assert again.returncode == 1 and "is pending, not failed" in again.stderr
    assert run_inbox("outbox", config=config).stdout.strip() == "no failed deliveries"
