"""An acknowledgement the mail server refused for good (550) fails and says so; once the
server accepts again, an agent's "Try again" sends it: the customer gets it once. Real
Dovecot and SMTP servers on loopback."""

from __future__ import annotations

import pytest

from inbox.store.accounts import Accounts
from tests.support.mailbox import Mailbox, mail
from tests.support.mailservers import Dovecot
from tests.support.smtp_server import SmtpServer
from tests.support.staff_web import call
from tests.support.waiting import until

pytestmark = pytest.mark.both_backends


async def test_a_rejected_acknowledgement_is_sent_once_after_try_again(
    mailbox: Mailbox, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    store = mailbox.store
    service = await mailbox.start()
    smtp_server.reject_next(1, code=550, text="5.1.1 Mailbox unavailable")
    dovecot.save(mailbox.user, mail("ann@customer.test", "Refund", "Please refund order 5512.")[0])
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='failed'") == 1)
    ((reference, team, message_id, error),) = store.rows(
        "SELECT c.reference, c.team, o.message_id, o.last_error FROM outbox o "
        "JOIN conversations c ON c.id = o.conversation_id"
    )
    assert "550" in error and smtp_server.received == []
    assert service.engine is not None
    _agent, token = await Accounts(service.engine).add_agent("ada", [team])

    status, view = await call(service, "GET", f"/api/conversations/{reference}", token)
    (ack,) = [m for m in view["messages"] if m["id"] == message_id]
    assert ack["delivery"] == "failed" and "550" in ack["delivery_error"]

    path = f"/api/conversations/{reference}/retry"
    status, body = await call(service, "POST", path, token, {"message": message_id})
    assert status == 202 and body["delivery"] == "pending"
    (sent,) = await smtp_server.wait_for(1, timeout=30)
    assert sent.rcpt_tos == ["ann@customer.test"] and f"#{reference}" in str(sent.message)
    await until(lambda: store.count("SELECT count(*) FROM outbox WHERE state='sent'") == 1)
    assert store.count("SELECT attempts FROM outbox") == 1

    status, body = await call(service, "POST", path, token, {"message": message_id})
    assert status == 409 and "not failed" in body["error"]
    # A message without a delivery of its own (the customer's) has nothing to try again.
    ((inbound,),) = store.rows("SELECT id FROM messages WHERE direction='in'")
    status, body = await call(service, "POST", path, token, {"message": int(inbound)})
    assert status == 404
    assert len(smtp_server.received) == 1
