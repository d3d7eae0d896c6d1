"""Live updates for the web app: an in-process hub and its Server-Sent Events stream.

Publishers (the SLA watcher, the worker, the desk) hand the hub small events tagged with
a team; each browser's stream gets only the events of its person's teams, and events
meant for supervisors only reach supervisors. A slow browser never slows a publisher:
its buffer is bounded and, when full, the browser is told to reload instead.

The hub lives in the process that serves the web app; alerts raised in other processes
reach it through the store (the SLA watcher runs beside the web server).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.pages.events import event_stream, pump, start
from inbox.store.accounts import Session
from inbox.store.tables import agents, conversation_refs, conversations, events
from inbox.waiting import nap
from inbox.web.auth import WebAuth

log = logging.getLogger(__name__)
OVERLAP_SECONDS = 5.0  # how far back each look at the store reaches again
SLA_EVENTS = frozenset({"sla_warning", "sla_breached", "sla_escalated"})
BUFFER = 256


@dataclass(frozen=True)
class LiveEvent:
    """One update: ``kind`` names it (sla, queue, conversation), ``team`` scopes it."""

    kind: str
    team: str
    data: dict[str, Any] = field(default_factory=dict)
    supervisors_only: bool = False


@dataclass(eq=False)
class _Listener:
    session: Session
    queue: asyncio.Queue[LiveEvent | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=BUFFER)
    )
    overflowed: bool = False

    def wants(self, event: LiveEvent) -> bool:
        agent = self.session.agent
        return event.team in agent.teams and (agent.supervises or not event.supervisors_only)


class LiveHub:
    """Fans events out to the open streams that may see them."""

    def __init__(self) -> None:
        self._listeners: set[_Listener] = set()

    @property
    def listeners(self) -> int:
        """Open streams right now."""
        return len(self._listeners)

    def publish(self, *events: LiveEvent) -> None:
        """Queues the events for every stream allowed to see them; never blocks."""
        for listener in list(self._listeners):
            for event in events:
                if not listener.wants(event) or listener.overflowed:
                    continue
                try:
                    listener.queue.put_nowait(event)
                except asyncio.QueueFull:
                    listener.overflowed = True
                    listener.queue.get_nowait()
                    listener.queue.put_nowait(LiveEvent("reload", event.team))

    @contextlib.asynccontextmanager
    async def listen(self, session: Session) -> AsyncIterator[_Listener]:
        """Registers a stream for as long as the block runs."""
        listener = _Listener(session)
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)

    def watched_by(self) -> set[str]:
        """The names of the people with a stream open here."""
        return {listener.session.agent.name for listener in self._listeners}

    def end_streams_of(self, name: str) -> int:
        """Ends the open streams of the person called ``name`` (an admin disabled them);
        returns how many. Other web processes end theirs at their next look at the
        store (``StoreFeed``)."""
        ended = 0
        for listener in list(self._listeners):
            if listener.session.agent.name == name:
                listener.overflowed = True  # nothing more is queued for it
                with contextlib.suppress(asyncio.QueueEmpty):
                    while True:
                        listener.queue.get_nowait()
                listener.queue.put_nowait(None)
                ended += 1
        return ended

    def close(self) -> None:
        """Ends every stream (the server is stopping)."""
        for listener in list(self._listeners):
            with contextlib.suppress(asyncio.QueueFull):
                listener.queue.put_nowait(None)


class ChangeFeed:
    """Tells live pages which conversations changed (a message arrived, an agent acted):
    looks up their teams and publishes one ``conversation`` event each."""

    def __init__(self, engine: AsyncEngine, hub: LiveHub) -> None:
        self.engine = engine
        self.hub = hub
        self._tasks: set[asyncio.Task[None]] = set()

    def changed(self, *, ids: Iterable[int] = (), references: Iterable[int] = ()) -> None:
        """Publishes soon, off the caller's path; nothing is published without listeners."""
        wanted_ids, wanted_refs = list(ids), list(references)
        if not self.hub.listeners or not (wanted_ids or wanted_refs):
            return
        task = asyncio.create_task(self._publish(wanted_ids, wanted_refs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, ids: list[int], references: list[int]) -> None:
        c = conversations
        try:
            async with self.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(c.c.reference, c.c.team, c.c.status).where(
                            or_(
                                c.c.id.in_(ids),
                                c.c.id.in_(
                                    select(conversation_refs.c.conversation_id).where(
                                        conversation_refs.c.reference.in_(references)
                                    )
                                ),
                            )
                        )
                    )
                ).all()
        except Exception:
            log.exception("could not look up changed conversations")
            return
        self.hub.publish(
            *(
                LiveEvent(
                    "conversation", r.team, {"reference": int(r.reference), "status": r.status}
                )
                for r in rows
            )
        )


class StoreFeed:
    """Publishes what other processes did: a worker storing a message, the SLA watcher
    raising an alert, an agent acting through another web process.

    Every such change leaves an audit event in the store, so this reads the events of the
    last moments once a second (only while someone is watching) and publishes each once.
    Events are read by time with a few seconds of overlap, not by id: on PostgreSQL a
    transaction that took an id first can commit last.
    """

    def __init__(self, engine: AsyncEngine, hub: LiveHub, interval: float = 1.0) -> None:
        self.engine = engine
        self.hub = hub
        self.interval = interval
        self._seen: dict[int, float] = {}  # event id -> its time, for the overlap

    async def run(self, stopping: asyncio.Event) -> None:
        """Polls until ``stopping`` is set."""
        since = time.time()
        idle = asyncio.Event()
        while not stopping.is_set():
            if self.hub.listeners:
                try:
                    since = await self.poll(since)
                    await self.end_disabled()
                except Exception:
                    log.exception("could not read the store's recent events")
            else:
                since = time.time()  # nobody watching: nothing to catch up on later
            await nap(idle, stopping, self.interval)

    async def end_disabled(self) -> None:
        """Ends the streams of people an admin disabled through another process (another
        web process, or ``inbox user disable``): within a second, not at reconnection."""
        watching = self.hub.watched_by()
        async with self.engine.connect() as conn:
            disabled = (
                await conn.execute(
                    select(agents.c.name).where(
                        agents.c.name.in_(watching), agents.c.disabled_at.is_not(None)
                    )
                )
            ).scalars()
            for name in disabled:
                log.info("%s was disabled: their live streams here end", name)
                self.hub.end_streams_of(name)

    async def poll(self, since: float) -> float:
        """Publishes the events newer than ``since`` (less the overlap) not yet published;
        returns the new ``since``."""
        e, c = events, conversations
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        e.c.id,
                        e.c.kind,
                        e.c.data,
                        e.c.created_at,
                        c.c.reference,
                        c.c.team,
                        c.c.status,
                    )
                    .join(c, c.c.id == e.c.conversation_id)
                    .where(e.c.created_at > since - OVERLAP_SECONDS)
                    .order_by(e.c.id)
                )
            ).all()
        fresh = [r for r in rows if r.id not in self._seen]
        changed: dict[int, LiveEvent] = {}
        alerts: list[LiveEvent] = []
        for r in fresh:
            self._seen[int(r.id)] = float(r.created_at)
            changed[int(r.reference)] = LiveEvent(
                "conversation", r.team, {"reference": int(r.reference), "status": r.status}
            )
            if r.kind in SLA_EVENTS:
                data = dict(r.data or {})
                alerts.append(
                    LiveEvent(
                        "sla",
                        r.team,
                        {
                            "kind": r.kind,
                            "ticket": f"#{int(r.reference)}",
                            "reference": int(r.reference),
                            "target": data.get("target", ""),
                            "due_at": data.get("due_at", 0.0),
                            "at": float(r.created_at),
                        },
                    )
                )
        if changed or alerts:
            self.hub.publish(*changed.values(), *alerts)
        newest = max((float(r.created_at) for r in rows), default=since)
        horizon = newest - 2 * OVERLAP_SECONDS
        self._seen = {k: v for k, v in self._seen.items() if v > horizon}
        return max(since, newest)


class LiveRoutes:
    """``GET /live``: the signed-in person's event stream (text/event-stream)."""

    def __init__(self, hub: LiveHub, auth: WebAuth) -> None:
        self.hub = hub
        self.auth = auth

    def routes(self) -> list[web.AbstractRouteDef]:
        """The stream's route."""
        return [web.get("/live", self.stream)]

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """Streams events until the browser goes away or the server stops."""
        session = await self.auth.session(request)
        if session is None:
            return web.json_response({"error": "sign in first"}, status=401)
        response = event_stream()
        try:
            # Inside: a tab closed while the session was looked up fails the headers.
            await start(response, request)
            async with self.hub.listen(session) as listener:
                await pump(response, listener.queue, _frame)
        except ConnectionError:
            # A closed tab: the next write finds the connection gone. Nothing went wrong.
            log.debug("%s closed a live stream", session.agent.name)
        return response


def _frame(event: LiveEvent) -> tuple[str, dict[str, Any]]:
    return event.kind, {"team": event.team, **event.data}
