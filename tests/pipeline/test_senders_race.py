"""Two outbox senders, in two services of their own, race over 1,000 answers: the real SMTP
server receives each exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inbox.config.settings import parse_settings
from inbox.service.app import InboxService
from tests.support.smtp_server import SmtpServer
from tests.support.store import store_of
from tests.support.tickets import first_mails, ingest_tickets, migrated_engine
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

ANSWERS = 1000


@pytest.mark.timeout(900)
async def test_two_senders_send_each_answer_once(
    tmp_path: Path, mail_config: dict[str, Any], smtp_server: SmtpServer
) -> None:
    settings = parse_settings(mail_config, tmp_path)
    box = settings.email[0].name
    engine = await migrated_engine(settings)
    addresses = [f"c{i}@customer.test" for i in range(ANSWERS)]
    async with engine.begin() as conn:  # 1,000 tickets: 1,000 acknowledgements to send
        await ingest_tickets(conn, settings, first_mails(box, addresses), first_reference=5000)
    await engine.dispose()
    store = store_of(settings)
    assert store.count("SELECT count(*) FROM outbox WHERE state='pending'") == ANSWERS

    senders = [InboxService(settings, roles=("sender",)) for _ in range(2)]
    for sender in senders:
        await sender.start()
    try:
        await until(
            lambda: store.count("SELECT count(*) FROM outbox WHERE state='sent'") == ANSWERS,
            timeout=600,
            interval=0.2,
        )
    finally:
        for sender in senders:
            await sender.stop()
    received = smtp_server.received
    assert len(received) == ANSWERS
    assert len({m.rcpt_tos[0] for m in received}) == ANSWERS
    assert len({m.message["Message-ID"] for m in received}) == ANSWERS
    both = [s.metrics.counters.get("inbox_outbox_sent_total", 0) for s in senders]
    assert sum(both) == ANSWERS
    assert min(both) > 0, f"one sender did all the work ({both}): there was no race"
