"""The worker: claim a batch, embed it in one call, route, triage, persist, then ack.

A message is acknowledged to the queue only after its store transaction commits; a
worker that dies before that leaves its batch to come back after the visibility timeout,
and the store notices what it already has.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import numpy as np
from sqlalchemy.ext.asyncio import AsyncEngine

from classifiers.dedup import Deduper
from classifiers.embedder import Vectors
from inbox.bot_words import Verdict
from inbox.config.settings import Settings
from inbox.errors import InvalidMessage, QueueUnavailable
from inbox.metrics import Metrics
from inbox.models import Envelope, Priority, QueueItem, RoutingDecision, TriageDecision
from inbox.pipeline.answering import AnswerService, Candidate
from inbox.pipeline.ingest.batch import IngestPlan, IngestResult, ingest_batch
from inbox.pipeline.language_routing import LanguageRouting
from inbox.pipeline.routing import RoutingService
from inbox.pipeline.triaging import TriageService
from inbox.queue import Queue
from inbox.queue.base import consumer_name as consumer_name  # re-exported for app.py
from inbox.store.engine import store_unreachable
from inbox.store.locks import serialize
from inbox.store.mail_uids import record_fetched
from inbox.text import embedding_text

log = logging.getLogger(__name__)
T = TypeVar("T")
PROCESSED_TOTAL = ("inbox_messages_processed_total", "counter", "Inbound messages stored.")
PROCESSING_SECONDS = (
    "inbox_processing_seconds",
    "histogram",
    "From a message's arrival to its commit in the store.",
)
QUEUE_DOWN_PAUSE = 1.0  # seconds between tries while the queue's server is unreachable


class Worker:
    """Turns queued envelopes into stored, routed, acknowledged conversations."""

    def __init__(
        self,
        queue: Queue,
        engine: AsyncEngine,
        routing: RoutingService,
        triage: TriageService,
        settings: Settings,
        *,
        deduper: Deduper | None = None,
        name: str | None = None,
        on_committed: Callable[[list[IngestResult]], None] | None = None,
        metrics: Metrics | None = None,
        answers: AnswerService | None = None,
        languages: LanguageRouting | None = None,
    ) -> None:
        self.answers = answers
        self.languages = languages
        self.metrics = metrics or Metrics()
        self.metrics.declare(*PROCESSED_TOTAL)
        self.metrics.declare(*PROCESSING_SECONDS)
        self.queue = queue
        self.engine = engine
        self.routing = routing
        self.triage = triage
        self.settings = settings
        self.deduper = deduper
        self.name = name or consumer_name()
        self.on_committed = on_committed

    async def run(self, stopping: asyncio.Event | None = None) -> None:
        """Processes batches until ``stopping`` is set, always finishing the batch in hand.

        A store transaction is never cancelled half-way: cancelling SQLAlchemy's async
        connections mid-statement can leave them unusable and hang the shutdown.
        """
        stopping = stopping or asyncio.Event()
        while not stopping.is_set():
            limit = self.settings.queue.batch_size
            try:
                items = await _unless_stopping(
                    self.queue.claim(self.name, limit, block=5.0), stopping, default=[]
                )
            except QueueUnavailable as err:
                # Redis restarting, say: nothing was taken; try again in a moment.
                log.warning("%s; trying again in %.0f s", err, QUEUE_DOWN_PAUSE)
                await _unless_stopping(asyncio.sleep(QUEUE_DOWN_PAUSE), stopping, default=None)
                continue
            if not items:
                continue
            linger = self.settings.queue.linger
            if linger > 0 and len(items) < limit:
                # Under load, more is on its way: a few milliseconds for it to arrive buy
                # a bigger batch (one encode call, one transaction) for all of them.
                items += await self.queue.claim(self.name, limit - len(items), block=linger)
            try:
                await self.process(items)
            except Exception:
                # The batch stays claimed and comes back after the visibility timeout.
                log.exception("batch of %d failed; it will be redelivered", len(items))

    async def process(self, items: list[QueueItem]) -> list[IngestResult]:
        """Processes one claimed batch; poison items are retried or dead-lettered."""
        parsed: list[tuple[QueueItem, Envelope]] = []
        for item in items:
            try:
                parsed.append((item, Envelope.from_json(item.payload)))
            except InvalidMessage as err:
                await self._give_back(item, f"invalid message: {err}")
        if not parsed:
            return []
        # Quarantined messages are only kept and commands only answered; everything else
        # is read by the model.
        readable = [env for _, env in parsed if not (env.quarantine or env.is_command)]
        decisions: list[RoutingDecision] = []
        assessed: list[TriageDecision] = []
        vectors: Vectors = np.zeros((0, 0), dtype=np.float32)
        candidates: list[Candidate | None] = [None] * len(readable)
        verdicts: list[Verdict] = [Verdict.OTHER] * len(readable)
        if readable:
            # A reply's subject is its thread's ("Re: ..."): it says nothing of the reply.
            texts = [
                embedding_text("" if env.thread_ids else env.subject, env.routing_text)
                for env in readable
            ]
            vectors = await self.routing.embedder.encode_async(texts)
            await self.routing.catch_up()  # corrections agents made since the last batch
            decisions = self.routing.route_vectors(vectors)
            assessed = self.triage.assess(readable, vectors)
            if self.languages is not None:  # another language: the multilingual router
                detected = [t.language for t in assessed]
                decisions = await self.languages.reroute(texts, decisions, detected)
            if self.answers is not None:
                candidates, verdicts = await self._read_for_bot(readable, vectors, assessed)
        routed = iter(zip(decisions, assessed, vectors, candidates, verdicts, strict=True))
        plans = []
        for item, env in parsed:
            if env.quarantine or env.is_command:
                why = f"quarantined: {env.quarantine}" if env.quarantine else "bot command"
                kept = TriageDecision(Priority.LOW, (why,))
                plans.append(IngestPlan(env, item.reference, None, kept))
                continue
            decision, triage, vector, candidate, verdict = next(routed)
            if triage.spam and env.released:  # an operator read it and released it
                triage = dataclasses.replace(
                    triage, spam="", reasons=(*triage.reasons, "released from quarantine")
                )
            if triage.spam:  # kept for an operator to look at, never answered
                spam = dataclasses.replace(env, quarantine=f"spam: {triage.spam}")
                plans.append(IngestPlan(spam, item.reference, None, triage))
                continue
            decision = self.triage.route_by_language(decision, triage)
            plans.append(
                IngestPlan(env, item.reference, decision, triage, vector, candidate, verdict)
            )
        try:
            results = await self._persist(plans)
            done = [item for item, _ in parsed]
        except Exception as err:
            # One bad message must not hold back the others: isolate it.
            log.warning("batch of %d failed (%s); persisting one by one", len(plans), err)
            results, done = [], []
            for (item, _), plan in zip(parsed, plans, strict=True):
                try:
                    results += await self._persist([plan])
                    done.append(item)
                except Exception as one_err:
                    if store_unreachable(one_err):
                        raise  # not the message's fault: the batch comes back later
                    await self._give_back(item, f"{type(one_err).__name__}: {one_err}")
        if results and self.on_committed is not None:
            self.on_committed(results)
        await self.queue.ack([item.item_id for item in done])
        stamp, stored = time.time(), {item.item_id for item in done}
        for item, env in parsed:
            if item.item_id not in stored:
                continue
            self.metrics.observe(PROCESSING_SECONDS[0], max(0.0, stamp - env.received_at))
        self.metrics.count(PROCESSED_TOTAL[0], len(done))
        return results

    async def _read_for_bot(
        self, readable: list[Envelope], vectors: Vectors, assessed: list[TriageDecision]
    ) -> tuple[list[Candidate | None], list[Verdict]]:
        """Which article would answer each message, and what each says as a reply to a
        bot answer: a small matrix product on the vectors in hand."""
        assert self.answers is not None
        await self.answers.catch_up()  # articles published or retired since the last batch
        texts = [env.routing_text for env in readable]
        languages = [t.language for t in assessed]
        found: list[Candidate | None] = list(self.answers.candidates(texts, vectors, languages))
        return found, self.answers.verdicts(texts, vectors)

    async def _persist(self, plans: list[IngestPlan]) -> list[IngestResult]:
        async with self.engine.begin() as conn:
            # Ingest decides across rows (which customer, which conversation, duplicate
            # or not): one batch at a time per store. The encode, most of the work, is
            # done by then and runs on every worker at once.
            await serialize(conn, "ingest")
            # Each fetched mail's UID, with the message it becomes (inbox ledger --check).
            await record_fetched(conn, [p.envelope for p in plans])
            return await ingest_batch(
                conn,
                plans,
                self.settings,
                self._tier,
                self.deduper,
                self.routing.embedder.model_id,
                self.answers.links if self.answers is not None else None,
            )

    def _tier(self, env: Envelope) -> str:
        return "vip" if self.triage.is_vip(env.address) else "standard"

    async def _give_back(self, item: QueueItem, reason: str) -> None:
        again = await self.queue.retry(item.item_id, reason[:2000])
        if again:
            log.warning("queue item %s will be retried: %s", item.item_id, reason)
        else:
            log.error(
                "queue item %s dead-lettered after %s tries: %s",
                item.item_id,
                item.attempts,
                reason,
            )


async def _unless_stopping(
    waiting: Coroutine[Any, Any, T], stopping: asyncio.Event, default: T
) -> T:
    """Awaits ``waiting`` unless ``stopping`` is set first (then cancels it: only idle
    waits go through here, never a store transaction)."""
    task = asyncio.ensure_future(waiting)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return default
