"""The ``inbox`` command: the top parser, built from the command families, and dispatch."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from inbox.config.settings import load_settings
from inbox.errors import ConfigError, InboxError

# Each command's family: the module with its sub-parsers (``add_parsers``) and its
# ``cmd_*`` functions, in the order ``inbox --help`` lists them. Only the family of the
# command given is imported: all of them (the web app, the model tooling) would take
# ``inbox user add`` from about 0.7 s to 1.7 s.
FAMILIES: dict[str, str] = {
    "serve": "inbox.cli.serve",
    "worker": "inbox.cli.serve",
    "migrate": "inbox.cli.serve",
    "user": "inbox.cli.users",
    "agent": "inbox.cli.users",
    "route": "inbox.cli.routing",
    "queue": "inbox.cli.routing",
    "quarantine": "inbox.cli.routing",
    "ledger": "inbox.cli.ledger",
    "outbox": "inbox.cli.outbox",
    "kb": "inbox.cli.kb",
    "eval": "inbox.cli.eval",
    "train": "inbox.cli.train",
    "bench": "inbox.cli.bench",
}
ALL_FAMILIES = tuple(dict.fromkeys(FAMILIES.values()))


def families_for(argv: Sequence[str]) -> tuple[str, ...]:
    """The families ``argv`` needs: its command's; all of them for help, a mistake or
    anything unusual before the command, so that argparse answers as it always did."""
    words = list(argv)
    while words:
        word = words.pop(0)
        if word in FAMILIES:
            return (FAMILIES[word],)
        if word == "--config" and words:
            words.pop(0)
        elif not word.startswith("--config=") and word not in ("-v", "--verbose"):
            break
    return ALL_FAMILIES


def build_parser(families: Sequence[str] = ALL_FAMILIES) -> argparse.ArgumentParser:
    """The command line with the sub-commands of ``families``; the other commands are
    only named (what the usage line and the choices in an error show)."""
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
    for family in ALL_FAMILIES:
        if family in families:
            importlib.import_module(family).add_parsers(sub)
        else:
            for command in (c for c, f in FAMILIES.items() if f == family):
                sub.add_parser(command)
    return parser


def _run(args: argparse.Namespace) -> int:
    """Calls the command, with the settings when it takes them."""
    if hasattr(args, "func_settings"):
        code: int = args.func_settings(load_settings(Path(args.config)), args)
    else:
        code = args.func(args)
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``inbox`` console script."""
    words = sys.argv[1:] if argv is None else argv
    args = build_parser(families_for(words)).parse_args(words)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return _run(args)
    except ConfigError as err:
        print(f"configuration error: {err}", file=sys.stderr)
        return 2
    except InboxError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
