"""The language each customer of a batch is written to in, kept on their contact.

Their message's detected language when it was confident, else the one kept on them from
before, else their browser's or chat app's, else English (``inbox.texts.languages``). A
later message confidently in another language changes what is kept.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.pipeline.ingest.state import Inbound
from inbox.store.tables import contacts
from inbox.texts import customer_language


async def kept_languages(conn: AsyncConnection, contact_ids: set[int]) -> dict[int, str]:
    """The language kept on each of these contacts ("" where none is)."""
    if not contact_ids:
        return {}
    rows = await conn.execute(
        select(contacts.c.id, contacts.c.language).where(contacts.c.id.in_(contact_ids))
    )
    return {int(row.id): str(row.language or "") for row in rows}


async def keep_languages(conn: AsyncConnection, inbound: list[Inbound]) -> Mapping[int, str]:
    """Each contact's language after this batch's messages (in order), written back where
    it changed; by contact id."""
    kept = await kept_languages(conn, {m.target.contact_id for m in inbound})
    chosen = dict(kept)
    for m in inbound:
        if m.plan.envelope.automated:
            continue  # an auto-reply's language says nothing of the customer's
        contact = m.target.contact_id
        chosen[contact] = customer_language(
            m.plan.triage.language, m.plan.envelope.meta.language, chosen.get(contact, "")
        )
    changed: dict[str, list[int]] = {}  # one statement per language, not per customer
    for contact, language in chosen.items():
        if language != kept.get(contact, ""):
            changed.setdefault(language, []).append(contact)
    for language, ids in changed.items():
        await conn.execute(
            update(contacts).where(contacts.c.id.in_(sorted(ids))).values(language=language)
        )
    return chosen
