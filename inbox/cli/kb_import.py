"""``inbox kb import [PATH]``: the knowledge base's articles from a folder into the store.

Idempotent: an unchanged article writes nothing, an edited one becomes a new version.
All or nothing: one bad article and nothing is imported (exit 2, naming the file and the
fault).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from inbox.cli.store_access import open_store
from inbox.config.settings import Settings
from inbox.errors import ArticleError
from inbox.store.kb import ImportSummary, KnowledgeBase, summary_line


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    """Imports the articles in PATH (default: ``[kb] path``) and says what changed."""
    folder: Path | None = args.path or settings.kb.path
    if folder is None:
        print("kb import: no PATH given and no [kb] path configured", file=sys.stderr)
        return 2

    async def run() -> ImportSummary:
        async with open_store(settings) as engine:
            return await KnowledgeBase(engine).import_folder(folder)

    try:
        summary = asyncio.run(run())
    except ArticleError as err:
        print(f"kb import: nothing imported: {err}", file=sys.stderr)
        return 2
    print(summary_line(summary))
    return 0


def add_import_parser(kb_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``inbox kb import [PATH]``, added to the ``kb`` family's sub-commands."""
    command = kb_subparsers.add_parser(
        "import", help="load a folder of Markdown articles into the knowledge base"
    )
    command.add_argument(
        "path", nargs="?", type=Path, help="the folder (default: [kb] path in the config)"
    )
    command.set_defaults(func_settings=cmd_import)
