"""Wires the parts into a running service: all of them in one process (the default), or
only some roles, so that several processes on several machines share the work:

- ``web``: the web channels (form, chat) and their answers, the agent desk and API, the
  dashboard, live pages;
- ``connectors``: the email (IMAP) and Telegram intake;
- ``worker``: the queue's consumer: the model, routing, triage, the store;
- ``sender``: the outbox for email and Telegram: answers and alerts;
- ``sla``: the SLA watcher and the incident watcher (one such process is enough; several
  are safe, each alert and incident being claimed in the store).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from classifiers.dedup import Deduper
from classifiers.embedder import Embedder, ProcessEmbedder, model_id
from connectors.base import Connector, WebChannel
from connectors.webchat import WebChatConnector
from connectors.webform import WebFormConnector
from inbox.config.settings import Settings
from inbox.customer_links import CustomerLinks
from inbox.errors import ArticleError, ConfigError
from inbox.metrics import Metrics
from inbox.pipeline.answering import AnswerService
from inbox.pipeline.bot.moves import BotTools
from inbox.pipeline.bot.settle import run_settler
from inbox.pipeline.incidents import IncidentWatcher
from inbox.pipeline.ingest.batch import IngestResult
from inbox.pipeline.language_routing import LanguageRouting
from inbox.pipeline.outbox import OutboxSender
from inbox.pipeline.routing import RoutingService
from inbox.pipeline.triaging import TriageService
from inbox.pipeline.worker import Worker, consumer_name
from inbox.queue import Queue, open_queue
from inbox.service.channels import WEB_CHANNELS, make_connectors
from inbox.service.model import learned_history, model_path, start_process_embedder
from inbox.service.roles import ROLES
from inbox.service.web_role import WebParts, listen, web_app, web_runner
from inbox.sla.unanswered import UnansweredWatcher, unanswered_json
from inbox.sla.watcher import AlertRecipients, SlaAlert, SlaWatcher
from inbox.store.engine import create_engine, highest_reference, migrate
from inbox.store.kb import KnowledgeBase, summary_line
from inbox.store.ledger import LedgerEntry
from inbox.store.outbox_rows import OutboxRows
from inbox.store.sla_clocks import SlaClocks, clocks_for
from inbox.store.staffing import unstaffed_teams
from inbox.store.statistics import keep_statistics
from inbox.web.health import HealthRoutes, register_gauges, serve_health
from inbox.web.ledger_watch import LedgerWatch
from inbox.web.live import ChangeFeed, LiveEvent, LiveHub, StoreFeed

log = logging.getLogger(__name__)
WORKER_LOOPS = 2  # one encodes while the other persists
STOP_TIMEOUT = 30.0


async def _import_knowledge_base(engine: AsyncEngine, folder: Path) -> None:
    """Imports the configured articles (unchanged ones write nothing). All or nothing: a
    bad article is logged with its file and fault, and the service starts on the articles
    stored before, so one typo neither stops the service nor half-updates its answers."""
    try:
        summary = await KnowledgeBase(engine).import_folder(folder)
    except ArticleError as err:
        log.error("kb: nothing imported from %s (the stored articles stay in use): %s", folder, err)
        return
    log.info("%s, from %s", summary_line(summary), folder)


async def _warn_unstaffed(engine: AsyncEngine, settings: Settings) -> None:
    """Says loudly which configured teams nobody works: their conversations, the fallback
    team's unsure and foreign-language ones included, are seen by no one."""
    for u in await unstaffed_teams(engine, [t.name for t in settings.all_teams]):
        fallback = " (the fallback team: unsure and unknown-language messages)"
        log.warning(
            "team %r has nobody in it%s: its %d open conversations are seen by no one; "
            "add someone: inbox user add NAME --team %s",
            u.team,
            fallback if u.team == settings.routing.fallback_team else "",
            u.open_conversations,
            u.team,
        )


class InboxService:
    """The product in one process (``inbox serve``), or only some of its roles."""

    def __init__(
        self,
        settings: Settings,
        *,
        roles: Iterable[str] = ROLES,
        embedder: Embedder | None = None,
        health_port: int | None = None,
    ) -> None:
        self.settings = settings
        self.roles = frozenset(roles)
        unknown = self.roles - set(ROLES)
        if unknown or not self.roles:
            raise ConfigError(
                f"roles: {', '.join(sorted(unknown)) or 'none given'}; "
                f"choose from {', '.join(ROLES)}"
            )
        self.health_port = health_port
        self._embedder = embedder
        self._tasks: list[asyncio.Task[Any]] = []
        self._runner: web.AppRunner | None = None
        self._health_runner: web.AppRunner | None = None
        self.engine: AsyncEngine | None = None
        self.queue: Queue | None = None
        self.outbox_wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.port: int | None = None
        self._own_embedder: ProcessEmbedder | None = None
        self.connectors: list[Connector] = []
        self.incidents: IncidentWatcher | None = None
        self.sla: SlaWatcher | None = None
        self.unanswered: UnansweredWatcher | None = None
        self.metrics = Metrics()
        self.live = LiveHub()
        # The customer's signed links (rating, article, the bot's yes/no), shared by the
        # workers and the web app: its address is fixed once the port is bound.
        self.links = CustomerLinks(settings.secret, settings.web.public_url)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._task_ended)
        self._tasks.append(task)

    @staticmethod
    def _task_ended(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s stopped: %r", task.get_name(), task.exception())

    async def start(self) -> None:
        """Migrates the store, opens the queue, loads the model where a worker runs, and
        starts the parts of this process's roles."""
        s, roles = self.settings, self.roles
        self.engine = engine = create_engine(s.store.url)
        await migrate(engine)
        if s.kb.path is not None and roles & {"web", "sla"}:
            # Not in a process of workers only (a pool restarts those often): they read the
            # articles from the store.
            await _import_knowledge_base(engine, s.kb.path)
        if roles & {"web", "sla"}:
            await _warn_unstaffed(engine, s)
        if roles & {"web", "connectors", "worker"}:
            self.queue = await open_queue(s.queue)
            await self.queue.reserve_references_above(await highest_reference(engine))
        self.ledger = LedgerWatch(engine, self.queue, s.ledger)
        register_gauges(self.metrics, engine, self.queue, self.ledger)
        changes = ChangeFeed(engine, self.live)
        clocks = clocks_for(s)
        sla = self._start_watchers(engine, clocks) if "sla" in roles else None
        self.connectors = connectors = make_connectors(s, roles, engine, self.metrics)
        if "worker" in roles:
            await self._start_workers(engine, changes, sla)
        if "connectors" in roles:
            assert self.queue is not None
            for connector in connectors:
                if not isinstance(connector, WEB_CHANNELS):
                    self._spawn(connector.run(self.queue), f"connector-{connector.name}")
        self._start_sender(engine, connectors)
        if "web" in roles:
            await self._start_web(engine, changes, clocks, sla, connectors)
        elif self.health_port is not None:
            self._health_runner = await serve_health(
                HealthRoutes(engine, self.queue, self.metrics, sorted(roles)),
                s.web.host,
                self.health_port,
            )

    def _start_sender(self, engine: AsyncEngine, connectors: list[Connector]) -> None:
        # Answers on the web channels go out from the web role, where the chat's sockets
        # are; every other channel from the sender role.
        roles = self.roles
        sends = [
            c for c in connectors if ("web" if isinstance(c, WEB_CHANNELS) else "sender") in roles
        ]
        if not sends:
            return
        sender = OutboxSender(
            OutboxRows(engine, self.settings.texts),
            {c.name: c for c in sends},
            self.settings.outbox,
            self.outbox_wake,
            metrics=self.metrics,
            repeat_safe=[c.name for c in sends if isinstance(c, WEB_CHANNELS)],
        )
        self._spawn(sender.run(self.stopping), "outbox-sender")

    def _start_watchers(self, engine: AsyncEngine, clocks: SlaClocks) -> SlaWatcher:
        s = self.settings
        if s.incidents.enabled:
            model = self._embedder.model_id if self._embedder else model_id(model_path(s))
            self.incidents = IncidentWatcher(engine, s.incidents, model)
            self._spawn(self.incidents.run(self.stopping), "incident-watcher")

        def alerted(alerts: list[SlaAlert]) -> None:
            self.live.publish(*(LiveEvent("sla", a.team, a.to_json()) for a in alerts))
            self.outbox_wake.set()  # alerts to email and Telegram recipients

        to = [(s.email[0].name, a) for a in s.alerts.email] if s.email else []
        if s.telegram is not None:
            to += [(s.telegram.name, chat) for chat in s.alerts.telegram]
        recipients = AlertRecipients(tuple(to), s.alerts.kinds, s.web.public_url)
        self.sla = SlaWatcher(engine, clocks, on_alert=alerted, recipients=recipients)
        self._spawn(self.sla.run(self.stopping), "sla-watcher")

        def unanswered(entries: list[LedgerEntry]) -> None:
            self.live.publish(*(LiveEvent("sla", e.team, unanswered_json(e)) for e in entries))
            self.outbox_wake.set()

        self.unanswered = UnansweredWatcher(
            engine, self.queue, s.ledger, recipients=recipients, on_alert=unanswered
        )
        self._spawn(self.unanswered.run(self.stopping), "unanswered-watcher")
        tools = BotTools(s, clocks, self.links)
        self._spawn(run_settler(engine, tools, self.stopping), "bot-settler")
        self._spawn(keep_statistics(engine, self.stopping), "store-statistics")
        return self.sla

    async def _start_workers(
        self, engine: AsyncEngine, changes: ChangeFeed, sla: SlaWatcher | None
    ) -> None:
        s = self.settings
        assert self.queue is not None
        embedder: Embedder
        if self._embedder is not None:
            embedder = self._embedder
        else:
            self._own_embedder = await asyncio.to_thread(start_process_embedder, s)
            embedder = self._own_embedder
        log.info("model: %s", embedder.model_id)
        history = await asyncio.to_thread(learned_history, s, embedder)
        routing = await RoutingService.build(s, embedder, engine, history)
        languages = await LanguageRouting.build(s, engine)
        triage = await TriageService.build(s, embedder)
        answers = await AnswerService.build(s.kb, embedder, engine, self.links, s.texts)
        deduper = Deduper(s.dedup.auto_merge, s.dedup.suggest)
        watcher = self.incidents
        # A form's receipt page waits for its message to be stored by a worker here.
        forms = [c for c in self.connectors if isinstance(c, WebFormConnector)]

        def committed(results: list[IngestResult]) -> None:
            changes.changed(ids=[r.conversation_id for r in results if r.conversation_id])
            self.outbox_wake.set()
            for form in forms:
                form.store_committed()
            if sla is not None:
                sla.wake.set()
            if watcher is not None:
                watcher.wake.set()

        for i in range(WORKER_LOOPS):
            worker = Worker(
                self.queue,
                engine,
                routing,
                triage,
                s,
                deduper=deduper,
                name=consumer_name(f":{i}"),
                on_committed=committed,
                metrics=self.metrics,
                answers=answers,
                languages=languages,
            )
            self._spawn(worker.run(self.stopping), f"worker-{i}")

    async def _start_web(
        self,
        engine: AsyncEngine,
        changes: ChangeFeed,
        clocks: SlaClocks,
        sla: SlaWatcher | None,
        connectors: list[Connector],
    ) -> None:
        s = self.settings
        assert self.queue is not None
        channels: list[WebChannel] = [c for c in connectors if isinstance(c, WEB_CHANNELS)]
        for channel in channels:
            self._spawn(channel.run(self.queue), f"connector-{channel.name}")
        if self.roles != set(ROLES):
            # Workers, watchers or other web processes change what pages show, and
            # another web process may send a chat answer to a socket held here.
            self._spawn(StoreFeed(engine, self.live).run(self.stopping), "store-feed")
            for channel in channels:
                if isinstance(channel, WebChatConnector):
                    self._spawn(channel.follow(self.stopping), "chat-follow")
        for channel in channels:
            if isinstance(channel, WebFormConnector):
                # Open ticket pages hear of answers once the store has them as sent.
                self._spawn(channel.follow(self.stopping), "form-follow")
        rating = self.links
        parts = WebParts(
            engine,
            self.queue,
            self.metrics,
            self.live,
            changes,
            clocks,
            tuple(channels),
            tuple(sorted(self.roles)),
            on_reply=self.outbox_wake.set,
            ledger=self.ledger,
        )
        self._runner = web_runner(web_app(s, parts, rating), s.web)
        self.port = await listen(self._runner, s.web)
        if self.port != s.web.port and s.web.public_url.endswith(f":{s.web.port}"):
            # Port 0 (any free port): links in messages point at the port really bound.
            public = s.web.public_url.rsplit(":", 1)[0] + f":{self.port}"
            rating.public_url = public
            if sla is not None:
                sla.recipients = replace(sla.recipients, public_url=public)

    async def stop(self) -> None:
        """Stops the web server first (no new intake), then everything else."""
        if self._runner is not None:
            log.info("stopping: web server")
            await self._runner.cleanup()
            self._runner = None
        if self._health_runner is not None:
            await self._health_runner.cleanup()
            self._health_runner = None
        log.info("stopping: connectors, workers, outbox sender")
        # Workers and the sender finish what they hold and stop; connectors only wait,
        # so cancelling them is safe. Cancelling is the last resort for anything stuck.
        self.stopping.set()
        for task in self._tasks:
            if task.get_name().startswith("connector-"):
                task.cancel()
        if self._tasks:
            _done, stuck = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT)
            for task in stuck:
                name, stack = task.get_name(), task.get_stack()
                log.error("task %s did not stop within %ss: %s", name, STOP_TIMEOUT, stack)
                task.cancel()
        self._tasks.clear()
        for connector in self.connectors:  # the sender is done: nothing sends any more
            try:
                await asyncio.wait_for(connector.close(), STOP_TIMEOUT)
            except Exception as err:
                log.error("connector %s did not close cleanly: %r", connector.name, err)
        self.connectors = []
        if self.queue is not None:
            try:
                await asyncio.wait_for(self.queue.close(), STOP_TIMEOUT)
            except TimeoutError:
                log.error("the queue did not close within %ss", STOP_TIMEOUT)
            self.queue = None
        if self.engine is not None:
            try:
                await asyncio.wait_for(self.engine.dispose(), STOP_TIMEOUT)
            except TimeoutError:
                log.error("the store's connections did not close within %ss", STOP_TIMEOUT)
            self.engine = None
        if self._own_embedder is not None:
            log.info("stopping: encoder process")
            await asyncio.to_thread(self._own_embedder.close)
            self._own_embedder = None
        log.info("stopped")

    async def __aenter__(self) -> InboxService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
