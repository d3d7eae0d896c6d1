"""New senders become contacts, each with the identity they wrote from (unverified)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.models import Envelope
from inbox.pipeline.ingest.plan import IngestPlan
from inbox.pipeline.ingest.state import BatchState
from inbox.store.bulk import insert_keyed
from inbox.store.engine import now
from inbox.store.tables import contacts, identities


async def create_contacts(
    conn: AsyncConnection,
    plans: list[IngestPlan],
    state: BatchState,
    tier_of: Callable[[Envelope], str],
) -> None:
    """Creates a contact for each sender the store does not know (of messages not stored
    already), and notes them in ``state``."""
    missing: dict[tuple[str, str], Envelope] = {}
    for plan in plans:
        env = plan.envelope
        key = (env.identity_channel, env.address)
        if key not in state.contacts and (env.channel, env.external_id) not in state.stored:
            missing.setdefault(key, env)
    if not missing:
        return
    stamp = now()
    ids = await insert_keyed(
        conn,
        contacts,
        [
            {
                "uid": uuid.uuid4().hex,
                "name": e.sender_name,
                "tier": tier_of(e),
                "created_at": stamp,
            }
            for e in missing.values()
        ],
        ("uid",),
    )
    for key, contact_id in zip(missing, ids, strict=True):
        state.contacts[key] = int(contact_id)
    state.new_identities.update(missing)
    await conn.execute(
        insert(identities),
        [
            {
                "contact_id": state.contacts[key],
                "channel": key[0],
                "address": key[1],
                "verified": False,
            }
            for key in missing
        ],
    )
