"""Contacts by identity, and joining two identities' histories into one contact."""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.form_identity import typed_address
from inbox.store.engine import now
from inbox.store.form_copies import verified_form_identities
from inbox.store.locks import serialize
from inbox.store.tables import contacts, conversations, identities, message_vectors
from inbox.store.writes import record_event


async def contact_of(conn: AsyncConnection, channel: str, address: str) -> int | None:
    """The contact behind an identity, if it wrote before."""
    found = await conn.scalar(
        select(identities.c.contact_id).where(
            identities.c.channel == channel, identities.c.address == address
        )
    )
    return None if found is None else int(found)


async def ensure_contact(
    conn: AsyncConnection, channel: str, address: str, name: str = "", *, verified: bool = False
) -> int:
    """The contact behind an identity, created with it when new."""
    found = await contact_of(conn, channel, address)
    if found is not None:
        return found
    contact_id = (
        await conn.execute(
            insert(contacts)
            .values(uid=uuid.uuid4().hex, name=name, tier="standard", created_at=now())
            .returning(contacts.c.id)
        )
    ).scalar_one()
    await conn.execute(
        insert(identities).values(
            contact_id=contact_id, channel=channel, address=address, verified=verified
        )
    )
    return int(contact_id)


async def join_identities(
    conn: AsyncConnection, chat: tuple[str, str], email: str, name: str = ""
) -> int:
    """Makes the chat identity and the email address one contact (the email's), moving
    the chat's conversations with it; every moved conversation records the link.
    Returns the contact. Only call this once the customer proved they own both."""
    target = await ensure_contact(conn, "email", email, name, verified=True)
    source = await ensure_contact(conn, *chat, name)
    await conn.execute(
        update(identities)
        .where(identities.c.channel == "email", identities.c.address == email)
        .values(verified=True)
    )
    if source == target:
        return target
    moved = [
        int(r[0])
        for r in await conn.execute(
            select(conversations.c.id).where(conversations.c.contact_id == source)
        )
    ]
    await conn.execute(
        update(identities)
        .where(identities.c.contact_id == source)
        .values(contact_id=target, verified=True)
    )
    await conn.execute(
        update(conversations).where(conversations.c.contact_id == source).values(contact_id=target)
    )
    # A customer who asked for no automatic messages on one identity asked it for all.
    stopped = await conn.scalar(
        select(contacts.c.automatic_stopped_at).where(contacts.c.id == source)
    )
    if stopped is not None:
        await conn.execute(
            update(contacts)
            .where(contacts.c.id == target, contacts.c.automatic_stopped_at.is_(None))
            .values(automatic_stopped_at=stopped)
        )
    # The embeddings too: the customer's earlier messages are compared with their next ones.
    await conn.execute(
        update(message_vectors)
        .where(message_vectors.c.contact_id == source)
        .values(contact_id=target)
    )
    for conversation_id in moved:
        await record_event(
            conn,
            conversation_id,
            "identity_linked",
            "customer",
            {"identity": f"{chat[0]}:{chat[1]}", "email": email},
        )
    return target


class StoreFormAddresses:
    """The store side of the web form's address confirmation."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def confirm(self, identity_address: str) -> str:
        """Joins a form sender to the customer of the address they typed, now proved by
        a link mailed there; returns that address."""
        email = typed_address(identity_address)
        async with self.engine.begin() as conn:
            # Conversations change hands: no ingest may decide about this customer meanwhile.
            await serialize(conn, "ingest")
            await join_identities(conn, ("form", identity_address), email)
        return email

    async def verified(self, identity_address: str) -> bool:
        """Whether the form sender confirmed their typed address."""
        async with self.engine.connect() as conn:
            found = await verified_form_identities(conn, [identity_address])
        return bool(found)
