"""The bot by email: a real Dovecot (IMAP) in, a real SMTP server out, the real model and
the shipped example knowledge base, both back-ends."""

from __future__ import annotations

import re

import aiohttp
import pytest

from inbox.service.app import InboxService
from tests.support.mailbox import Mailbox, mail
from tests.support.mailservers import Dovecot
from tests.support.smtp_server import SmtpServer
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


def _body(received: object) -> str:
    text: str = received.message.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    return text


async def test_an_emailed_question_gets_the_article_with_links_and_a_yes_reply_resolves(
    mailbox: Mailbox, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    user, store = mailbox.user, mailbox.store
    await mailbox.start()
    question, question_id = mail(
        "Ann Customer <ann@customer.test>", "Password", "Hello, how do I reset my password?"
    )
    dovecot.save(user, question)
    (answer,) = await smtp_server.wait_for(1, timeout=30)
    body = _body(answer)
    assert "automatic answer" in body and "/kb/reset-password" in body
    assert re.search(r"Yes, that solved it: http://\S+/answer/\S+\?v=yes", body)
    assert answer.message["In-Reply-To"] == question_id
    reference = store.count("SELECT reference FROM conversations")
    assert answer.message["Subject"] == f"Re: Password [#{reference}]"
    # The customer answers in words, threaded: resolved, thanked, asked for a rating.
    reply, _ = mail(
        "ann@customer.test",
        f"Re: Password [#{reference}]",
        "Yes thanks!\n\n> This is an automatic answer from our help centre",
        in_reply_to=str(answer.message["Message-ID"]),
        references=f"{question_id} {answer.message['Message-ID']}",
    )
    dovecot.save(user, reply)
    sent = await smtp_server.wait_for(3, timeout=30)
    assert "Glad that helped" in _body(sent[1]) and "/rate/" in _body(sent[2])
    assert store.rows("SELECT status, bot_state FROM conversations") == [("resolved", "resolved")]
    # They write again in the thread: the conversation reopens for the team, not the bot.
    again, _ = mail(
        "ann@customer.test",
        f"Re: Password [#{reference}]",
        "Sorry, how do I reset my password on the app?",
        in_reply_to=str(sent[2].message["Message-ID"]),
    )
    dovecot.save(user, again)
    await until(lambda: store.count("SELECT count(*) FROM messages WHERE direction='in'") == 3)
    await until(lambda: store.rows("SELECT status FROM conversations") == [("open",)])
    assert store.rows("SELECT bot_state FROM conversations") == [("resolved",)]
    assert store.count("SELECT count(*) FROM events WHERE kind='bot_answered'") == 1
    assert len(smtp_server.received) == 3, "no second bot answer, no acknowledgement"


async def test_the_no_link_in_the_mail_hands_off_and_the_customer_hears_when(
    mailbox: Mailbox, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    user, store = mailbox.user, mailbox.store
    service: InboxService = await mailbox.start()
    question, _ = mail("bo@customer.test", "Opening hours", "What are your opening hours?")
    dovecot.save(user, question)
    (answer,) = await smtp_server.wait_for(1, timeout=30)
    link = re.search(r"No, that didn't help: (http://\S+)\?v=no", _body(answer))
    assert link is not None
    async with aiohttp.ClientSession() as http, http.post(link.group(1), data={"v": "no"}) as r:
        assert r.status == 200
    handoff = (await smtp_server.wait_for(2, timeout=30))[1]
    assert "a person will answer you here" in _body(handoff)
    await until(lambda: store.rows("SELECT bot_state FROM conversations") == [("handed_off",)])
    assert service.engine is not None
