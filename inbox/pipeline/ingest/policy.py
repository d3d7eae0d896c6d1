"""The contact policy in the ingest: a customer whose message asks for no more automatic
messages is stopped, and the batch's automatic answers are counted per contact (see
``inbox.store.contact_policy``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.config.settings import Settings
from inbox.pipeline.ingest.audit import EventLog
from inbox.pipeline.ingest.state import Inbound
from inbox.store.contact_policy import STOPPED, Allowance, allowance, set_stopped


async def batch_allowance(
    conn: AsyncConnection, inbound: list[Inbound], settings: Settings, log: EventLog
) -> Allowance:
    """Stops automatic messages to the customers who asked in this batch ("unsubscribe" by
    meaning), then reads what each of the batch's customers may still get."""
    for m in inbound:
        why = m.plan.triage.unsubscribe
        asked = bool(why) and not m.plan.envelope.automated
        if asked and await set_stopped(conn, m.target.contact_id, True, log.stamp):
            log.add(m.target, STOPPED, "customer", {"via": why})
    contact_ids = {m.target.contact_id for m in inbound}
    return await allowance(conn, contact_ids, settings.contact, log.stamp)


def related(m: Inbound) -> bool:
    """Whether the message is about one of the customer's tickets already: it joined or
    duplicated one, or the dedup found one like it."""
    return m.outcome in ("joined", "duplicate") or m.similar_to is not None
