"""Answers to a web form ticket, also mailed to the form's address.

A form customer reads our answers on their ticket page. When a mailbox is configured,
an agent's answer and the bot's answer to a form ticket are also mailed to the address
typed into the form, but only once that address proved it receives mail there: its owner
opened the confirmation link mailed to it (``inbox.pipeline.form_confirmation``), which
marks the form identity verified. An address nobody confirmed is never mailed: whoever
typed it may not own it.

The copy is a delivery of its own: an outbox row of kind ``email_copy`` on the mailbox
(``agent_email_copy`` for an agent's answer, which is mailed as a person's, not marked
automatic),
queued in the answer's transaction with the answer's conversation and time, so it is sent,
retried and failed like any mail, and an audit event names the answer it copies. The
answer itself stays the ticket page's: one answer per channel, never two.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.bot_words import BOT_ANSWER
from inbox.config.settings import Settings
from inbox.customer_links import CustomerLinks
from inbox.form_identity import IDENTITY_CHANNEL, typed_address
from inbox.store.outbound import OutboundDraft, queue_drafts
from inbox.store.tables import conversations, identities, messages, outbox
from inbox.store.writes import record_event
from inbox.text import format_reference

EMAIL_COPY = "email_copy"  # the outbox kind of a mailed copy of the bot's answer
AGENT_EMAIL_COPY = "agent_email_copy"  # … of an agent's answer: mailed as a person's
COPIED = "answer_mailed"  # the audit event naming the answer a copy carries
COPIED_KINDS = (BOT_ANSWER, "reply")  # the bot's answer, an agent's answer


@dataclass(frozen=True)
class FormCopies:
    """Where answers to form tickets are mailed: the mailbox, and the links in the mail."""

    mailbox: str
    links: CustomerLinks


def form_copies_for(settings: Settings, links: CustomerLinks) -> FormCopies | None:
    """Copies go out through the first mailbox (the one that answers email identities);
    None when no mailbox is configured: the ticket page alone then."""
    if not settings.form.enabled or not settings.email:
        return None
    return FormCopies(settings.email[0].name, links)


async def verified_form_identities(conn: AsyncConnection, addresses: Collection[str]) -> set[str]:
    """The form identities among ``addresses`` whose typed address proved it gets mail."""
    if not addresses:
        return set()
    rows = await conn.execute(
        select(identities.c.address).where(
            identities.c.channel == IDENTITY_CHANNEL,
            identities.c.address.in_(list(addresses)),
            identities.c.verified.is_(True),
        )
    )
    return {str(r[0]) for r in rows}


async def queue_email_copies(
    conn: AsyncConnection, copies: FormCopies | None, message_ids: Sequence[int], actor: str
) -> int:
    """Queues the mailed copy of each of these answers that went to a form ticket page
    whose address is verified (in the caller's transaction); returns how many."""
    if copies is None or not message_ids:
        return 0
    m, c, o = messages, conversations, outbox
    rows = (
        await conn.execute(
            select(
                m.c.id,
                m.c.text,
                m.c.author,
                m.c.created_at,
                o.c.address,
                o.c.kind,
                c.c.id.label("conversation_id"),
                c.c.reference,
                c.c.subject,
            )
            .join(o, o.c.message_id == m.c.id)
            .join(c, c.c.id == m.c.conversation_id)
            .where(
                m.c.id.in_(list(message_ids)),
                o.c.channel == IDENTITY_CHANNEL,
                o.c.kind.in_(COPIED_KINDS),
                m.c.internal.is_(False),
            )
            .order_by(m.c.id)
        )
    ).all()
    verified = await verified_form_identities(conn, {r.address for r in rows})
    # Each copy carries its answer's time: the answer and its copy are one delivery pair.
    by_stamp: dict[float, list[tuple[OutboundDraft, int]]] = defaultdict(list)
    for r in rows:
        if r.address not in verified:
            continue
        draft = OutboundDraft(
            copies.mailbox,
            typed_address(r.address),
            _copy_text(copies.links, r.text, r.kind, int(r.reference), r.address),
            AGENT_EMAIL_COPY if r.author == "agent" else EMAIL_COPY,
            int(r.conversation_id),
            subject=r.subject,
            stored=False,
        )
        by_stamp[float(r.created_at)].append((draft, int(r.id)))
    for stamp, queued in by_stamp.items():
        await queue_drafts(conn, [draft for draft, _ in queued], stamp)
        for draft, message_id in queued:
            await record_event(
                conn,
                int(draft.conversation_id or 0),
                COPIED,
                actor,
                {"message_id": message_id, "via": copies.mailbox, "to": draft.address},
            )
    return sum(len(q) for q in by_stamp.values())


def _copy_text(links: CustomerLinks, text: str, kind: str, reference: int, address: str) -> str:
    page = links.ticket_url(reference, address)
    ticket = format_reference(reference)
    if kind == BOT_ANSWER:  # its buttons are on the page
        closing = f"Did this solve your problem? Tell us on your ticket page:\n{page}"
    else:
        closing = f"Your ticket {ticket}, with all our answers, is here:\n{page}"
    return f"{text}\n\n-- \n{closing}\n"
