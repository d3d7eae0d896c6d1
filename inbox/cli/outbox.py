"""``inbox outbox``: the deliveries given up on, and ``--retry ID`` to send one again (the
desk's "Try again", for an answer no agent's page shows: a service answer, say)."""

from __future__ import annotations

import argparse
import asyncio
import getpass

from inbox.cli.store_access import open_store
from inbox.config.settings import Settings
from inbox.form_identity import shown_address
from inbox.store.outbox_retry import FailedRow, Retried, failed_rows, retry_delivery


def cmd_outbox(settings: Settings, args: argparse.Namespace) -> int:
    """Lists failed deliveries, or puts one back with ``--retry``."""

    async def run() -> list[FailedRow] | Retried:
        async with open_store(settings) as engine:
            if args.retry is not None:
                return await retry_delivery(engine, args.retry, f"cli:{getpass.getuser()}")
            return await failed_rows(engine, args.limit)

    found = asyncio.run(run())
    if isinstance(found, Retried):
        print(
            f"outbox {found.outbox_id} queued again (it had failed: {found.error}); "
            f"a running sender sends it within {settings.outbox.poll_interval:g} s"
        )
        return 0
    if not found:
        print("no failed deliveries")
        return 0
    for row in found:
        ticket = f"#{row.reference}" if row.reference is not None else "(no ticket)"
        print(
            f"{row.outbox_id}\t{ticket}\t{row.kind}\t{row.channel}\t"
            f"{shown_address(row.channel, row.address)}\t{row.error}"
        )
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``inbox outbox [--retry ID]``."""
    outbox = sub.add_parser("outbox", help="deliveries given up on; --retry ID sends one again")
    outbox.add_argument("--retry", type=int, metavar="ID", help="put failed row ID back")
    outbox.add_argument("--limit", type=int, default=100, help="rows listed at most")
    outbox.set_defaults(func_settings=cmd_outbox)
