"""``inbox train``: fine-tune the encoder on the teams' examples and agents' corrections,
then let the router learn from the customers' messages nobody labelled.

The model is trained from the configured base (``[model] path``, else the bundled
all-MiniLM-L6-v2) — never from an earlier trained model, so corrections do not compound
drift — and written to ``<data_dir>/model``, which the service loads from its next start.
With the new model, the first message of each of the latest ``--history`` conversations
is routed by a router built on the labelled examples; the ones it is at least
``--history-confidence`` sure of are saved beside the model as examples of that team
(``classifiers/self_training.py``). The old model is replaced only once the new one is
complete.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func as sa_func
from sqlalchemy import select

from classifiers.embedder import SentenceTransformerEmbedder
from classifiers.router import LabelledExample, held_back
from classifiers.self_training import HISTORY_CONFIDENCE, learn_history, save_history
from classifiers.tuning import TrainingSettings, fine_tune
from inbox.cli.eval import progress_bar
from inbox.cli.store_access import open_store
from inbox.config.settings import Settings
from inbox.pipeline.routing import labelled_examples
from inbox.service.model import trained_model_folder
from inbox.store.tables import messages
from inbox.text import embedding_text


async def _examples(settings: Settings, history: int) -> tuple[list[LabelledExample], list[str]]:
    """The labelled examples, and the latest ``history`` unlabelled first messages."""
    async with open_store(settings) as engine:
        examples = await labelled_examples(settings, engine)
        first = (
            select(sa_func.min(messages.c.id).label("id"))
            .where(messages.c.direction == "in", messages.c.author == "customer")
            .group_by(messages.c.conversation_id)
            .subquery()
        )
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(messages.c.subject, messages.c.text)
                    .join(first, messages.c.id == first.c.id)
                    .order_by(messages.c.id.desc())
                    .limit(history)
                )
            ).all()
    labelled = {e.text for e in examples}
    texts = dict.fromkeys(embedding_text(r.subject, r.text) for r in rows)
    return examples, [t for t in texts if t.strip() and t not in labelled]


def _without_contested(
    settings: Settings, examples: list[LabelledExample]
) -> list[LabelledExample]:
    """The examples less the corrections a configured phrase contests and no other
    correction corroborates yet (the router gives them a fraction of a vote; fine-tuning
    would give them a whole one)."""
    if not any(e.correction for e in examples):
        return examples
    base = SentenceTransformerEmbedder(settings.model.path)
    held = held_back(examples, base.encode([e.text for e in examples]))
    if any(held):
        print(
            f"{sum(held)} agents' corrections held back until others agree with them "
            "(a configured phrase of another team says otherwise; see /supervisor/corrections)"
        )
    return [e for e, out in zip(examples, held, strict=True) if not out]


def _learn_history(
    folder: Path, examples: list[LabelledExample], history: list[str], confidence: float
) -> None:
    """Routes the history with the new model and saves what the router is sure of."""
    embedder = SentenceTransformerEmbedder(str(folder))
    learned = learn_history(
        examples,
        embedder.encode([e.text for e in examples]),
        history,
        embedder.encode(history),
        min_confidence=confidence,
    )
    save_history(folder, learned)
    teams = Counter(e.team for e in learned.examples)
    print(
        f"learnt {len(learned)} of {len(history)} unlabelled messages from the history "
        f"(the router was at least {confidence:g} sure): "
        + (", ".join(f"{team} {n}" for team, n in sorted(teams.items())) or "none")
    )
    print(f"the router's temperature, chosen on the labelled examples: {learned.temperature:g}")


def cmd_train(settings: Settings, args: argparse.Namespace) -> int:
    """Fine-tunes the encoder on the teams' examples and agents' corrections, then swaps
    the new model in."""
    examples, history = asyncio.run(_examples(settings, max(0, args.history)))
    examples = _without_contested(settings, examples)
    texts, labels = [e.text for e in examples], [e.team for e in examples]
    teams = len(set(labels))
    corrections = sum(1 for e in examples if e.correction)
    print(
        f"training on {len(texts)} examples for {teams} teams "
        f"({corrections} of them agents' corrections)"
    )
    target = trained_model_folder(settings)
    fresh = target.with_name(target.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    started = time.perf_counter()
    report = fine_tune(
        texts,
        labels,
        fresh,
        base_model=settings.model.path,
        settings=TrainingSettings(epochs=args.epochs, seed=args.seed),
        progress=progress_bar("fine-tuning"),
    )
    if history:
        _learn_history(fresh, examples, history, args.history_confidence)
    elif args.history > 0:
        print("no unlabelled messages in the store yet: the router learns from examples only")
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    elapsed = time.perf_counter() - started
    print(f"trained in {elapsed:.0f} s ({report.steps} steps); the model is in {target}")
    if settings.model.path:
        print(f"note: [model] path is set, so the service keeps loading {settings.model.path};")
        print("      empty it to use the trained model.")
    else:
        print("restart `inbox serve` to use it (`inbox route TEXT` uses it at once).")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``inbox train``."""
    train = sub.add_parser("train", help="fine-tune the encoder on the teams' examples")
    train.add_argument("--epochs", type=float, default=TrainingSettings.epochs)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--history",
        type=int,
        default=10000,
        metavar="N",
        help="learn from the first messages of the latest N conversations (0: none)",
    )
    train.add_argument(
        "--history-confidence",
        type=float,
        default=HISTORY_CONFIDENCE,
        help="how sure the router must be of a history message to learn from it",
    )
    train.set_defaults(func_settings=cmd_train)
