"""``inbox route``, ``inbox queue`` and ``inbox quarantine``: what the router would do with
a text, what waits in the queue, and what could not become a ticket."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.cli.store_access import open_store
from inbox.config.settings import Settings
from inbox.models import Envelope, RoutingDecision, TriageDecision
from inbox.pipeline.language_routing import LanguageRouting
from inbox.pipeline.routing import RoutingService
from inbox.pipeline.triaging import TriageService
from inbox.queue import Queue, open_queue
from inbox.service.model import learned_history, load_embedder
from inbox.store.dead_letter_reviews import dead_letter_notes, dismiss_dead_letter
from inbox.store.files import Quarantine, QuarantineEntry
from inbox.store.ledger import DEAD_LETTERS_READ
from inbox.store.quarantine_review import confirm_spam, dismiss, release
from inbox.text import embedding_text


@dataclass(frozen=True)
class Routed:
    """One text as the live router and triage see it."""

    decision: RoutingDecision
    triage: TriageDecision
    labelled: int  # the router's examples from the configuration
    learnt: int  # and those learnt from history


async def _route(settings: Settings, text: str) -> Routed:
    async with open_store(settings) as engine:
        # The live router: config examples plus every correction agents made.
        embedder = load_embedder(settings)
        history = learned_history(settings, embedder)
        routing = await RoutingService.build(settings, embedder, engine, history)
        languages = await LanguageRouting.build(settings, engine)
    triaging = await TriageService.build(settings, routing.embedder)
    prepared = embedding_text("", text)
    vectors = await routing.embedder.encode_async([prepared])
    decisions = routing.route_vectors(vectors)
    env = Envelope("cli", "route", "cli", "", text, time.time())
    (triage,) = triaging.assess([env], vectors)
    if languages is not None:  # as the worker does: another language, the second router
        decisions = await languages.reroute([prepared], decisions, [triage.language])
    decision = triaging.route_by_language(decisions[0], triage)
    labelled, learnt = routing.router.example_counts
    return Routed(decision, triage, labelled, learnt)


def _print_route(routed: Routed) -> None:
    decision, triage = routed.decision, routed.triage
    verdict = f" (abstained: {decision.abstain_reason})" if decision.abstained else ""
    print(f"team: {decision.team}{verdict}")
    print(f"confidence: {decision.confidence:.3f} (threshold {decision.threshold})")
    priority = triage.priority.name.lower()
    print(f"priority: {priority}" + "".join(f"; {r}" for r in triage.reasons))
    print(f"language: {triage.language or 'not detected'}")
    print("nearest examples:")
    for n in decision.nearest:
        print(f"  {n.score:.3f}  {n.team:<12} {n.text}")
    if triage.spam:
        print("spam: it would be quarantined, not answered")
    print(f"router: {routed.labelled} labelled examples, {routed.learnt} learnt from history")


def cmd_route(settings: Settings, args: argparse.Namespace) -> int:
    """Routes one text with the configured examples and prints the evidence."""
    routed = asyncio.run(_route(settings, args.text))
    if not args.json:
        _print_route(routed)
        return 0
    triage = routed.triage
    result = {
        **routed.decision.evidence(),
        "priority": triage.priority.name.lower(),
        "triage_reasons": list(triage.reasons),
        "language": triage.language,
        "spam": triage.spam,
        "examples": {"labelled": routed.labelled, "learnt": routed.learnt},
    }
    print(json.dumps(result, indent=2))
    return 0


def cmd_queue(settings: Settings, args: argparse.Namespace) -> int:
    """Shows what waits in the queue and what was dead-lettered, with reasons; puts a dead
    letter back (``--retry``) or records that it holds no contact (``--dismiss``)."""

    async def run() -> int:
        queue = await open_queue(settings.queue)
        try:
            if args.retry is not None:
                return await _requeue(queue, args.retry)
            if args.dismiss is not None:
                return await _dismiss(settings, queue, args)
            print(f"pending: {await queue.pending()}")
            dead = await queue.dead_letters(args.limit)
            async with open_store(settings) as engine, engine.connect() as conn:
                notes = await dead_letter_notes(conn, [d.item_id for d in dead])
            print(f"dead letters: {len(dead)}")
            for d in dead:
                print(f"  item {d.item_id} after {d.attempts} tries: {d.reason}")
                if d.item_id in notes:
                    print(f"      {notes[d.item_id]}")
            if dead:
                print("put one back: inbox queue --retry ID; no contact in it: --dismiss ID")
            return 0
        finally:
            await queue.close()

    return asyncio.run(run())


async def _requeue(queue: Queue, item_id: str) -> int:
    if not await queue.requeue_dead(item_id):
        print(f"no dead letter {item_id}", file=sys.stderr)
        return 1
    print(f"dead letter {item_id} is back in the queue for a fresh set of tries")
    return 0


async def _dismiss(settings: Settings, queue: Queue, args: argparse.Namespace) -> int:
    if args.dismiss not in {d.item_id for d in await queue.dead_letters(DEAD_LETTERS_READ)}:
        print(f"no dead letter {args.dismiss}", file=sys.stderr)
        return 1
    async with open_store(settings) as engine:
        await dismiss_dead_letter(engine, args.dismiss, args.by, args.note)
    print(f"dead letter {args.dismiss} dismissed: the ledger no longer counts it as unanswered")
    return 0


def _review_state(e: QuarantineEntry) -> str:
    if e.review is None:
        return "unreviewed" + ("" if e.releasable else " (unreadable: dismiss or spam)")
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(e.reviewed_at or 0))
    state = f"{e.review} by {e.reviewed_by} at {when}Z"
    if e.review == "released":
        ticket = f"#{e.released_reference}" if e.released_reference else "not stored yet"
        state += f", ticket {ticket}"
    return state


async def _show_quarantine(kept: Quarantine, args: argparse.Namespace) -> None:
    if args.raw is not None:
        sys.stdout.buffer.write(await kept.original(args.raw))
        sys.stdout.buffer.flush()
        return
    entries = await kept.entries(args.limit, unreviewed=args.unreviewed)
    which = "unreviewed, " if args.unreviewed else ""
    print(f"quarantined: {len(entries)} shown ({which}newest first)")
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(e.received_at))
        print(f"  {e.entry_id}  {when}Z  {e.channel}  {e.size} bytes  from {e.sender!r}")
        print(f"      subject: {e.subject!r}")
        print(f"      reason:  {e.reason}")
        print(f"      review:  {_review_state(e)}")
    if entries:
        print("the original of entry N (an email, or the text): inbox quarantine --raw N")
        print("review entry N: inbox quarantine --release N | --spam N | --dismiss N [--by NAME]")


async def _review(settings: Settings, engine: AsyncEngine, args: argparse.Namespace) -> str:
    """Reviews one entry as the options say; what was done, in words."""
    if args.release is not None:
        queue = await open_queue(settings.queue)
        try:
            receipt = await release(engine, queue, args.release, args.by)
        finally:
            await queue.close()
        return (
            f"entry {args.release} released: queued as #{receipt.reference}; the worker "
            "makes it a ticket and acknowledges it"
        )
    if args.spam is not None:
        await confirm_spam(engine, args.spam, args.by)
        return f"entry {args.spam} confirmed as spam: it is never answered"
    await dismiss(engine, args.dismiss, args.by)
    return f"entry {args.dismiss} dismissed"


def cmd_quarantine(settings: Settings, args: argparse.Namespace) -> int:
    """Lists messages that could not become tickets, writes one's original bytes, or
    reviews one (release as a ticket, confirm as spam, dismiss)."""
    reviewing = any(getattr(args, k) is not None for k in ("release", "spam", "dismiss"))

    async def run() -> str:
        async with open_store(settings) as engine:
            if reviewing:
                return await _review(settings, engine, args)
            await _show_quarantine(Quarantine(engine), args)
            return ""

    done = asyncio.run(run())  # a refused review: an InboxError, reported by main
    if done:
        print(done)
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``inbox route``, ``inbox queue`` and ``inbox quarantine``."""
    route = sub.add_parser("route", help="route a text and show why")
    route.add_argument("text")
    route.add_argument("--json", action="store_true")
    route.set_defaults(func_settings=cmd_route)

    queue = sub.add_parser("queue", help="queue depth and dead letters")
    queue.add_argument("--limit", type=int, default=20)
    queue.add_argument("--retry", metavar="ID", help="put dead letter ID back in the queue")
    queue.add_argument(
        "--dismiss", metavar="ID", help="record that dead letter ID holds no customer contact"
    )
    queue.add_argument("--by", default="cli", help="who dismisses (with --dismiss)")
    queue.add_argument("--note", default="", help="what was found (with --dismiss)")
    queue.set_defaults(func_settings=cmd_queue)

    kept = sub.add_parser("quarantine", help="messages that could not become tickets")
    kept.add_argument("--limit", type=int, default=50)
    what = kept.add_mutually_exclusive_group()
    what.add_argument("--raw", type=int, metavar="N", help="write entry N's original to stdout")
    what.add_argument("--release", type=int, metavar="N", help="release entry N as a ticket")
    what.add_argument("--spam", type=int, metavar="N", help="confirm entry N as spam")
    what.add_argument(
        "--dismiss", type=int, metavar="N", help="dismiss entry N (unreadable; original read)"
    )
    kept.add_argument("--by", default="cli", help="who reviews (default: cli)")
    kept.add_argument("--unreviewed", action="store_true", help="list only unreviewed entries")
    kept.set_defaults(func_settings=cmd_quarantine)
