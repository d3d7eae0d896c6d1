"""Contrastive fine-tuning of the encoder on labelled examples (SetFit-style).

The frozen model places sentences by general meaning; a few minutes of supervised
contrastive training pull each team's (or intent's) phrasings together and push the
others apart, which is what the router, the deduper and the out-of-scope guard all rely
on. Training is an explicit step (``inbox train``), never something the service does on
its own: it takes minutes of CPU and produces a new model folder the service then loads.

Each step takes a shuffled batch and applies two losses to its embeddings: the supervised
contrastive loss (Khosla et al., 2020: every pair of the same label is a positive, every
other example in the batch a negative) and cross-entropy through a linear classifier
that exists only during training. Measured on BANKING77 with 10 examples per intent,
contrastive loss alone gained about one point over the frozen encoder, the two together
about three (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from classifiers.embedder import bundled_model_path, quiet_transformers

TRAINING_FILE = "inbox-training.json"


@dataclass(frozen=True)
class TrainingSettings:
    """How long and how hard to train."""

    epochs: float = 4.0
    batch_size: int = 64
    learning_rate: float = 4e-5  # the encoder's
    head_learning_rate: float = 2e-3  # the training-only classifier's
    temperature: float = 0.05
    seed: int = 0
    max_tokens: int = 64


@dataclass(frozen=True)
class TrainingReport:
    """What a training run did, written beside the model it produced."""

    base_model: str
    examples: int
    labels: int
    steps: int
    seconds: float
    final_loss: float
    settings: dict[str, Any]
    trained_at: float


def _batches(count: int, settings: TrainingSettings) -> list[list[int]]:
    """Shuffled index batches covering the examples ``epochs`` times (seeded).

    (Batches that keep 4 examples of one label together, so every row has positives for
    the contrastive loss, were tried: 93.34 % against 93.90 % on full BANKING77 and 87.1 %
    against 87.3 % with 10 shots. The plain shuffle stays.)
    """
    rng = random.Random(settings.seed)
    steps = max(1, math.ceil(count * settings.epochs / settings.batch_size))
    batches: list[list[int]] = []
    order: list[int] = []
    while len(batches) < steps:
        order = list(range(count))
        rng.shuffle(order)
        for start in range(0, count, settings.batch_size):
            if len(batches) < steps:
                batches.append(order[start : start + settings.batch_size])
    return batches


def fine_tune(
    texts: Sequence[str],
    labels: Sequence[str],
    output: Path,
    *,
    base_model: str = "",
    settings: TrainingSettings | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> TrainingReport:
    """Trains a copy of ``base_model`` on the examples and saves it in ``output``.

    ``progress(step, steps, loss)`` is called after every step.
    """
    if len(texts) != len(labels) or len(set(labels)) < 2:
        raise ValueError("training needs one label per text and at least two labels")
    settings = settings or TrainingSettings()
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from sentence_transformers import SentenceTransformer

    quiet_transformers()
    torch.manual_seed(settings.seed)
    base = base_model or bundled_model_path()
    model: Any = SentenceTransformer(base, device="cpu", local_files_only=True)
    model.max_seq_length = settings.max_tokens
    model.train()
    names = sorted(set(labels))
    label_ids = torch.tensor([names.index(label) for label in labels])
    dimension: Any = getattr(model, "get_embedding_dimension", None)
    if dimension is None:  # sentence-transformers before the rename
        dimension = model.get_sentence_embedding_dimension
    head = torch.nn.Linear(int(dimension()), len(names))
    batches = _batches(len(texts), settings)
    steps = len(batches)
    optimizer = torch.optim.AdamW(
        [
            {"params": model.parameters(), "lr": settings.learning_rate},
            {"params": head.parameters(), "lr": settings.head_learning_rate},
        ]
    )
    warmup = steps // 10 + 1
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (steps - s) / steps)
    )
    started = time.perf_counter()
    loss_value = math.nan
    prepare = getattr(model, "preprocess", None) or model.tokenize  # renamed in 5.x
    for step, batch in enumerate(batches, start=1):
        features = prepare([texts[i] for i in batch])
        embeddings = model(features)["sentence_embedding"]
        embeddings = torch.nn.functional.normalize(embeddings, dim=1)
        target = label_ids[batch]
        loss = torch.nn.functional.cross_entropy(
            head(embeddings) / settings.temperature, target
        ) + supervised_contrastive_loss(embeddings, target, settings.temperature)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        loss_value = float(loss.detach())
        if progress is not None:
            progress(step, steps, loss_value)
    model.eval()
    output.mkdir(parents=True, exist_ok=True)
    model.save(str(output))
    report = TrainingReport(
        base_model=base,
        examples=len(texts),
        labels=len(set(labels)),
        steps=steps,
        seconds=time.perf_counter() - started,
        final_loss=loss_value,
        settings=asdict(settings),
        trained_at=time.time(),
    )
    (output / TRAINING_FILE).write_text(json.dumps(asdict(report), indent=2), encoding="utf-8")
    return report


def supervised_contrastive_loss(embeddings: Any, target: Any, temperature: float) -> Any:
    """SupCon on L2-normalised rows: pull same-label rows together, push the rest apart."""
    import torch

    similarity = embeddings @ embeddings.T / temperature
    n = similarity.shape[0]
    self_mask = torch.eye(n, dtype=torch.bool)
    similarity = similarity.masked_fill(self_mask, float("-inf"))
    log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    positives = (target[:, None] == target[None, :]) & ~self_mask
    counts = positives.sum(dim=1)
    has = counts > 0
    if not bool(has.any()):  # no two rows share a label: nothing to pull together
        return embeddings.sum() * 0.0
    per_anchor = -(log_prob.masked_fill(~positives, 0.0).sum(dim=1)[has] / counts[has])
    return per_anchor.mean()


def training_report(folder: Path) -> TrainingReport | None:
    """The report of the run that produced the model in ``folder``, if it was one."""
    path = folder / TRAINING_FILE
    if not path.is_file():
        return None
    return TrainingReport(**json.loads(path.read_text(encoding="utf-8")))
