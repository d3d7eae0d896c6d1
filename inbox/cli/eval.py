"""``inbox eval``: intent accuracy, out-of-scope detection and duplicate detection.

Every figure comes from the product's own parts: the router the worker uses, the
deduper's cosine rule, the encoder as shipped or as ``inbox train`` would fine-tune it
(``--fine-tune``: trained per seed on exactly the examples the router gets).
Results are printed as tables and, with ``--json-out``, written as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.embedder import Embedder, SentenceTransformerEmbedder
from classifiers.evaluation.intents import (
    Labelled,
    SeedResult,
    read_labelled,
    sample_shots,
    score_router,
)
from classifiers.evaluation.out_of_scope import (
    OosResult,
    RouterRules,
    evaluate_oos,
    split_for_oos,
)
from classifiers.evaluation.pairs import PairResult, evaluate_pairs, pair_scores
from classifiers.tuning import TrainingSettings, fine_tune
from inbox.config.settings import RoutingSettings, load_settings
from inbox.models import Envelope
from inbox.pipeline.triaging import TriageService
from inbox.text import embedding_text

Encoders = Callable[[list[Labelled], int], Embedder]

_ROUTING = RoutingSettings()
# The router as the product runs it by default, for the figures "at the default settings".
_DEFAULT_RULES = RouterRules(_ROUTING.threshold, _ROUTING.margin, _ROUTING.min_similarity)


def progress_bar(label: str) -> Callable[[int, int, float], None]:
    """A one-line progress bar on stderr for a training run."""
    started = time.perf_counter()

    def show(step: int, steps: int, loss: float) -> None:
        done = int(30 * step / steps)
        elapsed = time.perf_counter() - started
        left = elapsed / step * (steps - step)
        sys.stderr.write(
            f"\r{label} [{'#' * done}{'.' * (30 - done)}] {step}/{steps} "
            f"loss {loss:.3f}  {elapsed:.0f}s, ~{left:.0f}s left "
        )
        if step == steps:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def encoders(args: argparse.Namespace, workdir: Path) -> Encoders:
    """The encoder for a set of training rows: the shipped model, or fine-tuned on them."""
    cache: dict[str, Embedder] = {}

    def encoder(rows: list[Labelled], seed: int) -> Embedder:
        if not args.fine_tune:
            if "base" not in cache:
                cache["base"] = SentenceTransformerEmbedder()
            return cache["base"]
        folder = workdir / f"model-{seed}-{len(rows)}"
        if str(folder) not in cache:
            settings = TrainingSettings(epochs=args.epochs, seed=seed)
            fine_tune(
                [r.text for r in rows],
                [r.label for r in rows],
                folder,
                settings=settings,
                progress=progress_bar(f"fine-tuning on {len(rows)} examples, seed {seed}"),
            )
            cache[str(folder)] = SentenceTransformerEmbedder(str(folder))
        return cache[str(folder)]

    return encoder


def _encode(embedder: Embedder, rows: list[Labelled]) -> Any:
    return embedder.encode([embedding_text("", r.text) for r in rows])


def unlabelled_history(train: list[Labelled], rows: list[Labelled]) -> list[str]:
    """The train texts not among the labelled rows: what a live inbox would have as
    customers' messages nobody labelled."""
    taken = {r.text for r in rows}
    return [r.text for r in train if r.text not in taken]


def run_oos(
    train: list[Labelled], test: list[Labelled], args: argparse.Namespace, encoder: Encoders
) -> OosResult:
    """Out-of-scope detection with ``--oos-holdout`` labels never seen in training."""
    seed = (args.seed or [0])[0]
    split = split_for_oos(sample_shots(train, args.shots, seed), test, args.oos_holdout, seed)
    embedder = encoder(split.fit, seed)
    return evaluate_oos(
        split,
        _encode(embedder, split.fit),
        _encode(embedder, split.validation),
        _encode(embedder, split.test),
        _DEFAULT_RULES,
    )


def run_pairs(
    train: list[Labelled], test: list[Labelled], args: argparse.Namespace, encoder: Encoders
) -> PairResult:
    """Duplicate detection on paraphrase pairs; the threshold is chosen on train rows the
    encoder was not trained on."""
    seed = (args.seed or [0])[0]
    fitted = sample_shots(train, args.shots, seed)
    embedder = encoder(fitted, seed)
    taken = {r.text for r in fitted} if args.fine_tune else set()
    held = [r for r in train if r.text not in taken]
    validation = pair_scores(held, _encode(embedder, held), seed)
    if not len(validation.positives):
        raise SystemExit(
            "--pairs needs two rows of a label that the encoder was not trained on, to choose "
            "the threshold: with --fine-tune, use --shots K below the rows per label"
        )
    return evaluate_pairs(
        validation,
        pair_scores(test, _encode(embedder, test), seed),
        args.merge_precision,
    )


def run_triage(test: list[Labelled], args: argparse.Namespace) -> dict[str, Any]:
    """How much of this (ordinary) traffic each triage-by-meaning kind flags at the
    configured thresholds: on real customer messages, urgent is rare, spam should be nil."""
    settings = load_settings(Path(args.config))
    embedder = SentenceTransformerEmbedder(settings.model.path)
    triaging = asyncio.run(TriageService.build(settings, embedder))
    vectors = _encode(embedder, test)
    envelopes = [Envelope("eval", str(i), "eval", "", r.text, 0.0) for i, r in enumerate(test)]
    decisions = triaging.assess(envelopes, vectors)
    matches = triaging.meaning.matches(vectors) if triaging.meaning else [{} for _ in test]
    report: dict[str, Any] = {"messages": len(test), "kinds": {}}
    t = settings.triage
    thresholds = {
        "urgent": t.urgent_similarity,
        "negative": t.negative_similarity,
        "spam": t.spam_similarity,
    }
    print(f"triage by meaning on {len(test)} messages (thresholds from {args.config}):")
    for kind, threshold in thresholds.items():
        flagged = [
            (m[kind].similarity, r.text) for m, r in zip(matches, test, strict=True) if kind in m
        ]
        flagged.sort(reverse=True)
        share = len(flagged) / len(test)
        print(f"  {kind:<9} >= {threshold:.2f}: {len(flagged):>5} ({share:.2%})")
        for similarity, text in flagged[:3]:
            print(f"      {similarity:.2f}  {text[:90]}")
        report["kinds"][kind] = {
            "threshold": threshold,
            "flagged": len(flagged),
            "share": share,
            "closest": [[round(sim, 4), text] for sim, text in flagged[:10]],
        }
    languages = Counter(d.language or "undetected" for d in decisions)
    print(f"  languages: {dict(languages.most_common())}")
    report["languages"] = dict(languages)
    return report


def _print_intents(results: list[SeedResult]) -> dict[str, float]:
    print(f"{'seed':>6} {'accuracy':>9} {'macro-F1':>9} {'ECE':>7}")
    for r in results:
        print(f"{r.seed:>6} {r.accuracy:>9.4f} {r.macro_f1:>9.4f} {r.calibration_error:>7.4f}")
    means = {
        "accuracy": float(np.mean([r.accuracy for r in results])),
        "macro_f1": float(np.mean([r.macro_f1 for r in results])),
        "calibration_error": float(np.mean([r.calibration_error for r in results])),
    }
    print(
        f"{'mean':>6} {means['accuracy']:>9.4f} {means['macro_f1']:>9.4f} "
        f"{means['calibration_error']:>7.4f}"
    )
    print("most confused (gold -> predicted, count), first seed:")
    for gold, predicted, count in results[0].confusions:
        print(f"  {gold} -> {predicted}: {count}")
    return means


def cmd_eval(args: argparse.Namespace) -> int:
    """Few-shot evaluation of the router on a labelled CSV."""
    test_path = Path(args.csv)
    train_path = Path(args.train) if args.train else test_path.with_name("train.csv")
    test = read_labelled(test_path, args.text_col, args.label_col)
    train = read_labelled(train_path, args.text_col, args.label_col)
    seeds = args.seed or [0]
    shots = "all" if args.shots <= 0 else str(args.shots)
    labels = len({r.label for r in train})
    encoder_name = f"fine-tuned ({args.epochs:g} epochs)" if args.fine_tune else "as shipped"
    print(f"{test_path}: {len(test)} test rows, {labels} labels, {shots} examples per label")
    print(f"encoder: all-MiniLM-L6-v2 {encoder_name}")
    if args.unlabelled:
        if args.shots <= 0:
            raise SystemExit("--unlabelled needs --shots K: with all rows labelled none is left")
        print("history: the other train rows, unlabelled (the router labels what it is sure of)")
    report: dict[str, Any] = {
        "test": str(test_path),
        "train": str(train_path),
        "shots": args.shots,
        "fine_tune": bool(args.fine_tune),
        "epochs": args.epochs if args.fine_tune else None,
        "unlabelled_history": bool(args.unlabelled),
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="inbox-eval-") as tmp:
        encoder = encoders(args, Path(tmp))
        if not args.skip_intents:
            results = []
            for seed in seeds:
                rows = sample_shots(train, args.shots, seed)
                history = unlabelled_history(train, rows) if args.unlabelled else None
                results.append(score_router(rows, test, encoder(rows, seed), seed, history))
            means = _print_intents(results)
            report["intents"] = {
                **{f"mean_{k}": v for k, v in means.items()},
                "seeds": [
                    {**asdict(r), "confusions": [list(c) for c in r.confusions]} for r in results
                ],
            }
        if args.oos_holdout > 0:
            oos = run_oos(train, test, args, encoder)
            print(
                f"out-of-scope, {args.oos_holdout} labels unseen (threshold {oos.threshold:.3f} "
                "chosen on validation):"
            )
            print(
                f"  in-scope accuracy {oos.in_scope_accuracy:.4f}, out-of-scope recall "
                f"{oos.oos_recall:.4f}, precision {oos.oos_precision:.4f}"
            )
            print(
                f"  at the default [routing] settings: in-scope accuracy "
                f"{oos.default_in_scope_accuracy:.4f}, out-of-scope recall "
                f"{oos.default_oos_recall:.4f}, precision {oos.default_oos_precision:.4f}"
            )
            report["out_of_scope"] = asdict(oos)
        if args.triage:
            report["triage"] = run_triage(test, args)
        if args.pairs:
            pairs = run_pairs(train, test, args, encoder)
            print(
                f"duplicates, {pairs.pairs} test pairs: auto-merge at similarity "
                f">= {pairs.threshold:.3f} (chosen for precision {pairs.target_precision} on "
                "held-out train pairs)"
            )
            print(f"  precision {pairs.precision:.4f}, recall {pairs.recall:.4f}")
            print(
                f"  suggestion band from {pairs.suggest_threshold:.3f}: precision "
                f"{pairs.suggest_precision:.4f}, recall {pairs.suggest_recall:.4f}"
            )
            report["duplicates"] = asdict(pairs)
    elapsed = time.perf_counter() - started
    print(f"({elapsed:.1f} s)")
    report["seconds"] = elapsed
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``inbox eval``."""
    ev = sub.add_parser("eval", help="evaluate the router on a labelled CSV")
    ev.add_argument("csv", help="the test CSV")
    ev.add_argument(
        "--train", help="where examples come from (default: train.csv beside the test CSV)"
    )
    ev.add_argument("--text-col", help="text column (default: text or utterance)")
    ev.add_argument("--label-col", help="label column (default: intent, category or label)")
    ev.add_argument("--shots", type=int, default=10, help="examples per label (0 = all)")
    ev.add_argument("--seed", type=int, action="append", help="sampling seed (repeatable)")
    ev.add_argument("--json-out", help="write the results as JSON here")
    ev.add_argument(
        "--fine-tune",
        action="store_true",
        help="fine-tune the encoder on the examples first, as `inbox train` does",
    )
    ev.add_argument("--epochs", type=float, default=TrainingSettings.epochs)
    ev.add_argument(
        "--unlabelled",
        action="store_true",
        help="with --shots K: the train rows not sampled become unlabelled history, which "
        "the router learns from as `inbox train` makes it learn from the store's messages",
    )
    ev.add_argument(
        "--oos-holdout",
        type=int,
        default=0,
        metavar="N",
        help="also test out-of-scope detection with N labels left out of training",
    )
    ev.add_argument("--pairs", action="store_true", help="also test duplicate detection")
    ev.add_argument(
        "--triage",
        action="store_true",
        help="also show what triage by meaning flags in these (ordinary) messages",
    )
    ev.add_argument(
        "--merge-precision",
        type=float,
        default=0.99,
        help="precision the auto-merge threshold is chosen for (with --pairs)",
    )
    ev.add_argument(
        "--skip-intents", action="store_true", help="only the out-of-scope / pair tests"
    )
    ev.set_defaults(func=cmd_eval)
