"""The model the service and the commands load: where it is, and loading it offline."""

from __future__ import annotations

import logging
from pathlib import Path

from classifiers.embedder import (
    Embedder,
    ProcessEmbedder,
    SentenceTransformerEmbedder,
    model_id,
)
from classifiers.self_training import LearnedHistory, load_history
from classifiers.tuning import training_report
from inbox.config.settings import Settings

log = logging.getLogger(__name__)


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


def start_process_embedder(settings: Settings) -> ProcessEmbedder:
    """The model in a process of its own (for the service)."""
    embedder = ProcessEmbedder(model_path(settings), settings.model.batch_size)
    embedder.start()
    return embedder
