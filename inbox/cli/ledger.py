"""``inbox ledger``: every customer contact of a period and its answer; the unanswered.

``--check`` is for cron and monitoring: it also reconciles the sources (each mailbox
folder's UIDs, the Telegram update ids) with the store, and exits 1 when any contact is
unanswered, any mail is missing or a source could not be read, saying which and where.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict

from inbox.cli.reconcile import SourcesReport, check_sources, print_sources
from inbox.cli.store_access import open_store
from inbox.config.settings import Settings
from inbox.queue import open_queue
from inbox.store.ledger import DEAD_LETTERS_READ, LedgerEntry, LedgerReport, ledger_report


async def read_report(
    settings: Settings, days: float | None, sources: bool = False
) -> tuple[LedgerReport, SourcesReport | None]:
    """The ledger with the queue's dead letters; with ``sources``, the sources reconciled."""
    queue = await open_queue(settings.queue)
    try:
        dead = await queue.dead_letters(DEAD_LETTERS_READ)
        async with open_store(settings) as engine:
            report = await ledger_report(engine, settings.ledger, dead, time.time(), days)
            checked = await check_sources(settings, queue, engine, dead) if sources else None
    finally:
        await queue.close()
    return report, checked


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
    """Prints the ledger (or its JSON); with --check, also the sources reconciled, and
    exits 1 if anything is unanswered or missing, or a source could not be read."""
    report, sources = asyncio.run(read_report(settings, args.days, sources=args.check))
    if args.json:
        shown: dict[str, object] = {
            "since": report.since,
            "at": report.stamp,
            "contacts": len(report.entries),
            "unanswered": [asdict(e) for e in report.unanswered],
            "counts": [
                {"channel": c, "state": s.value, "delivery": d.value, "count": n}
                for c, s, d, n in report.counts()
            ],
        }
        if sources is not None:
            shown["sources"] = sources.to_json()
        print(json.dumps(shown, indent=2))
    else:
        print_report(report, settings)
        if sources is not None:
            print_sources(sources)
    if not args.check:
        return 0
    trouble = bool(report.unanswered)
    if sources is not None:
        trouble = trouble or bool(sources.missing or sources.failures)
    return 1 if trouble else 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``inbox ledger``."""
    ledger = sub.add_parser(
        "ledger", help="every customer contact and its answer; the unanswered ones"
    )
    ledger.add_argument("--days", type=float, help="look back this many days (see [ledger])")
    ledger.add_argument("--json", action="store_true")
    ledger.add_argument(
        "--check",
        action="store_true",
        help="reconcile the sources too; exit 1 when anything is unanswered or missing",
    )
    ledger.set_defaults(func_settings=cmd_ledger)
