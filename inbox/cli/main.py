"""The ``inbox`` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path

from classifiers.self_training import HISTORY_CONFIDENCE
from classifiers.tuning import TrainingSettings
from inbox.cli.users import add_parsers as add_user_parsers
from inbox.config.settings import Settings, load_settings
from inbox.errors import ConfigError, InboxError
from inbox.service.roles import ROLES
from inbox.service.serve import serve_roles
from inbox.service.worker_pool import WorkerPool

log = logging.getLogger("inbox")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(Path(args.config))


def _quiet_blas() -> None:
    """One BLAS thread in the service process: its matrices are tiny, and idle BLAS
    threads spin on the cores the encoder process needs. Set before numpy loads."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _env_port(name: str) -> int | None:
    """A port number from the environment variable ``name``, if it is set."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or not 0 <= int(value) < 65536:
        raise ConfigError(f"{name}: '{value}' is not a port number")
    return int(value)


def _roles(values: list[str] | None) -> tuple[str, ...]:
    """``--role web --role worker`` or ``--role web,worker``; all roles when not given."""
    if not values:
        return ROLES
    roles = [r.strip() for value in values for r in value.split(",") if r.strip()]
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ConfigError(f"--role: {', '.join(unknown)}; choose from {', '.join(ROLES)}")
    return tuple(dict.fromkeys(roles))


def cmd_serve(args: argparse.Namespace) -> int:
    """Runs the service: every role in one process, or the roles given with ``--role``."""
    _quiet_blas()
    settings = _settings(args)
    if args.port is not None or args.host is not None:
        from dataclasses import replace

        web = replace(
            settings.web,
            port=settings.web.port if args.port is None else args.port,
            host=settings.web.host if args.host is None else args.host,
        )
        settings = replace(settings, web=web)
    roles = _roles(args.role)
    if args.processes > 1:
        if roles != ("worker",):
            raise ConfigError(
                "--processes: only with --role worker (the other roles scale by "
                "running more of them)"
            )
        return WorkerPool(settings, args.processes, args.health_port).run()
    asyncio.run(serve_roles(settings, roles, args.health_port))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Runs only the worker role (the same as ``inbox serve --role worker``)."""
    _quiet_blas()
    asyncio.run(serve_roles(_settings(args), ("worker",), args.health_port))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Brings the store's schema up to date."""
    from inbox.store.engine import create_engine, migrate

    async def run() -> None:
        engine = create_engine(_settings(args).store.url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print("store schema is up to date")
    return 0


def cmd_with_settings(args: argparse.Namespace) -> int:
    """Commands that take the settings and their arguments (``inbox user ...``)."""
    result: int = args.func_settings(_settings(args), args)
    return result


def cmd_route(args: argparse.Namespace) -> int:
    """Routes one text with the configured examples and prints the evidence."""
    from inbox.models import Envelope
    from inbox.pipeline.routing import RoutingService
    from inbox.pipeline.triaging import TriageService
    from inbox.service.app import learned_history, load_embedder
    from inbox.text import embedding_text

    settings = _settings(args)

    async def run() -> None:
        from inbox.store.engine import create_engine, migrate

        engine = create_engine(settings.store.url)
        try:
            await migrate(engine)
            # The live router: config examples plus every correction agents made.
            embedder = load_embedder(settings)
            history = learned_history(settings, embedder)
            routing = await RoutingService.build(settings, embedder, engine, history)
        finally:
            await engine.dispose()
        triaging = await TriageService.build(settings, routing.embedder)
        vectors = await routing.embedder.encode_async([embedding_text("", args.text)])
        (decision,) = routing.route_vectors(vectors)
        env = Envelope("cli", "route", "cli", "", args.text, time.time())
        (triage,) = triaging.assess([env], vectors)
        decision = triaging.route_by_language(decision, triage)
        result = {
            **decision.evidence(),
            "priority": triage.priority.name.lower(),
            "triage_reasons": list(triage.reasons),
            "language": triage.language,
            "spam": triage.spam,
            "examples": dict(
                zip(("labelled", "learnt"), routing.router.example_counts, strict=True)
            ),
        }
        if args.json:
            print(json.dumps(result, indent=2))
            return
        verdict = f" (abstained: {decision.abstain_reason})" if decision.abstained else ""
        print(f"team: {decision.team}{verdict}")
        print(f"confidence: {decision.confidence:.3f} (threshold {decision.threshold})")
        print(f"priority: {result['priority']}" + "".join(f"; {r}" for r in triage.reasons))
        print(f"language: {triage.language or 'not detected'}")
        print("nearest examples:")
        for n in decision.nearest:
            print(f"  {n.score:.3f}  {n.team:<12} {n.text}")
        if triage.spam:
            print("spam: it would be quarantined, not answered")
        labelled, learnt = routing.router.example_counts
        print(f"router: {labelled} labelled examples, {learnt} learnt from history")

    asyncio.run(run())
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    """Shows what waits in the queue and what was dead-lettered, with reasons."""
    from inbox.queue import open_queue

    async def run() -> None:
        queue = await open_queue(_settings(args).queue)
        try:
            print(f"pending: {await queue.pending()}")
            dead = await queue.dead_letters(args.limit)
            print(f"dead letters: {len(dead)}")
            for d in dead:
                print(f"  item {d.item_id} after {d.attempts} tries: {d.reason}")
        finally:
            await queue.close()

    asyncio.run(run())
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    """Lists messages that could not become tickets, or writes one's original bytes."""
    from inbox.store.engine import create_engine, migrate
    from inbox.store.files import Quarantine

    async def run() -> int:
        engine = create_engine(_settings(args).store.url)
        try:
            await migrate(engine)
            kept = Quarantine(engine)
            if args.raw is not None:
                sys.stdout.buffer.write(await kept.original(args.raw))
                sys.stdout.buffer.flush()
                return 0
            entries = await kept.entries(args.limit)
            print(f"quarantined: {len(entries)} shown (newest first)")
            for e in entries:
                when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(e.received_at))
                print(f"  {e.entry_id}  {when}Z  {e.channel}  {e.size} bytes  from {e.sender!r}")
                print(f"      subject: {e.subject!r}")
                print(f"      reason:  {e.reason}")
            if entries:
                print("the original of entry N (an email, or the text): inbox quarantine --raw N")
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(run())


def cmd_eval(args: argparse.Namespace) -> int:
    """Few-shot evaluation of the router on a labelled CSV."""
    from inbox.cli.eval import run_eval

    return run_eval(args)


def cmd_train(args: argparse.Namespace) -> int:
    """Fine-tunes the encoder on the teams' examples and agents' corrections."""
    from inbox.cli.train import run_train

    return run_train(args, _settings(args))


def cmd_bench(args: argparse.Namespace) -> int:
    """End-to-end benchmark through the real HTTP endpoint."""
    from inbox.cli.bench import run_bench

    return run_bench(args)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="inbox",
        description="A conversational omnichannel inbox: web form, web chat, one queue, "
        "routed by an embedding classifier, answered by agents.",
    )
    parser.add_argument(
        "--config",
        default=os.environ.get("INBOX_CONFIG", "config.toml"),
        help="configuration file (default: $INBOX_CONFIG or ./config.toml)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run everything in one process")
    serve.add_argument("--port", type=int, help="override web.port")
    serve.add_argument("--host", help="override web.host (0.0.0.0 in a container)")
    serve.add_argument(
        "--role",
        action="append",
        help=f"run only these roles ({', '.join(ROLES)}); repeat or comma-separate; "
        "default: all of them",
    )
    serve.add_argument(
        "--processes",
        type=int,
        default=1,
        help="with --role worker: this many worker processes sharing one model load",
    )
    serve.add_argument(
        "--health-port",
        type=int,
        default=_env_port("INBOX_HEALTH_PORT"),
        help="serve /health and /metrics on this port (roles without web; "
        "default: $INBOX_HEALTH_PORT)",
    )
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="run only the worker (serve --role worker)")
    worker.add_argument("--health-port", type=int, default=_env_port("INBOX_HEALTH_PORT"))
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="upgrade the store schema").set_defaults(func=cmd_migrate)

    add_user_parsers(sub)

    route = sub.add_parser("route", help="route a text and show why")
    route.add_argument("text")
    route.add_argument("--json", action="store_true")
    route.set_defaults(func=cmd_route)

    queue = sub.add_parser("queue", help="queue depth and dead letters")
    queue.add_argument("--limit", type=int, default=20)
    queue.set_defaults(func=cmd_queue)

    kept = sub.add_parser("quarantine", help="messages that could not become tickets")
    kept.add_argument("--limit", type=int, default=50)
    kept.add_argument("--raw", type=int, metavar="N", help="write entry N's original to stdout")
    kept.set_defaults(func=cmd_quarantine)

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
    train.set_defaults(func=cmd_train)

    bench = sub.add_parser("bench", help="end-to-end throughput and latency")
    bench.add_argument("--messages", "-n", type=int, default=2000)
    bench.add_argument(
        "--texts", default="../shared/data/bitext-customer-service/test.csv", help="CSV of texts"
    )
    bench.add_argument("--concurrency", type=int, default=64)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``inbox`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        func = cmd_with_settings if hasattr(args, "func_settings") else args.func
        code: int = func(args)
    except ConfigError as err:
        print(f"configuration error: {err}", file=sys.stderr)
        return 2
    except InboxError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
