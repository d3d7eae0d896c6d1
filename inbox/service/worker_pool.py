"""Several worker processes from one model load: ``inbox serve --role worker --processes N``.

The parent loads the model once, then forks N children; each child is an independent
worker (its own event loop, store connections and queue consumer) that encodes with the
model it inherited, copy-on-write. A child that dies is replaced at once: a fork, not a
model load, so a crashed or killed worker is back in about a second. The parent does no
work of its own; SIGTERM (or SIGINT) to it stops the children gracefully, each finishing
its batch in hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

from classifiers.embedder import SentenceTransformerEmbedder
from inbox.config.settings import Settings
from inbox.service.model import model_path
from inbox.service.serve import serve_roles

log = logging.getLogger(__name__)
QUICK_DEATH = 2.0  # a child dying sooner than this after its start counts as a crash loop
MAX_PAUSE = 10.0  # the longest wait before replacing a child that keeps crashing
PR_SET_PDEATHSIG = 1


@dataclass
class _Slot:
    index: int
    pid: int = 0
    started: float = 0.0
    quick_deaths: int = 0


@dataclass
class WorkerPool:
    """The parent: forks, watches and replaces the worker children."""

    settings: Settings
    processes: int
    health_port: int | None = None
    slots: list[_Slot] = field(default_factory=list)
    stopping: bool = False
    parent: int = 0

    def run(self) -> int:
        """Loads the model, forks the children and keeps them running until told to stop."""
        embedder = SentenceTransformerEmbedder(
            model_path(self.settings), self.settings.model.batch_size
        )
        log.info(
            "model loaded (%s); starting %d worker processes", embedder.model_id, self.processes
        )
        self.slots = [_Slot(i) for i in range(self.processes)]
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for slot in self.slots:
            self._fork(slot, embedder)
        print(f"inbox worker pool is running: {self.processes} processes", flush=True)
        while any(slot.pid for slot in self.slots):
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:  # a signal: look again
                continue
            ended = next((s for s in self.slots if s.pid == pid), None)
            if ended is None:
                continue
            ended.pid = 0
            if self.stopping:
                continue
            log.warning("worker process %d ended (%s); starting another", pid, _how(status))
            self._pause_if_crash_looping(ended)
            if not self.stopping:
                self._fork(ended, embedder)
        return 0

    def _pause_if_crash_looping(self, slot: _Slot) -> None:
        if time.monotonic() - slot.started < QUICK_DEATH:
            slot.quick_deaths += 1
            pause = min(MAX_PAUSE, 0.5 * 2 ** (slot.quick_deaths - 1))
            log.error("worker process keeps dying at start; waiting %.1f s", pause)
            time.sleep(pause)
        else:
            slot.quick_deaths = 0

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        for slot in self.slots:
            if slot.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signal.SIGTERM)

    def _fork(self, slot: _Slot, embedder: SentenceTransformerEmbedder) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the parent's loop
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _end_with_parent(self.parent)
                threads = max(1, (os.cpu_count() or 1) // self.processes)
                code = _child(self.settings, embedder, self._health_port(slot), threads)
            except BaseException:
                log.exception("worker process failed")
            finally:
                logging.shutdown()
                os._exit(code)
        slot.pid, slot.started = pid, time.monotonic()

    def _health_port(self, slot: _Slot) -> int | None:
        return None if self.health_port is None else self.health_port + slot.index


def _end_with_parent(parent: int) -> None:
    """Has the kernel send this child SIGTERM when the pool's process dies, even by
    SIGKILL, so no worker outlives its pool (Linux; elsewhere the child notices later)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def _child(
    settings: Settings,
    embedder: SentenceTransformerEmbedder,
    health_port: int | None,
    threads: int,
) -> int:
    import torch

    # The processes share the cores: each gets its share of threads, or they fight.
    torch.set_num_threads(threads)
    asyncio.run(serve_roles(settings, ("worker",), health_port, embedder=embedder, quiet=True))
    return 0


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
