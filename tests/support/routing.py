"""The router as the service builds it, for the classifier tests."""

from __future__ import annotations

import asyncio

from classifiers.embedder import SentenceTransformerEmbedder
from classifiers.router import Router
from inbox.config.settings import Settings
from inbox.pipeline.routing import RoutingService


def shipped_router(settings: Settings, embedder: SentenceTransformerEmbedder) -> Router:
    """The router exactly as the service builds it from config.toml."""
    return asyncio.run(RoutingService.build(settings, embedder)).router
