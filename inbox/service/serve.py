"""Runs the service in this process until SIGTERM or SIGINT, then exits cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from classifiers.embedder import Embedder
from inbox.config.settings import Settings
from inbox.errors import ConfigError
from inbox.service.app import InboxService
from inbox.service.roles import ROLES

log = logging.getLogger("inbox")


async def serve_roles(
    settings: Settings,
    roles: tuple[str, ...],
    health_port: int | None = None,
    *,
    embedder: Embedder | None = None,
    quiet: bool = False,
) -> None:
    """Runs the service with these roles until SIGTERM or SIGINT."""
    service = InboxService(settings, roles=roles, health_port=health_port, embedder=embedder)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await service.start()
    except OSError as err:
        await service.stop()
        port = settings.web.port if "web" in roles else health_port
        where = f"{settings.web.host}:{port}"
        raise ConfigError(f"web: cannot listen on {where}: {err.strerror or err}") from err
    if "web" in roles and not quiet:
        base = f"http://{settings.web.host}:{service.port}"
        print(
            f"inbox is running: {base}/form (form), {base}/chat (chat), "
            f"{base}/agent (agent desk), {base}/supervisor (dashboard), {base}/api (agent API)"
        )
        program = sys.argv[0] if Path(sys.argv[0]).name == "inbox" else "inbox"
        print(f"create an account with: {program} user add NAME --team TEAM [--role supervisor]")
    if set(roles) != set(ROLES) and not quiet:
        print(f"inbox is running the roles: {', '.join(roles)}")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await service.stop()
        await _cancel_stragglers()


STRAGGLER_TIMEOUT = 10.0


async def _cancel_stragglers() -> None:
    """Cancels what is left once the service stopped (a library's background task, say).
    One that ignores cancellation would hang the exit for ever: it is logged with its
    stack, and the process exits anyway, everything durable being committed by now."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    if not others:
        return
    _done, stuck = await asyncio.wait(others, timeout=STRAGGLER_TIMEOUT)
    if stuck:
        for task in stuck:
            log.error("task %r ignored cancellation at exit: %s", task, task.get_stack())
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)
