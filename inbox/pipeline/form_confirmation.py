"""Confirming an address typed into the web form: a link mailed to it.

A form sender's typed address proves nothing (see ``connectors.submitters``). When a
mailbox is configured, the first message of a new form sender mails that address a
signed link; whoever opens it and confirms holds the mailbox, so the form sender joins
that address's customer (their history, duplicates, follow-ups) and is verified.
Opening the link alone changes nothing: mail scanners open links.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.config.settings import Settings
from inbox.form_identity import typed_address
from inbox.form_links import confirmation_path
from inbox.store.writes import queue_service_answer
from inbox.text import format_reference
from inbox.texts import Key


@dataclass(frozen=True)
class NewFormSender:
    """A form sender seen for the first time, and the ticket their message opened."""

    address: str  # the form identity: "typed@address#key digest"
    conversation_id: int
    reference: int
    language: str = ""  # the customer's, as the ingest chose it ("": English)


async def queue_confirmations(
    conn: AsyncConnection, senders: list[NewFormSender], settings: Settings
) -> None:
    """Mails each new form sender's typed address its confirmation link (in the outbox,
    in the ingest transaction), when a mailbox is there to send it."""
    mailbox = settings.linking.link_via
    if not mailbox:
        return
    for sender in senders:
        link = settings.web.public_url + confirmation_path(settings.secret, sender.address)
        ticket = format_reference(sender.reference)
        say = settings.texts.wording(sender.language)
        await queue_service_answer(
            conn,
            channel=mailbox,
            address=typed_address(sender.address),
            conversation_id=sender.conversation_id,
            subject=say(Key.CONFIRM_MAIL_SUBJECT, reference=ticket),
            text=say(Key.CONFIRM_MAIL, reference=ticket, link=link),
        )
