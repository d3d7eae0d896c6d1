"""Issue 19's failure paths, end to end: the product runs on the real servers (Dovecot and
an SMTP server, the Bot API stand-in, both back-ends), and the operator's own
``inbox ledger --check`` (a child process, on a config file describing the same store,
queue and channels) lists each unanswered contact with its ticket, state, delivery and
reason, exits 1, and exits 0 once the operator resolved it as they would: "Try again", an
agent's answer, ``inbox quarantine --release`` / ``--spam``, ``inbox queue --dismiss``.
A message joined into a ticket (a line in the chat, a reply in the mail's thread, a
duplicate, a merged ticket) is covered by that ticket's answer: listed only while that
answer has not reached the customer.

The ledger's states on the store alone: tests/pipeline/test_ledger.py; the command's
output and the dead letters: tests/cli/test_ledger_command.py,
tests/cli/test_ledger_check_sources.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from inbox.config.settings import Settings
from inbox.models import Envelope
from inbox.service.app import InboxService
from inbox.store.accounts import Accounts
from tests.support.cli import LedgerCheck, ledger_check, run_inbox, written_config
from tests.support.config import make_raw_config
from tests.support.mailbox import email_config, mail
from tests.support.mailservers import Dovecot
from tests.support.smtp_server import SmtpServer
from tests.support.staff_web import call
from tests.support.store import Store, store_of
from tests.support.telegram_api import BotApi
from tests.support.telegram_channel import ANN, telegram_config
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

Start = Callable[[Settings], Awaitable[InboxService]]
ACKNOWLEDGED = "acknowledged, waiting for an agent"
AGENT = "answered by an agent"
WINNER = "Click here to claim your free iPhone, you are our lucky winner"
NO_SENDER = b"Subject: who sent this?\r\nMessage-ID: <nofrom@x>\r\n\r\nNo From header.\r\n"


def _tuned(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with a contact unanswered as soon as nothing reached its sender, and the
    knowledge-base bot silent (the acknowledgement path is under test)."""
    raw.setdefault("ledger", {})["unanswered_after_minutes"] = 0
    raw["kb"]["answers"] = False
    return raw


async def _check(config: Path) -> LedgerCheck:
    return await asyncio.to_thread(ledger_check, config)


async def _agent(service: InboxService) -> str:
    """An agent of every team: their API token."""
    assert service.engine is not None
    teams = [t.name for t in service.settings.all_teams]
    _agent, token = await Accounts(service.engine).add_agent("ada", teams)
    return token


def _unanswered(check: LedgerCheck) -> dict[int, dict[str, Any]]:
    return {e["reference"]: e for e in check.unanswered}


def _failed_acknowledgements(store: Store) -> dict[str, tuple[int, int]]:
    """Customer address -> (ticket, the acknowledgement's message id)."""
    rows = store.rows(
        "SELECT o.address, c.reference, o.message_id FROM outbox o "
        "JOIN conversations c ON c.id = o.conversation_id WHERE o.state = 'failed'"
    )
    return {str(a): (int(r), int(m)) for a, r, m in rows}


async def test_an_acknowledgement_the_mail_server_refused_is_listed_until_resolved(
    tmp_path: Path,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Start,
) -> None:
    raw, user = email_config(tmp_path, dovecot, smtp_server, monkeypatch)
    settings, config = written_config(_tuned(raw), tmp_path)
    store = store_of(settings)
    service = await service_factory(settings)
    smtp_server.reject_next(2, code=550, text="5.1.1 Mailbox unavailable")
    dovecot.save(user, mail("ann@customer.test", "Refund", "Please refund order 5512.")[0])
    dovecot.save(user, mail("bo@customer.test", "Parcel", "My parcel has not arrived.")[0])
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='failed'") == 2)
    failed = _failed_acknowledgements(store)
    ann, ann_ack = failed["ann@customer.test"]
    bo, _bo_ack = failed["bo@customer.test"]

    check = await _check(config)
    assert check.status == 1
    listed = _unanswered(check)
    assert set(listed) == {ann, bo}
    for entry in listed.values():
        assert (entry["channel"], entry["state"], entry["delivery"]) == (
            "email",
            ACKNOWLEDGED,
            "failed",
        )
        assert "550" in entry["detail"] and "Mailbox unavailable" in entry["detail"]
    assert check.report["sources"]["missing"] == []  # the mails are stored: only unanswered
    text = await asyncio.to_thread(run_inbox, "ledger", "--check", config=config)
    assert text.returncode == 1 and "2 contacts, 2 unanswered" in text.stdout
    assert f"#{ann}" in text.stdout and f"#{bo}" in text.stdout
    assert f"{ACKNOWLEDGED}, failed  SMTP 550 5.1.1 Mailbox unavailable" in text.stdout

    # Ann's: an agent presses "Try again", and the server takes it this time.
    token = await _agent(service)
    retry = f"/api/conversations/{ann}/retry"
    status, _body = await call(service, "POST", retry, token, {"message": ann_ack})
    assert status == 202
    await smtp_server.wait_for(1, timeout=30)
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='sent'") == 1)
    check = await _check(config)
    assert check.status == 1 and set(_unanswered(check)) == {bo}

    # Bo's: an agent answers instead; the refused acknowledgement stays refused.
    reply = f"/api/conversations/{bo}/reply"
    status, _body = await call(service, "POST", reply, token, {"text": "It left today."})
    assert status == 202
    await smtp_server.wait_for(2, timeout=30)
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='sent'") == 2)
    check = await _check(config)
    assert check.status == 0, check.unanswered
    assert check.unanswered == []
    assert check.counts() == {("email", ACKNOWLEDGED, "sent"): 1, ("email", AGENT, "sent"): 1}


async def test_a_telegram_customer_who_blocked_the_bot_is_listed_until_try_again(
    tmp_path: Path, bot_api: BotApi, monkeypatch: pytest.MonkeyPatch, service_factory: Start
) -> None:
    # The child process finds the token in the environment it inherits (monkeypatch).
    raw = telegram_config(tmp_path, bot_api, monkeypatch)
    settings, config = written_config(_tuned(raw), tmp_path)
    store = store_of(settings)
    service = await service_factory(settings)
    bot_api.blocked.add(ANN)
    await bot_api.customer_says(ANN, "Please cancel my subscription, I am moving abroad.")
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='failed'") == 1)
    ((reference, ack),) = [v for v in _failed_acknowledgements(store).values()]
    # A second line in the chat joins the ticket quietly: covered by its acknowledgement,
    # which did not arrive either.
    await bot_api.customer_says(ANN, "The subscription must stop before the 1st, please.")
    await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 2)
    assert store.count("SELECT count(*) FROM conversations") == 1
    assert store.count("SELECT count(*) FROM outbox") == 1

    check = await _check(config)
    assert check.status == 1
    assert len(check.unanswered) == 2
    for entry in check.unanswered:
        assert (entry["reference"], entry["channel"], entry["address"]) == (
            reference,
            "telegram",
            str(ANN),
        )
        assert (entry["state"], entry["delivery"]) == (ACKNOWLEDGED, "failed")
        assert entry["outbox_id"] == check.unanswered[0]["outbox_id"]
        assert "bot was blocked by the user" in entry["detail"]
    (bot,) = check.report["sources"]["telegram"]
    assert (bot["recorded"], bot["unaccounted"]) == (2, 0)

    bot_api.blocked.discard(ANN)  # the customer unblocked the bot
    token = await _agent(service)
    retry = f"/api/conversations/{reference}/retry"
    status, _body = await call(service, "POST", retry, token, {"message": ack})
    assert status == 202
    (sent,) = await bot_api.wait_for_texts(ANN, 1)
    assert f"#{reference}" in sent
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='sent'") == 1)
    check = await _check(config)
    assert check.status == 0, check.unanswered
    assert check.counts() == {("telegram", ACKNOWLEDGED, "sent"): 2}


async def test_quarantined_mail_is_listed_until_released_or_confirmed_as_spam(
    tmp_path: Path,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Start,
) -> None:
    raw, user = email_config(tmp_path, dovecot, smtp_server, monkeypatch)
    settings, config = written_config(_tuned(raw), tmp_path)
    store = store_of(settings)
    await service_factory(settings)
    dovecot.save(user, mail("lucky@customer.test", "You won", WINNER)[0])
    dovecot.save(user, NO_SENDER)
    await until(lambda: store.count("SELECT count(*) FROM quarantine") == 2)
    entries = dict(store.rows("SELECT subject, id FROM quarantine"))
    spam, broken = int(entries["You won"]), int(entries["who sent this?"])
    assert store.count("SELECT count(*) FROM conversations") == 0

    check = await _check(config)
    assert check.status == 1
    listed = {int(e["source_id"]): e for e in check.unanswered}
    assert set(listed) == {spam, broken}
    for entry in listed.values():
        assert (entry["source"], entry["state"], entry["delivery"], entry["reference"]) == (
            "quarantine",
            "quarantined",
            "none",
            None,
        )
    assert listed[spam]["detail"].startswith("spam: ")
    assert listed[spam]["address"] == "lucky@customer.test"
    (box,) = check.report["sources"]["mailboxes"]
    assert (box["stored"], box["quarantined"], box["missing"]) == (0, 2, [])

    # The operator reads them: the winner is a real customer after all, the other junk.
    released = await asyncio.to_thread(
        run_inbox, "quarantine", "--release", str(spam), "--by", "ops", config=config
    )
    assert released.returncode == 0, released.stderr
    junk = await asyncio.to_thread(run_inbox, "quarantine", "--spam", str(broken), config=config)
    assert junk.returncode == 0, junk.stderr
    # The running worker makes the released mail a ticket and acknowledges it.
    (ack,) = await smtp_server.wait_for(1, timeout=30)
    assert ack.rcpt_tos == ["lucky@customer.test"]
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='sent'") == 1)
    reference = store.count("SELECT released_reference FROM quarantine WHERE id = ?", spam)
    assert f"#{reference}" in str(ack.message)

    check = await _check(config)
    assert check.status == 0, check.unanswered
    assert check.counts() == {
        ("email", ACKNOWLEDGED, "sent"): 1,
        ("email", "quarantined", "not needed"): 2,
    }
    (box,) = check.report["sources"]["mailboxes"]
    assert (box["in_source"], box["quarantined"], box["missing"]) == (2, 2, [])
    again = await asyncio.to_thread(run_inbox, "quarantine", "--spam", str(spam), config=config)
    assert again.returncode != 0 and "already reviewed" in again.stderr


async def test_a_reply_in_the_thread_and_a_duplicate_are_covered_by_their_ticket(
    tmp_path: Path,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Start,
) -> None:
    raw, user = email_config(tmp_path, dovecot, smtp_server, monkeypatch)
    settings, config = written_config(_tuned(raw), tmp_path)
    store = store_of(settings)
    service = await service_factory(settings)
    first, first_id = mail("cat@customer.test", "Late parcel", "My parcel is two weeks late.")
    dovecot.save(user, first)
    (ack,) = await smtp_server.wait_for(1, timeout=30)
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='sent'") == 1)
    reference = store.count("SELECT reference FROM conversations")
    ack_id = str(ack.message["Message-ID"])
    # Cat answers the acknowledgement in its thread, then sends the first mail again.
    reply, _ = mail(
        "cat@customer.test",
        f"Re: Late parcel [#{reference}]",
        "The order number is 88123.",
        in_reply_to=ack_id,
        references=f"{first_id} {ack_id}",
    )
    dovecot.save(user, reply)
    dovecot.save(user, mail("cat@customer.test", "Late parcel", "My parcel is two weeks late.")[0])
    await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 3)
    assert store.count("SELECT count(*) FROM conversations") == 1
    assert store.count("SELECT count(*) FROM messages WHERE duplicate_of IS NOT NULL") == 1
    assert store.count("SELECT count(*) FROM outbox") == 1  # one acknowledgement for all

    check = await _check(config)
    assert check.status == 0, check.unanswered
    assert check.counts() == {
        # the first mail, and the reply in its thread, covered by its acknowledgement
        ("email", ACKNOWLEDGED, "sent"): 2,
        ("email", "joined a ticket", "sent"): 1,
    }

    token = await _agent(service)
    answer = f"/api/conversations/{reference}/reply"
    status, _body = await call(service, "POST", answer, token, {"text": "Found it: tomorrow."})
    assert status == 202
    await smtp_server.wait_for(2, timeout=30)
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='sent'") == 2)
    check = await _check(config)
    assert check.status == 0, check.unanswered
    assert check.counts() == {
        ("email", AGENT, "sent"): 2,
        # a duplicate stays "joined": its answer is its ticket's, delivered
        ("email", "joined a ticket", "sent"): 1,
    }


async def test_a_message_the_worker_dead_lettered_is_listed_until_dismissed(
    tmp_path: Path, service_factory: Start
) -> None:
    settings, config = written_config(_tuned(make_raw_config(tmp_path)), tmp_path)
    service = await service_factory(settings)
    assert service.queue is not None
    # A message no worker can take (its time is not a time): retried, then dead-lettered.
    poison = Envelope("form", "nan-1", "email", "nan@customer.test", "Hello?", float("nan"))
    await service.queue.put([poison])
    queue = service.queue
    (letter,) = await until(queue.dead_letters)
    assert letter.attempts == settings.queue.max_attempts

    check = await _check(config)
    assert check.status == 1
    (entry,) = check.unanswered
    assert (entry["source"], entry["source_id"], entry["state"], entry["delivery"]) == (
        "dead letter",
        letter.item_id,
        "dead-lettered",
        "none",
    )
    assert (entry["channel"], entry["address"]) == ("form", "nan@customer.test")
    assert "received_at is not a time" in entry["detail"]

    # The operator reads it: a test message, no customer waits for it.
    dismissed = await asyncio.to_thread(
        run_inbox,
        "queue",
        "--dismiss",
        letter.item_id,
        "--by",
        "ops",
        "--note",
        "a test",
        config=config,
    )
    assert dismissed.returncode == 0, dismissed.stderr
    check = await _check(config)
    assert check.status == 0, check.unanswered
    assert check.counts() == {("form", "dead-lettered", "not needed"): 1}


async def test_a_ticket_merged_into_one_whose_acknowledgement_failed_keeps_its_answer(
    tmp_path: Path,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    service_factory: Start,
) -> None:
    raw, user = email_config(tmp_path, dovecot, smtp_server, monkeypatch)
    settings, config = written_config(_tuned(raw), tmp_path)
    store = store_of(settings)
    service = await service_factory(settings)
    smtp_server.reject_next(1, code=550, text="5.1.1 Mailbox unavailable")
    dovecot.save(user, mail("dan@customer.test", "Refund", "Please refund order 5512.")[0])
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='failed'") == 1)
    dovecot.save(user, mail("dan@customer.test", "Login", "The password reset link fails.")[0])
    (ack,) = await smtp_server.wait_for(1, timeout=30)
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='sent'") == 1)
    first, second = (r for (r,) in store.rows("SELECT reference FROM conversations ORDER BY id"))
    assert f"#{second}" in str(ack.message)
    check = await _check(config)
    assert check.status == 1 and set(_unanswered(check)) == {first}

    # An agent finds the second ticket is the first one's customer again and merges it
    # there: its messages move, its acknowledgement (delivered) with them.
    token = await _agent(service)
    merge = f"/api/conversations/{second}/merge"
    status, body = await call(service, "POST", merge, token, {"into": first})
    assert status == 200, body
    # Its acknowledgement now answers in the first ticket too (queued after the first
    # mail): nothing is unanswered, and the second mail's delivery is its own, not 550.
    check = await _check(config)
    assert check.status == 0, check.unanswered
    assert check.counts() == {("email", ACKNOWLEDGED, "sent"): 2}
