"""The incident watcher: turns bursts of similar new conversations into incidents.

It follows the stored embeddings of new conversations (``message_vectors`` rows that
opened a conversation) in id order, off the worker's path, and keeps the last window of
them in memory. On start it rebuilds that window from the store, so a restart neither
forgets a burst in progress nor raises an incident twice. One watcher runs per
deployment (in ``inbox serve``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from classifiers.bursts import BurstDetector, BurstEvent, Cluster, Member
from classifiers.dedup import vector_of
from inbox.config.settings import IncidentSettings
from inbox.store.tables import conversations, events, incident_members, incidents, messages
from inbox.store.tables import message_vectors as vectors
from inbox.text import single_line
from inbox.waiting import nap

log = logging.getLogger(__name__)
TITLE_CHARS = 120
IDLE_CHECK = 5.0  # seconds between checks when nothing wakes the watcher


class IncidentWatcher:
    """Clusters new conversations across customers; raises and grows incidents."""

    def __init__(self, engine: AsyncEngine, settings: IncidentSettings, model: str) -> None:
        self.engine = engine
        self.settings = settings
        self.model = model
        self.detector = self._new_detector()
        self.cursor = 0
        self.wake = asyncio.Event()

    def _new_detector(self) -> BurstDetector:
        s = self.settings
        return BurstDetector(s.similarity, s.customers, s.window_minutes * 60)

    async def load(self) -> None:
        """Rebuilds the current window from the store: on start, and after a failed check
        (whose transaction left the store behind the detector). Members of the window not
        yet in an incident are clustered again, so a burst cut short by a crash is raised."""
        self.detector = self._new_detector()
        since = time.time() - self.settings.window_minutes * 60
        async with self.engine.begin() as conn:
            latest = int(await conn.scalar(select(func.max(vectors.c.message_id))) or 0)
            known = {
                int(r[0]): int(r[1])
                for r in await conn.execute(
                    select(incident_members.c.conversation_id, incident_members.c.incident_id)
                )
            }
            members, _ = await self._members(conn, since=since, up_to=latest)
            for member in members:
                event = self.detector.add(member, known.get(member.conversation_id))
                if event is not None:
                    if event.kind == "raise":
                        await self._raise(conn, event.cluster)
                    await self._link(conn, [event])
        self.cursor = latest

    async def _members(
        self, conn: AsyncConnection, *, since: float = 0.0, after: int = 0, up_to: int = 0
    ) -> tuple[list[Member], int]:
        """New conversations' first messages in id order, and the last id read."""
        query = select(
            vectors.c.message_id,
            vectors.c.conversation_id,
            vectors.c.contact_id,
            vectors.c.created_at,
            vectors.c.vector,
        ).where(
            vectors.c.opened.is_(True),
            vectors.c.model == self.model,
            vectors.c.message_id > after,
            vectors.c.created_at >= since,
        )
        if up_to:
            query = query.where(vectors.c.message_id <= up_to)
        rows = (await conn.execute(query.order_by(vectors.c.message_id))).all()
        members = [Member(int(r[1]), int(r[2]), float(r[3]), vector_of(r[4])) for r in rows]
        return members, int(rows[-1][0]) if rows else after

    async def check(self) -> list[BurstEvent]:
        """Clusters what arrived since the last check and records incidents."""
        found: list[BurstEvent] = []
        async with self.engine.begin() as conn:
            members, last = await self._members(conn, after=self.cursor)
            for member in members:
                event = self.detector.add(member)
                if event is None:
                    continue
                if event.kind == "raise":  # at once: the next member sees the incident
                    await self._raise(conn, event.cluster)
                found.append(event)
            await self._link(conn, found)
        self.cursor = last  # only once the transaction committed
        return found

    async def _raise(self, conn: AsyncConnection, cluster: Cluster) -> None:
        ids = [m.conversation_id for m in cluster.members]
        rows = (
            await conn.execute(
                select(conversations.c.id, conversations.c.team).where(conversations.c.id.in_(ids))
            )
        ).all()
        team = Counter(r[1] for r in rows).most_common(1)[0][0]
        title = await _title(conn, ids[0])
        stamp = time.time()
        inserted = await conn.execute(
            insert(incidents).values(
                status="open",
                title=title,
                team=team,
                customers=cluster.customers,
                created_at=stamp,
                updated_at=stamp,
            )
        )
        key: Any = inserted.inserted_primary_key
        cluster.incident_id = int(key[0])
        log.warning(
            "incident %s raised: %d customers within %g minutes about %r",
            cluster.incident_id,
            cluster.customers,
            self.settings.window_minutes,
            title,
        )

    async def _link(self, conn: AsyncConnection, found: list[BurstEvent]) -> None:
        """Records the members of raised and joined incidents, all in a few statements."""
        if not found:
            return
        stamp = time.time()
        linked: list[tuple[Cluster, Member, float]] = []
        for event in found:
            if event.kind == "raise":
                linked += [(event.cluster, m, similarity) for m, similarity in event.members]
            else:
                linked.append((event.cluster, event.member, event.similarity))
        await conn.execute(
            insert(incident_members),
            [
                {
                    "incident_id": cluster.incident_id,
                    "conversation_id": m.conversation_id,
                    "contact_id": m.contact_id,
                    "similarity": similarity,
                    "created_at": stamp,
                }
                for cluster, m, similarity in linked
            ],
        )
        await conn.execute(
            insert(events),
            [
                {
                    "conversation_id": m.conversation_id,
                    "kind": "incident_linked",
                    "actor": "bursts",
                    "data": {
                        "incident_id": cluster.incident_id,
                        "similarity": round(similarity, 4),
                        "threshold": self.settings.similarity,
                        "window_minutes": self.settings.window_minutes,
                    },
                    "created_at": stamp,
                }
                for cluster, m, similarity in linked
            ],
        )
        sizes = {c.incident_id: c.customers for c, _, _ in linked}
        await conn.execute(
            update(incidents)
            .where(incidents.c.id == bindparam("incident"))
            .values(customers=bindparam("customers"), updated_at=stamp),
            [{"incident": i, "customers": n} for i, n in sizes.items()],
        )

    async def run(self, stopping: asyncio.Event) -> None:
        """Checks whenever woken (a batch committed), and every few seconds anyway."""
        loaded = False
        while not stopping.is_set():
            try:
                if not loaded:
                    await self.load()
                    loaded = True
                await self.check()
            except Exception:
                log.exception("incident check failed; trying again shortly")
                loaded = False
            await nap(self.wake, stopping, IDLE_CHECK)


async def _title(conn: AsyncConnection, conversation_id: int) -> str:
    row = (
        await conn.execute(
            select(conversations.c.subject, messages.c.text)
            .join(messages, messages.c.conversation_id == conversations.c.id)
            .where(conversations.c.id == conversation_id, messages.c.direction == "in")
            .order_by(messages.c.id)
            .limit(1)
        )
    ).first()
    if row is None:
        return ""
    text = single_line(row[0] or row[1])
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"
