"""The audit trail of a batch: what happened to each message, and on what evidence."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from inbox.models import Envelope, Status
from inbox.pipeline.ingest.state import BatchState, Conversation, Inbound
from inbox.store.tables import events


class EventLog:
    """The batch's audit events, kept in order and written in one statement."""

    def __init__(self, stamp: float) -> None:
        self.stamp = stamp
        self.rows: list[dict[str, Any]] = []

    def add(self, conv: Conversation, kind: str, actor: str, data: dict[str, Any]) -> None:
        """Notes one event on ``conv`` (written by ``write``, once its id is known)."""
        self.rows.append(
            {
                "conversation_id": conv.conversation_id,
                "kind": kind,
                "actor": actor,
                "data": data,
                "created_at": self.stamp,
            }
        )

    async def write(self, conn: AsyncConnection) -> None:
        """Inserts the events noted."""
        if self.rows:
            await conn.execute(insert(events), self.rows)


def note_arrivals(
    log: EventLog, inbound: list[Inbound], state: BatchState, message_ids: dict[Inbound, int]
) -> None:
    """Notes how each message arrived: a ticket opened, a duplicate merged, a reply."""
    for m in inbound:
        env = m.plan.envelope
        if m.outcome == "new":
            _opened(log, m, state)
        elif m.outcome == "duplicate":
            original = message_ids[m.duplicate_of_batch] if m.duplicate_of_batch else m.duplicate_of
            merged: dict[str, Any] = {
                "channel": env.channel,
                "external_id": env.external_id,
                "duplicate_of_message": original,
            }
            if m.similar is not None:
                merged["similar"] = {**m.similar.evidence(), "message_id": original}
            log.add(m.target, "duplicate_merged", "deduper" if m.similar else "worker", merged)
        elif env.automated:  # an auto-reply or a bounce: noted, never reopens anything
            log.add(m.target, "automated_message", "worker", _automated(env))
        else:
            data: dict[str, Any] = {"channel": env.channel, "external_id": env.external_id}
            if not m.target.new and m.target.status == Status.RESOLVED.value:
                data["reopened"] = True
            log.add(m.target, "customer_replied", "customer", data)
            if m.stitched is not None:
                log.add(m.target, "stitched", "deduper", m.stitched.evidence())


def _opened(log: EventLog, m: Inbound, state: BatchState) -> None:
    env, triage = m.plan.envelope, m.plan.triage
    log.add(m.target, "created", "worker", {"channel": env.channel, "external_id": env.external_id})
    if m.plan.routing is not None:
        log.add(m.target, "routed", "router", m.plan.routing.evidence())
    log.add(
        m.target,
        "triaged",
        "triage",
        {
            "priority": triage.priority.name.lower(),
            "reasons": list(triage.reasons),
            "language": triage.language,
        },
    )
    if env.automated:
        log.add(m.target, "automated_message", "worker", _automated(env))
    if m.similar is not None and m.similar_to is not None:
        evidence = {**m.similar.evidence(), "conversation_id": m.similar_to.conversation_id}
        log.add(m.target, "possible_duplicate", "deduper", evidence)
    split = m.split_from
    if split is not None:
        origin = state.known[split.conversation_id]
        log.add(m.target, "split_from", "deduper", split.evidence(origin.reference))
        log.add(origin, "split_to", "deduper", split.evidence(m.target.reference))


def _automated(env: Envelope) -> dict[str, Any]:
    return {"channel": env.channel, "external_id": env.external_id, "reason": env.automated}
