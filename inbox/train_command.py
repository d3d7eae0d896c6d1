"""``inbox train``: fine-tune the encoder on the teams' examples and agents' corrections.

The model is trained from the configured base (``[model] path``, else the bundled
all-MiniLM-L6-v2) — never from an earlier trained model, so corrections do not compound
drift — and written to ``<data_dir>/model``, which the service loads from its next start.
The old model is replaced only once the new one is complete.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time

from classifiers.tuning import TrainingSettings, fine_tune
from inbox.app import trained_model_folder
from inbox.config import Settings
from inbox.eval_command import progress_bar
from inbox.routing import labelled_examples
from inbox.store.engine import create_engine, migrate


async def _examples(settings: Settings) -> tuple[list[str], list[str]]:
    engine = create_engine(settings.store.url)
    try:
        await migrate(engine)
        examples, _last = await labelled_examples(settings, engine)
    finally:
        await engine.dispose()
    return [e.text for e in examples], [e.team for e in examples]


def run_train(args: argparse.Namespace, settings: Settings) -> int:
    """Trains, then swaps the new model in."""
    texts, labels = asyncio.run(_examples(settings))
    teams = len(set(labels))
    corrections = len(texts) - sum(len(t.examples) for t in settings.teams)
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
