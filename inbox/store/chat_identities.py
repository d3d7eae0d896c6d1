"""The store side of a verified chat visitor: their session joins their customer."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inbox.store.links import contact_of, ensure_contact, join_identities
from inbox.store.locks import serialize
from inbox.store.tables import contacts, identities

CHAT_CHANNEL = "webchat"


class StoreChatIdentities:
    """Binds the chat sessions of a site's signed-in users to their customers."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def bind(self, session: str, email: str, name: str) -> None:
        """Makes the chat identity ``session`` verified and the customer's: the one of
        ``email`` when given (their conversations on every channel become one history);
        a customer without a name gets ``name``. Idempotent."""
        async with self.engine.connect() as conn:
            if await _bound(conn, session, email, name):
                return  # the usual case, every page a signed-in user opens: no write
        async with self.engine.begin() as conn:
            # Conversations may change hands: no ingest decides about this customer meanwhile.
            await serialize(conn, "ingest")
            if email and await contact_of(conn, CHAT_CHANNEL, session) is not None:
                # The session wrote before (or was bound to another address): its
                # conversations move to the email's customer, each noting the link.
                contact = await join_identities(conn, (CHAT_CHANNEL, session), email, name)
            else:
                owner = ("email", email) if email else (CHAT_CHANNEL, session)
                contact = await ensure_contact(conn, *owner, name)
                await _verified_identity(conn, contact, CHAT_CHANNEL, session)
                if email:
                    await _verified_identity(conn, contact, "email", email)
            if name:  # a name an agent or an earlier message gave is kept
                await conn.execute(
                    update(contacts)
                    .where(contacts.c.id == contact, contacts.c.name == "")
                    .values(name=name)
                )


async def _verified_identity(
    conn: AsyncConnection, contact: int, channel: str, address: str
) -> None:
    """The identity, the contact's and verified: added, or marked verified if there."""
    if await contact_of(conn, channel, address) is None:
        await conn.execute(
            insert(identities).values(
                contact_id=contact, channel=channel, address=address, verified=True
            )
        )
    else:
        await conn.execute(
            update(identities)
            .where(identities.c.channel == channel, identities.c.address == address)
            .values(verified=True)
        )


async def _bound(conn: AsyncConnection, session: str, email: str, name: str) -> bool:
    """Whether ``bind`` has nothing left to do."""
    contact = await contact_of(conn, CHAT_CHANNEL, session)
    if contact is None or (email and await contact_of(conn, "email", email) != contact):
        return False
    row = (
        await conn.execute(
            select(identities.c.verified, contacts.c.name)
            .join(contacts, contacts.c.id == identities.c.contact_id)
            .where(identities.c.channel == CHAT_CHANNEL, identities.c.address == session)
        )
    ).one()
    return bool(row.verified) and (bool(row.name) or not name)
