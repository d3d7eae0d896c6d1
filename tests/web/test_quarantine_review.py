"""Reviewing the quarantine (issue 19): a supervisor releases a customer's message that
triage took for spam (it becomes a ticket, acknowledged, and the entry names it),
confirms real spam, and dismisses an unreadable mail that has nothing to release; each
entry once, and only supervisors. The same from the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connectors.mail.envelopes import quarantined
from inbox import tomlwrite
from inbox.cli.main import main
from inbox.config.channels import EmailSettings
from tests.support.config import make_raw_config
from tests.support.service import Running
from tests.support.staff_web import person, signed_in
from tests.support.store import store_of
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends

WINNER = "Click here to claim your free iPhone, you are our lucky winner"
HOSTILE = "Get more Instagram followers cheaply <script>window.__pwned = 1</script>"
BROKEN_MAIL = b"From: ???\r\nSubject: =?bogus?Q?broken?=\r\n\r\n\xff\xfe not a mail at all"


def _mailbox() -> EmailSettings:
    """A mailbox's settings (the mail connector's quarantine needs only its name)."""
    return EmailSettings(
        name="email",
        address="help@example.com",
        imap_host="127.0.0.1",
        imap_port=993,
        imap_user="help@example.com",
        imap_password="unused",
        smtp_host="127.0.0.1",
        smtp_port=587,
        smtp_password="unused",
    )


def _cli(tmp_path: Path, *args: str) -> int:
    """``inbox quarantine ARGS`` on the test's store and queue (same folder, same back-end)."""
    config = tmp_path / "cli.toml"
    if not config.exists():
        config.write_text(tomlwrite.dumps(make_raw_config(tmp_path)))
    return main(["--config", str(config), "quarantine", *args])


async def test_a_supervisor_releases_a_message_confirms_spam_and_dismisses_a_broken_mail(
    running: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = store_of(running.service.settings)
    await running.submit(email="winner@spam.example", message=WINNER)
    await running.submit(email="growth@spam.example", message=HOSTILE)
    assert running.service.queue is not None
    await running.service.queue.put([quarantined(BROKEN_MAIL, _mailbox(), "unparseable: test")])
    await until(lambda: store.count("SELECT count(*) FROM quarantine") == 3)
    assert store.count("SELECT count(*) FROM conversations") == 0
    ids = dict(store.rows("SELECT text, id FROM quarantine"))
    winner, hostile, broken = ids[WINNER], ids[HOSTILE], ids[""]

    # The command line lists them, unreviewed.
    assert await asyncio.to_thread(_cli, tmp_path, "--unreviewed") == 0
    listing = capsys.readouterr().out
    assert "quarantined: 3 shown (unreviewed, newest first)" in listing
    assert listing.count("review:  unreviewed") == 3
    assert "unreviewed (unreadable: dismiss or spam)" in listing

    await person(running.service, "sue", role="supervisor")
    await person(running.service, "ada")
    boss = await signed_in(running.service, "sue")
    agent = await signed_in(running.service, "ada")
    try:
        status, dashboard = await boss.get("/supervisor")
        assert status == 200 and "Quarantine (3 to review)" in dashboard
        status, page = await boss.get("/supervisor/quarantine")
        assert status == 200
        assert page.count('data-review="unreviewed"') == 3
        # The spammer's markup is shown as text, never as markup.
        assert "<script>window.__pwned" not in page
        assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
        assert "lucky winner" in page and "winner@spam.example" in page
        assert f"/supervisor/quarantine/{broken}/release" not in page  # nothing to release
        assert f"/supervisor/quarantine/{broken}/dismiss" in page

        # An agent may neither see the page nor review.
        assert (await agent.get("/supervisor/quarantine"))[0] == 403
        refused = await agent.post_form(f"/supervisor/quarantine/{winner}/release", {})
        assert refused[0] == 403
        # Nor may a post without the session's token.
        async with boss.http.post(
            boss.base + f"/supervisor/quarantine/{winner}/release", allow_redirects=False
        ) as r:
            assert r.status == 403
        assert store.count("SELECT count(*) FROM quarantine WHERE review IS NOT NULL") == 0

        # Released: it becomes a ticket, acknowledged, and the entry names it.
        status, _, where = await boss.post_form(f"/supervisor/quarantine/{winner}/release", {})
        assert (status, where) == (303, "/supervisor/quarantine?done=released")
        reference = (
            await until(
                lambda: store.rows(
                    "SELECT released_reference FROM quarantine WHERE id = ? "
                    "AND released_reference IS NOT NULL",
                    winner,
                )
            )
        )[0][0]
        ((ticket, channel),) = store.rows("SELECT reference, channel FROM conversations")
        assert (ticket, channel) == (reference, "form")
        acknowledged = (
            "SELECT count(*) FROM outbox JOIN conversations ON conversations.id = "
            "outbox.conversation_id WHERE outbox.kind = 'acknowledgement' AND reference = ?"
        )
        assert store.count(acknowledged, reference) == 1
        assert store.rows("SELECT review, reviewed_by FROM quarantine WHERE id = ?", winner) == [
            ("released", "sue")
        ]
        assert store.rows("SELECT actor FROM events WHERE kind = 'released'") == [("sue",)]
        status, page = await boss.get("/supervisor/quarantine")
        assert f"ticket #{reference}" in page

        # Once only.
        status, page, _ = await boss.post_form(f"/supervisor/quarantine/{winner}/spam", {})
        assert status == 409 and "already reviewed: released as a ticket by sue" in page

        # Real spam, confirmed: never answered.
        status, _, where = await boss.post_form(f"/supervisor/quarantine/{hostile}/spam", {})
        assert (status, where) == (303, "/supervisor/quarantine?done=spam")
        assert store.rows("SELECT review FROM quarantine WHERE id = ?", hostile) == [("spam",)]
        status, page, _ = await boss.post_form(f"/supervisor/quarantine/{hostile}/release", {})
        assert status == 409
    finally:
        await boss.http.close()
        await agent.http.close()

    # The unreadable mail: nothing to release; the operator read it and dismisses it.
    assert await asyncio.to_thread(_cli, tmp_path, "--release", str(broken)) == 1
    assert "has no text to release" in capsys.readouterr().err
    assert await asyncio.to_thread(_cli, tmp_path, "--dismiss", str(broken), "--by", "ops") == 0
    assert f"entry {broken} dismissed" in capsys.readouterr().out
    assert await asyncio.to_thread(_cli, tmp_path, "--spam", str(broken)) == 1
    assert "already reviewed: dismissed by ops" in capsys.readouterr().err
    assert await asyncio.to_thread(_cli, tmp_path, "--unreviewed") == 0
    assert "quarantined: 0 shown" in capsys.readouterr().out
    assert await asyncio.to_thread(_cli, tmp_path) == 0
    listing = capsys.readouterr().out
    assert "released by sue at" in listing and f"ticket #{reference}" in listing
    assert "spam by sue at" in listing and "dismissed by ops at" in listing
    # Nothing else became a ticket, and the spam got no answer.
    assert store.count("SELECT count(*) FROM conversations") == 1
    assert store.count("SELECT count(*) FROM outbox WHERE address LIKE 'growth@%'") == 0
