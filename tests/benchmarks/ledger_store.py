"""A store of N conversations over the last 30 days, for the ledger benchmark
(``bench_ledger``): the rows the product writes, in their shapes, inserted in bulk.

Seeding is not what is measured, so the rows go in through SQLAlchemy Core in chunks with
their ids chosen here, into the real migrated schema. Each row has the columns and values
the product's own writes give it (``inbox.pipeline.ingest.write``, ``queue_drafts``, the
ingest's ``EventLog``, the outbox sender's ``mark_sent``/``mark_failed``):

- a contact and a conversation per customer; 1-3 customer messages each (the first opens
  the ticket; a follow-up joins it, a few are duplicates); machine-made mail now and then;
- an acknowledgement for each new ticket (and each web-form follow-up), mostly sent, a few
  pending or failed; a few held back by a rule (an ``acknowledgement_suppressed`` event);
- the bot's answers on a share of form, chat and Telegram tickets, some handed off;
  agents' answers on most tickets, a few failed;
- the ingest's audit events (created, routed, triaged, acknowledged, ...), the agents';
- bot commands on Telegram and the web chat, each with its service answer;
- a few hundred quarantine entries, most reviewed;
- a handful of dead letters in the queue (put, claimed and failed through the queue).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from inbox.bot_words import BOT_ANSWER
from inbox.config.settings import Settings
from inbox.models import Envelope, MessageMeta
from inbox.pipeline.ingest.acknowledge import acknowledgement_text, follow_up_text
from inbox.queue import open_queue
from inbox.store.tables import (
    agents,
    bot_commands,
    contacts,
    conversation_refs,
    conversations,
    events,
    messages,
    outbox,
    quarantine,
)

DAY = 86400.0
CHUNK = 5000  # rows per INSERT ... executemany
BOT_ID = "7000000001"  # the Telegram bot's id in update ids ``update:BOT:N``
AGENTS = 20
# Channel mix of new tickets: (channel, share).
CHANNELS = (("form", 0.35), ("email", 0.30), ("webchat", 0.20), ("telegram", 0.15))
REASON = "store: value too long for type character varying(320)"
ERRORS = {  # why a delivery failed, by channel
    "email": "550 5.1.1 mailbox unavailable",
    "telegram": "Telegram: 403 Forbidden: bot was blocked by the user",
    "webchat": "the chat session ended before the answer could be delivered",
    "form": "550 5.1.1 mailbox unavailable",
}


@dataclass
class Counts:
    """What was written, to check the ledger's figures against."""

    conversations: int = 0
    customer_messages: int = 0
    automated: int = 0
    suppressed: int = 0
    commands: int = 0
    quarantined: int = 0
    quarantine_unreviewed: int = 0
    dead_letters: int = 0
    rows: dict[str, int] = field(default_factory=dict)


class _Rows:
    """The rows of one table, flushed to the store a chunk at a time."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.pending: list[dict[str, Any]] = []
        self.written = 0
        self.next_id = 1

    def add(self, row: dict[str, Any]) -> int:
        row.setdefault("id", self.next_id)
        self.next_id = max(self.next_id, int(row["id"])) + 1
        self.pending.append(row)
        return int(row["id"])


@dataclass
class _Seeder:
    settings: Settings
    now: float
    rng: random.Random
    texts: list[str]
    counts: Counts = field(default_factory=Counts)

    def __post_init__(self) -> None:
        self.tables = {
            t.name: _Rows(t)
            for t in (
                contacts,
                conversations,
                conversation_refs,
                messages,
                outbox,
                events,
                bot_commands,
                quarantine,
            )
        }
        self.teams = [t.name for t in self.settings.all_teams]
        self.update_id = 500_000_000  # Telegram update ids, one per update, no gaps

    def add(self, table: Table, row: dict[str, Any]) -> int:
        return self.tables[table.name].add(row)

    def text(self) -> str:
        return self.rng.choice(self.texts)

    def _next_update(self) -> int:
        self.update_id += 1
        return self.update_id

    def _inbound(self, channel: str, address: str, at: float, n: int) -> tuple[str, dict[str, str]]:
        """A customer message's external id and meta, as its connector makes them."""
        if channel == "email":
            mid = f"<{uuid.uuid4().hex}@mail.example.net>"
            meta = MessageMeta(
                message_id=mid,
                mailbox="support@example.com",
                imap_folder="INBOX",
                imap_uid=f"1700000000:{self.counts.customer_messages + 1}",
            )
            return mid, meta.to_dict()
        if channel == "telegram":
            update = self._next_update()
            meta = MessageMeta(
                chat_id=address, telegram_message_id=str(n + 1), update_id=str(update)
            )
            return f"update:{BOT_ID}:{update}", meta.to_dict()
        ip = f"203.0.113.{self.rng.randrange(1, 255)}"
        if channel == "webchat":
            return f"{address}:{uuid.uuid4().hex[:16]}", MessageMeta(ip=ip).to_dict()
        return f"form:{uuid.uuid4().hex}", MessageMeta(ip=ip).to_dict()

    def _event(
        self, conversation_id: int, kind: str, actor: str, data: dict[str, Any], at: float
    ) -> None:
        self.add(
            events,
            {
                "conversation_id": conversation_id,
                "kind": kind,
                "actor": actor,
                "data": data,
                "created_at": at,
            },
        )

    def _answer(
        self,
        conversation_id: int,
        channel: str,
        address: str,
        kind: str,
        author: str,
        body: str,
        at: float,
        state: str,
        agent_id: int | None = None,
    ) -> int:
        """An outbound message and its outbox row (``queue_drafts``), sent or failed or
        still pending as the sender left it; returns the message's id."""
        message_id = self.add(
            messages,
            {
                "conversation_id": conversation_id,
                "direction": "out",
                "channel": channel,
                "external_id": f"out:{uuid.uuid4().hex}",
                "author": author,
                "agent_id": agent_id,
                "internal": False,
                "subject": "",
                "text": body,
                "content_hash": None,
                "duplicate_of": None,
                "created_at": at,
                "html": None,
                "meta": None,
                "thread_key": None,
            },
        )
        sent = state == "sent"
        self.add(
            outbox,
            {
                "message_id": message_id,
                "conversation_id": conversation_id,
                "channel": channel,
                "address": address,
                "kind": kind,
                "state": state,
                "attempts": 1 if sent else (8 if state == "failed" else 0),
                "next_attempt_at": at,
                "lease_until": None,
                "last_error": None if sent or state == "pending" else ERRORS[channel],
                "sent_external_id": f"sent-{message_id}" if sent else None,
                "created_at": at,
                "sent_at": at + self.rng.uniform(0.2, 3.0) if sent else None,
                "text": None,
                "subject": None,
                "parts_sent": 1 if sent else 0,
                "delay_alerted_at": None,
                "retried_at": None,
            },
        )
        return message_id

    def _state(self, at: float, failed: float, pending: float) -> str:
        """How an answer queued at ``at`` stands now: the sender catches up within a
        minute; an older one is sent, or a few failed or stuck."""
        if self.now - at < 60:
            return "pending"
        roll = self.rng.random()
        if roll < failed:
            return "failed"
        return "pending" if roll < failed + pending else "sent"

    def conversation(self, i: int, opened: float) -> None:
        rng = self.rng
        channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
        address = {
            "email": f"customer{i}@mail.example.net",
            "form": f"customer{i}@example.org",
            "webchat": f"s{uuid.uuid4().hex[:20]}",
            "telegram": str(100_000_000 + i),
        }[channel]
        contact_id = self.add(
            contacts,
            {
                "uid": uuid.uuid4().hex,
                "name": "",
                "tier": "standard",
                "created_at": opened,
                "automatic_stopped_at": None,
            },
        )
        team = rng.choice(self.teams)
        priority = rng.choice((1, 2, 2, 3, 3, 3, 4))
        first = self.text()
        reference = 1001 + i
        age = self.now - opened
        status = "resolved" if age > 3 * DAY and rng.random() < 0.85 else "open"
        conversation_id = self.add(
            conversations,
            {
                "reference": reference,
                "contact_id": contact_id,
                "channel": channel,
                "address": address,
                "subject": first[:60] if channel in ("email", "form") else "",
                "status": status,
                "team": team,
                "priority": priority,
                "assignee_id": None,
                "created_at": opened,
                "updated_at": opened,
                "first_response_due": opened + 4 * 3600,
                "first_response_at": None,
                "sla_due": None,
                "sla_state": None,
                "bot_state": "",
            },
        )
        self.add(conversation_refs, {"id": reference, "conversation_id": conversation_id})
        self.counts.conversations += 1

        automated = channel == "email" and rng.random() < 0.02
        follow_ups = rng.choices((0, 1, 2), (0.55, 0.30, 0.15))[0]
        times = sorted(opened + rng.uniform(600, 3 * DAY) for _ in range(follow_ups))
        times = [t for t in times if t < self.now - 1]
        first_id = 0
        for n, at in enumerate([opened, *times]):
            external_id, meta = self._inbound(channel, address, at, n)
            if automated:
                meta = {**meta, "automated": "Auto-Submitted: auto-replied"}
            body = first if n == 0 else self.text()
            duplicate = n > 0 and rng.random() < 0.03
            message_id = self.add(
                messages,
                {
                    "conversation_id": conversation_id,
                    "direction": "in",
                    "channel": channel,
                    "external_id": external_id,
                    "author": "customer",
                    "agent_id": None,
                    "internal": False,
                    "subject": first[:60] if channel in ("email", "form") else "",
                    "text": body,
                    "content_hash": uuid.uuid4().hex + uuid.uuid4().hex,
                    "duplicate_of": first_id if duplicate else None,
                    "created_at": at,
                    "html": f"<p>{body}</p>" if channel == "email" else None,
                    "meta": meta,
                    "thread_key": uuid.uuid4().hex + uuid.uuid4().hex
                    if channel == "email"
                    else None,
                },
            )
            first_id = first_id or message_id
            self.counts.customer_messages += 1
            self.counts.automated += int(automated)
            if n == 0:
                self._opened(conversation_id, channel, external_id, team, priority, at)
            elif not duplicate:
                self._event(
                    conversation_id,
                    "customer_replied",
                    "customer",
                    {"channel": channel, "external_id": external_id},
                    at,
                )
            if automated or duplicate:
                continue
            if n == 0 or channel == "form":  # a web-form follow-up is acknowledged too
                self._acknowledge(conversation_id, channel, address, reference, team, n, at)
        if automated:
            return
        self._answers(conversation_id, channel, address, opened)

    def _opened(
        self,
        conversation_id: int,
        channel: str,
        external_id: str,
        team: str,
        priority: int,
        at: float,
    ) -> None:
        self._event(
            conversation_id,
            "created",
            "worker",
            {"channel": channel, "external_id": external_id},
            at,
        )
        self._event(
            conversation_id,
            "routed",
            "router",
            {"team": team, "confidence": round(self.rng.uniform(0.4, 0.99), 3), "fallback": False},
            at,
        )
        self._event(
            conversation_id,
            "triaged",
            "triage",
            {"priority": ("urgent", "high", "normal", "low")[priority - 1], "reasons": []},
            at,
        )

    def _acknowledge(
        self,
        conversation_id: int,
        channel: str,
        address: str,
        reference: int,
        team: str,
        n: int,
        at: float,
    ) -> None:
        if channel == "email" and self.rng.random() < 0.004:
            reason = "too many acknowledgements to this address in the last hour"
            self._event(
                conversation_id, "acknowledgement_suppressed", "worker", {"reason": reason}, at
            )
            self.counts.suppressed += 1
            return
        settings = self.settings
        body = (
            acknowledgement_text(
                settings.texts, "en", reference, settings.team(team), False, 4 * 3600.0, True
            )
            if n == 0
            else follow_up_text(settings.texts, "en", reference)
        )
        state = self._state(at, failed=0.006, pending=0.002)
        message_id = self._answer(
            conversation_id, channel, address, "acknowledgement", "bot", body, at + 0.05, state
        )
        self._event(conversation_id, "acknowledged", "worker", {"message_id": message_id}, at)

    def _answers(self, conversation_id: int, channel: str, address: str, opened: float) -> None:
        """The bot's answer on some tickets, an agent's on most."""
        rng = self.rng
        agent_from = opened
        if channel != "email" and rng.random() < 0.25:
            at = opened + rng.uniform(0.5, 3.0)
            state = self._state(at, failed=0.004, pending=0.001)
            body = self.text() + " You can read more in our help centre."
            self._answer(conversation_id, channel, address, BOT_ANSWER, "bot", body, at, state)
            self._event(conversation_id, "bot_answered", "bot", {"articles": ["kb-1"]}, at)
            if rng.random() < 0.6:
                return  # the customer was satisfied
            agent_from = at + rng.uniform(30, 600)
            if agent_from < self.now:
                state = self._state(agent_from, failed=0.004, pending=0.001)
                notice = "I am passing you to a colleague, who will answer here."
                self._answer(
                    conversation_id, channel, address, "handoff", "bot", notice, agent_from, state
                )
                self._event(conversation_id, "human_requested", "customer", {}, agent_from)
        if rng.random() > 0.8:
            return  # not answered by an agent yet
        for _ in range(rng.choices((1, 2), (0.8, 0.2))[0]):
            at = agent_from + rng.uniform(120, 12 * 3600)
            if at >= self.now:
                return
            agent_id = rng.randrange(1, AGENTS + 1)
            state = self._state(at, failed=0.005, pending=0.001)
            body = " ".join(self.text() for _ in range(3))
            self._answer(
                conversation_id, channel, address, "reply", "agent", body, at, state, agent_id
            )
            self._event(conversation_id, "replied", "agent", {"agent_id": agent_id}, at)
            agent_from = at

    def command(self, channel: str, address: str, at: float) -> None:
        """A bot command and the service answer queued with it."""
        name = self.rng.choice(("start", "status", "status", "help", "stop", "resume"))
        external_id = (
            f"update:{BOT_ID}:{self._next_update()}"
            if channel == "telegram"
            else f"{address}:{uuid.uuid4().hex[:16]}"
        )
        self.add(
            bot_commands,
            {
                "channel": channel,
                "external_id": external_id,
                "address": address,
                "command": name,
                "created_at": at,
            },
        )
        state = self._state(at, failed=0.003, pending=0.0)
        sent = state == "sent"
        self.add(
            outbox,
            {
                "message_id": None,
                "conversation_id": None,
                "channel": channel,
                "address": address,
                "kind": "service",
                "state": state,
                "attempts": 1,
                "next_attempt_at": at,
                "lease_until": None,
                "last_error": None if sent else ERRORS[channel],
                "sent_external_id": "sent" if sent else None,
                "created_at": at + 0.01,
                "sent_at": at + 0.5 if sent else None,
                "text": f"Your tickets: (answer to /{name})",
                "subject": "",
                "parts_sent": 1 if sent else 0,
                "delay_alerted_at": None,
                "retried_at": None,
            },
        )
        self.counts.commands += 1

    def quarantined(self, i: int, at: float) -> None:
        channel = self.rng.choice(("email", "email", "form", "webchat"))
        reviewed = self.rng.random() < 0.7
        review = self.rng.choice(("spam", "spam", "released")) if reviewed else None
        self.add(
            quarantine,
            {
                "channel": channel,
                "external_id": f"q-{uuid.uuid4().hex}",
                "reason": self.rng.choice(
                    ("unparseable MIME structure", "spam: link farm", "message too large")
                ),
                "sender": f"sender{i}@spam.example",
                "subject": "You have won",
                "received_at": at,
                "created_at": at,
                "text": self.text(),
                "reviewed_at": at + 3600 if reviewed else None,
                "reviewed_by": "boss" if reviewed else None,
                "review": review,
                "released_reference": 900_000 + i if review == "released" else None,
            },
        )
        self.counts.quarantined += 1
        self.counts.quarantine_unreviewed += int(not reviewed)

    def chunks(self) -> Iterator[tuple[Table, list[dict[str, Any]]]]:
        """The pending rows, parents first (foreign keys hold at every step)."""
        for rows in self.tables.values():
            while rows.pending:
                chunk, rows.pending = rows.pending[:CHUNK], rows.pending[CHUNK:]
                rows.written += len(chunk)
                yield rows.table, chunk


def _renamed(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if table is conversation_refs:  # its key is the reference itself
        return [{"reference": r["id"], "conversation_id": r["conversation_id"]} for r in rows]
    return rows


async def _flush(engine: AsyncEngine, seeder: _Seeder) -> None:
    async with engine.begin() as conn:
        for table, rows in seeder.chunks():
            await conn.execute(insert(table), _renamed(table, rows))


async def fill_store(
    engine: AsyncEngine, settings: Settings, count: int, texts: list[str], seed: int = 19
) -> Counts:
    """Writes ``count`` conversations opened over the last 30 days (``settings.ledger.days``),
    with their messages, answers, events and commands, and some quarantine entries."""
    stamp = time.time()
    seeder = _Seeder(settings, stamp, random.Random(seed), texts)
    async with engine.begin() as conn:
        await conn.execute(
            insert(agents),
            [
                {
                    "id": a,
                    "name": f"agent{a}",
                    "token_hash": uuid.uuid4().hex,
                    "created_at": stamp - 60 * DAY,
                    "role": "agent",
                }
                for a in range(1, AGENTS + 1)
            ],
        )
    span = settings.ledger.days * DAY - 3600  # all inside the look-back, the newest just now
    opened = sorted(stamp - seeder.rng.uniform(0, span) for _ in range(count))
    for i, at in enumerate(opened):
        seeder.conversation(i, at)
        if i % 50 == 0:  # one command per 50 tickets, from a Telegram or chat customer
            channel = seeder.rng.choice(("telegram", "telegram", "telegram", "webchat"))
            address = str(100_000_000 + i) if channel == "telegram" else f"s{uuid.uuid4().hex[:20]}"
            seeder.command(channel, address, min(at + seeder.rng.uniform(1, 3600), stamp - 1))
        if i % (count // 300 or 1) == 0:  # a few hundred quarantine entries
            seeder.quarantined(i, at)
        if i % 10_000 == 9_999:
            await _flush(engine, seeder)
    await _flush(engine, seeder)
    if engine.dialect.name == "postgresql":  # ids were chosen here: the sequences follow
        async with engine.begin() as conn:
            for name in (
                "contacts",
                "conversations",
                "messages",
                "outbox",
                "events",
                "bot_commands",
                "quarantine",
                "agents",
            ):
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                    )
                )
            await conn.execute(text("ANALYZE"))
    seeder.counts.rows = {name: rows.written for name, rows in seeder.tables.items()}
    seeder.counts.dead_letters = await _dead_letters(settings, seeder)
    return seeder.counts


async def _dead_letters(settings: Settings, seeder: _Seeder, count: int = 6) -> int:
    """Puts ``count`` messages in the queue (a Telegram one with the bot's cursor, as the
    connector does) and fails each until it is dead-lettered, as a worker does with a
    message it cannot store."""
    queue = await open_queue(settings.queue)
    try:
        for i in range(count):
            at = seeder.now - seeder.rng.uniform(3600, 20 * DAY)
            channel = ("email", "form", "telegram")[i % 3]
            envelope = Envelope(
                channel, f"dead-{uuid.uuid4().hex}", "email", f"dead{i}@example.org", "", at
            )
            cursor = None
            if channel == "telegram":
                update = seeder._next_update()
                envelope = replace(
                    envelope,
                    external_id=f"update:{BOT_ID}:{update}",
                    identity_channel="telegram",
                    address=str(90_000 + i),
                    meta=MessageMeta(chat_id=str(90_000 + i), update_id=str(update)),
                )
                cursor = (f"telegram:telegram:{BOT_ID}", str(update))
            await queue.put([replace(envelope, text=seeder.text())], cursor)
            for _ in range(settings.queue.max_attempts):
                claimed = await queue.claim("bench-seeder", 1, 5.0)
                if not claimed or not await queue.retry(claimed[0].item_id, REASON):
                    break
        return len(await queue.dead_letters(100))
    finally:
        await queue.close()
