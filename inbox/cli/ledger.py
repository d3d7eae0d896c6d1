"""``inbox ledger``: every customer contact of a period and its answer; the unanswered.

``--check`` is for cron and monitoring: it exits 1 when any contact is unanswered, and
says which and where.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict

from inbox.cli.store_access import open_store
from inbox.config.settings import Settings
from inbox.queue import open_queue
from inbox.store.ledger import DEAD_LETTERS_READ, LedgerEntry, LedgerReport, ledger_report


async def read_report(settings: Settings, days: float | None) -> LedgerReport:
    """The ledger with the queue's dead letters."""
    queue = await open_queue(settings.queue)
    try:
        dead = await queue.dead_letters(DEAD_LETTERS_READ)
    finally:
        await queue.close()
    async with open_store(settings) as engine:
        return await ledger_report(engine, settings.ledger, dead, time.time(), days)


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(stamp)) + "Z" if stamp else "?"


def _line(e: LedgerEntry) -> str:
    ticket = f"#{e.reference}" if e.reference else "-"
    why = f"  {e.detail}" if e.detail else ""
    return (
        f"  {ticket:<7} {e.channel:<10} {e.shown_address[:40]:<40} {_when(e.received_at)}  "
        f"{e.source} {e.source_id}: {e.state.value}, {e.delivery.value}{why}"
    )


def print_report(report: LedgerReport, settings: Settings) -> None:
    """Counts per channel, state and delivery, then every unanswered contact."""
    unanswered = report.unanswered
    print(
        f"answer ledger {_when(report.since)} → {_when(report.stamp)}: "
        f"{len(report.entries)} contacts, {len(unanswered)} unanswered "
        f"(nothing delivered {settings.ledger.unanswered_after_minutes:g} minutes after)"
    )
    for channel, state, delivery, n in report.counts():
        print(f"  {channel:<12} {state.value:<38} {delivery.value:<11} {n:>7}")
    if unanswered:
        print(f"unanswered ({len(unanswered)}):")
        for e in unanswered:
            print(_line(e))


def cmd_ledger(settings: Settings, args: argparse.Namespace) -> int:
    """Prints the ledger (or its JSON); with --check, exits 1 if anything is unanswered."""
    report = asyncio.run(read_report(settings, args.days))
    if args.json:
        print(
            json.dumps(
                {
                    "since": report.since,
                    "at": report.stamp,
                    "contacts": len(report.entries),
                    "unanswered": [asdict(e) for e in report.unanswered],
                    "counts": [
                        {"channel": c, "state": s.value, "delivery": d.value, "count": n}
                        for c, s, d, n in report.counts()
                    ],
                },
                indent=2,
            )
        )
    else:
        print_report(report, settings)
    return 1 if args.check and report.unanswered else 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``inbox ledger``."""
    ledger = sub.add_parser(
        "ledger", help="every customer contact and its answer; the unanswered ones"
    )
    ledger.add_argument("--days", type=float, help="look back this many days (see [ledger])")
    ledger.add_argument("--json", action="store_true")
    ledger.add_argument(
        "--check", action="store_true", help="exit 1 when any contact is unanswered"
    )
    ledger.set_defaults(func_settings=cmd_ledger)
