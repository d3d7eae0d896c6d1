"""A mail server outage, time scaled down: the real SMTP server is stopped while the
outbox holds acknowledgements and agents' answers, and comes back once every answer has
failed more often than the outbox used to allow; each then arrives exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from inbox.config.settings import parse_settings
from inbox.service.app import InboxService
from inbox.store.tables import conversations
from inbox.store.writes import queue_outbound
from tests.support.smtp_server import ReceivedMail, SmtpServer
from tests.support.store import store_of
from tests.support.tickets import first_mails, ingest_tickets, migrated_engine
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

CUSTOMERS = 10
SCALE = 120  # one test second stands for two minutes
TRIES_DURING_OUTAGE = 12  # the outbox used to give up after 8
REAL_OUTBOX = {  # the shipped settings, in seconds, hours and minutes
    "retry_backoff": 2.0,
    "retry_backoff_max": 300.0,
    "give_up_after_hours": 72.0,
    "alert_after_minutes": 10.0,
}


@pytest.mark.timeout(300)
async def test_a_mail_server_outage_ends_with_every_answer_delivered_once(
    tmp_path: Path, mail_config: dict[str, Any], smtp_server: SmtpServer
) -> None:
    mail_config["outbox"].update({key: value / SCALE for key, value in REAL_OUTBOX.items()})
    settings = parse_settings(mail_config, tmp_path)
    box = settings.email[0].name
    engine = await migrated_engine(settings)
    addresses = [f"c{i}@customer.test" for i in range(CUSTOMERS)]
    async with engine.begin() as conn:  # an acknowledgement each, and an agent's answer
        await ingest_tickets(conn, settings, first_mails(box, addresses), first_reference=7000)
        for conversation_id, address in (
            await conn.execute(select(conversations.c.id, conversations.c.address))
        ).all():
            await queue_outbound(
                conn,
                conversation_id=conversation_id,
                channel=box,
                address=address,
                text="Your parcel left the warehouse this morning.",
                author="Ann",
                kind="reply",
            )
    await engine.dispose()
    store = store_of(settings)
    assert store.count("SELECT count(*) FROM outbox WHERE state='pending'") == 2 * CUSTOMERS

    smtp_server.stop()  # the outage
    sender = InboxService(settings, roles=("sender",))
    await sender.start()
    try:

        async def tried_often_or_given_up() -> bool:
            least = store.count("SELECT min(attempts) FROM outbox WHERE kind='acknowledgement'")
            return (
                least >= TRIES_DURING_OUTAGE
                or store.count("SELECT count(*) FROM outbox WHERE state='failed'") > 0
            )

        await until(tried_often_or_given_up, timeout=120, interval=0.1)
        assert store.count("SELECT count(*) FROM outbox WHERE state='failed'") == 0
        assert smtp_server.received == []
        # Supervisors heard of each answer that kept failing, once.
        assert store.count("SELECT count(*) FROM events WHERE kind='delivery_delayed'") == (
            CUSTOMERS
        )

        smtp_server.start_again()  # the server is back
        await until(
            lambda: store.count("SELECT count(*) FROM outbox WHERE state='sent'") == 2 * CUSTOMERS,
            timeout=60,
            interval=0.1,
        )
    finally:
        await sender.stop()
    received = smtp_server.received
    assert len(received) == 2 * CUSTOMERS
    assert len({m.message["Message-ID"] for m in received}) == 2 * CUSTOMERS
    assert Counter(m.rcpt_tos[0] for m in received) == Counter(dict.fromkeys(addresses, 2))
    for address in addresses:  # the acknowledgement first, then the answer
        first, second = [m for m in received if m.rcpt_tos[0] == address]
        assert "parcel left" not in _text(first) and "parcel left" in _text(second)
    assert store.count("SELECT count(*) FROM events WHERE kind='delivery_failed'") == 0
    counters = sender.metrics.counters
    assert counters["inbox_outbox_delayed_total"] == CUSTOMERS
    assert counters["inbox_outbox_retried_total"] >= CUSTOMERS * (TRIES_DURING_OUTAGE - 1)


def _text(mail: ReceivedMail) -> str:
    body = mail.message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())
