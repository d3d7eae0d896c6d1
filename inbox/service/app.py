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
from classifiers.embedder import (
    Embedder,
    ProcessEmbedder,
    SentenceTransformerEmbedder,
    model_id,
)
from classifiers.self_training import LearnedHistory, load_history
from classifiers.tuning import training_report
from connectors.base import Connector, WebChannel
from connectors.mail.channel import EmailConnector
from connectors.telegram.channel import TelegramConnector
from connectors.webchat import WebChatConnector
from connectors.webform import WebFormConnector
from inbox.config.settings import Settings
from inbox.errors import ConfigError
from inbox.metrics import Metrics
from inbox.pipeline.incidents import IncidentWatcher
from inbox.pipeline.ingest.batch import IngestResult
from inbox.pipeline.outbox import OutboxSender
from inbox.pipeline.routing import RoutingService
from inbox.pipeline.triaging import TriageService
from inbox.pipeline.worker import Worker, consumer_name
from inbox.queue import Queue, open_queue
from inbox.service.roles import ROLES
from inbox.sla.watcher import AlertRecipients, SlaAlert, SlaWatcher
from inbox.store.accounts import Accounts
from inbox.store.desk import Desk
from inbox.store.engine import create_engine, highest_reference, migrate
from inbox.store.links import StoreFormAddresses
from inbox.store.outbox_rows import OutboxRows
from inbox.store.sla_clocks import SlaClocks, clocks_for
from inbox.store.transcripts import StoreTranscripts
from inbox.web.agent_api import AgentApi
from inbox.web.app import build_web_app
from inbox.web.auth import WebAuth
from inbox.web.csat import CsatLinks, CsatRoutes
from inbox.web.desk import DeskPages
from inbox.web.health import HealthRoutes, register_gauges, serve_health
from inbox.web.live import ChangeFeed, LiveEvent, LiveHub, LiveRoutes, StoreFeed
from inbox.web.supervisor import SupervisorPages

log = logging.getLogger(__name__)
WORKER_LOOPS = 2  # one encodes while the other persists
WEB_CHANNELS = (WebFormConnector, WebChatConnector)  # served by the web role
STOP_TIMEOUT = 30.0


def trained_model_folder(settings: Settings) -> Path:
    """Where ``inbox train`` puts the model it makes."""
    return settings.data_dir / "model"


def model_path(settings: Settings) -> str:
    """The configured model; else the one ``inbox train`` made; else the bundled one."""
    if settings.model.path:
        return settings.model.path
    trained = trained_model_folder(settings)
    return str(trained) if training_report(trained) is not None else ""


def learned_history(settings: Settings, embedder: Embedder) -> LearnedHistory | None:
    """What ``inbox train`` learnt from unlabelled history, when ``embedder`` is the model
    it was learnt with (vectors of two models never mix)."""
    path = model_path(settings)
    if not path or embedder.model_id != model_id(path):
        return None
    history = load_history(Path(path))
    if history is not None:
        log.info("router: %d examples learnt from history", len(history))
    return history


def load_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """The model, loaded offline in this process (for commands)."""
    return SentenceTransformerEmbedder(model_path(settings), settings.model.batch_size)


def reply_channels(settings: Settings) -> dict[str, str]:
    """Which connector reaches a customer identity of each kind: email addresses through
    the first mailbox, Telegram chats through the bot, chat sessions through the chat."""
    found: dict[str, str] = {}
    if settings.email:
        found["email"] = settings.email[0].name
    if settings.telegram is not None:
        found["telegram"] = settings.telegram.name
    if settings.chat.enabled:
        found["webchat"] = "webchat"
    return found


def start_process_embedder(settings: Settings) -> ProcessEmbedder:
    """The model in a process of its own (for the service)."""
    embedder = ProcessEmbedder(model_path(settings), settings.model.batch_size)
    embedder.start()
    return embedder


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
        self.metrics = Metrics()
        self.live = LiveHub()

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
        if roles & {"web", "connectors", "worker"}:
            self.queue = await open_queue(s.queue)
            await self.queue.reserve_references_above(await highest_reference(engine))
        register_gauges(self.metrics, engine, self.queue)
        changes = ChangeFeed(engine, self.live)
        clocks = clocks_for(s)
        sla = self._start_watchers(engine, clocks) if "sla" in roles else None
        if "worker" in roles:
            await self._start_workers(engine, changes, sla)
        connectors = self._make_connectors(engine)
        if "connectors" in roles:
            assert self.queue is not None
            for connector in connectors:
                if not isinstance(connector, WEB_CHANNELS):
                    self._spawn(connector.run(self.queue), f"connector-{connector.name}")
        # Answers on the web channels go out from the web role, where the chat's sockets
        # are; every other channel from the sender role.
        sends = [
            c for c in connectors if ("web" if isinstance(c, WEB_CHANNELS) else "sender") in roles
        ]
        if sends:
            sender = OutboxSender(
                OutboxRows(engine),
                {c.name: c for c in sends},
                s.outbox,
                self.outbox_wake,
                metrics=self.metrics,
                repeat_safe=[c.name for c in sends if isinstance(c, WEB_CHANNELS)],
            )
            self._spawn(sender.run(self.stopping), "outbox-sender")
        if "web" in roles:
            await self._start_web(engine, changes, clocks, sla, connectors)
        elif self.health_port is not None:
            self._health_runner = await serve_health(
                HealthRoutes(engine, self.queue, self.metrics, sorted(roles)),
                s.web.host,
                self.health_port,
            )

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
        triage = await TriageService.build(s, embedder)
        deduper = Deduper(s.dedup.auto_merge, s.dedup.suggest)
        watcher = self.incidents

        def committed(results: list[IngestResult]) -> None:
            changes.changed(ids=[r.conversation_id for r in results if r.conversation_id])
            self.outbox_wake.set()
            for connector in self.connectors:
                if isinstance(connector, WebFormConnector):
                    connector.store_committed()
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
            )
            self._spawn(worker.run(self.stopping), f"worker-{i}")

    def _make_connectors(self, engine: AsyncEngine) -> list[Connector]:
        """The channels this process's roles use: intake (connectors, web) or sending."""
        s, roles = self.settings, self.roles
        if not roles & {"web", "connectors", "sender"}:
            return []
        transcripts = StoreTranscripts(engine)
        connectors: list[Connector] = []
        if s.form.enabled:
            secure = s.web.public_url.startswith("https://")
            connectors.append(
                WebFormConnector(
                    s.form,
                    s.secret,
                    transcripts,
                    secure_cookies=secure,
                    addresses=StoreFormAddresses(engine),
                )
            )
        if s.chat.enabled:
            connectors.append(WebChatConnector(s.chat, s.secret, transcripts))
        connectors += [EmailConnector(box, s.secret) for box in s.email]
        if s.telegram is not None:
            connectors.append(TelegramConnector(s.telegram, self.metrics))
        self.connectors = connectors
        return connectors

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
        live = self.live
        channels: list[WebChannel] = [c for c in connectors if isinstance(c, WEB_CHANNELS)]
        for channel in channels:
            self._spawn(channel.run(self.queue), f"connector-{channel.name}")
        if self.roles != set(ROLES):
            # Workers, watchers or other web processes change what pages show, and
            # another web process may send a chat answer to a socket held here.
            self._spawn(StoreFeed(engine, live).run(self.stopping), "store-feed")
            for channel in channels:
                if isinstance(channel, WebChatConnector):
                    self._spawn(channel.follow(self.stopping), "chat-follow")
        accounts = Accounts(engine)
        rating = CsatLinks(s.secret, s.web.public_url)
        web_auth = WebAuth(
            accounts, secure_cookies=s.web.public_url.startswith("https://"), secret=s.secret
        )
        desk = Desk(
            engine,
            {t.name for t in s.all_teams},
            s.routing.fallback_team,
            clocks=clocks,
            rating_request=rating.request_text if s.csat else None,
            reply_channels=reply_channels(s),
        )
        team_names = [(t.name, t.display_name) for t in s.all_teams]
        api = AgentApi(
            accounts,
            desk,
            on_reply=self.outbox_wake.set,
            web_auth=web_auth,
            teams=team_names,
            canned=s.canned,
            on_change=lambda reference: changes.changed(references=[reference]),
        )
        health = HealthRoutes(engine, self.queue, self.metrics, sorted(self.roles))
        more_routes = [
            *DeskPages(desk, web_auth, teams=team_names, canned=s.canned).routes(),
            *CsatRoutes(engine, rating).routes(),
            *LiveRoutes(live, web_auth).routes(),
            *SupervisorPages(engine, web_auth).routes(),
            *health.routes(),
        ]
        app = build_web_app(
            [*(r for c in channels for r in c.routes()), *more_routes],
            api,
            web_auth,
            max_request_bytes=s.web.max_request_bytes,
            read_timeout=s.web.read_timeout,
            https=s.web.public_url.startswith("https://"),
        )

        async def close_connections(_app: web.Application) -> None:
            # Runs once the server stopped accepting, before it waits for open requests:
            # a chat socket would otherwise hold the shutdown until aiohttp gives up.
            live.close()
            for channel in channels:
                await channel.close_connections()

        app.on_shutdown.append(close_connections)
        # aiohttp's keep-alive timer also runs from a connection's start until a request's
        # headers are in: the limit on slow headers (the body has its own, in web.py).
        # Lingering (reading an unread body before closing) would give a client cut off
        # for a slow body 10 s more.
        self._runner = web.AppRunner(
            app,
            access_log=None,
            keepalive_timeout=s.web.read_timeout,
            lingering_time=min(10.0, s.web.read_timeout),
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, s.web.host, s.web.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else s.web.port
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
