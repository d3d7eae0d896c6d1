"""The scaled-out queue: Redis Streams, one consumer group for every worker process.

- ``put`` is one Lua script: each new message gets its reference (``INCR``), its stream
  entry (``XADD``) and its "seen" marker, and the connector's cursor is stored, all at once.
  A message put again within ``dedup_seconds`` returns its first receipt.
- ``claim`` first takes over entries whose worker went quiet for longer than the visibility
  timeout (``XAUTOCLAIM``; an entry that has used up its tries that way is dead-lettered),
  then reads new ones (``XREADGROUP``, batched, blocking). A process's first claim makes
  the entries of a gone worker process on its host due at once (see ``abandoned``).
- ``ack`` runs after the store committed: ``XACK`` and ``XDEL`` together, so the stream
  holds exactly the entries not yet done. Nothing trims entries that are still pending.
- ``retry`` leaves the entry pending and back-dates its idle time so ``XAUTOCLAIM`` hands
  it out again after the back-off (at most the visibility timeout); the delivery counter
  counts the tries, and the last try's reason is kept for the dead letter.

With ``appendonly yes`` every acknowledged put survives a Redis restart (it is written to
the append-only file before the reply); ``appendfsync always`` extends that to a power cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from inbox.config.settings import QueueSettings
from inbox.errors import QueueUnavailable
from inbox.models import DeadLetter, Envelope, QueueItem, Receipt
from inbox.queue.base import DEDUP_SECONDS, FIRST_REFERENCE, abandoned, queue_record
from inbox.queue.redis_keys import GROUP, RedisKeys

SOCKET_TIMEOUT = 30.0
MAX_CONNECTIONS = 32
T = TypeVar("T")

# KEYS: stream, reference, cursors, seen_1..seen_n
# ARGV: dedup_seconds, first_reference, cursor_source, cursor_value, then per message
#       channel, external_id, payload
# Returns {reference, duplicate (0/1)} per message.
_PUT = """
local out = {}
local n = #KEYS - 3
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], tonumber(ARGV[2]) - 1)
end
for i = 1, n do
  local seen = KEYS[3 + i]
  local channel, external_id, payload = ARGV[2 + 3 * i], ARGV[3 + 3 * i], ARGV[4 + 3 * i]
  local known = redis.call('GET', seen)
  if known then
    out[#out + 1] = tonumber(known)
    out[#out + 1] = 1
  else
    local reference = redis.call('INCR', KEYS[2])
    redis.call('XADD', KEYS[1], '*', 'payload', payload, 'reference', reference,
               'channel', channel, 'external_id', external_id)
    redis.call('SET', seen, reference, 'EX', tonumber(ARGV[1]))
    out[#out + 1] = reference
    out[#out + 1] = 0
  end
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
end
return out
"""

# The payload and reference among an entry's fields. Used by the scripts below.
_FIELDS = """
local function payload_and_reference(fields)
  local payload, reference = '', ''
  for j = 1, #fields, 2 do
    if fields[j] == 'payload' then payload = fields[j + 1] end
    if fields[j] == 'reference' then reference = fields[j + 1] end
  end
  return payload, reference
end
"""

# Moves one pending entry to the dead-letter stream. Used by the two scripts below.
_BURY = (
    _FIELDS
    + """
local function bury(stream, dead, reasons, group, id, attempts, why)
  local entry = redis.call('XRANGE', stream, id, id)
  if #entry == 1 then
    local payload, reference = payload_and_reference(entry[1][2])
    redis.call('XADD', dead, '*', 'payload', payload, 'reference', reference,
               'attempts', attempts, 'reason', why, 'entry', id)
  end
  redis.call('XACK', stream, group, id)
  redis.call('XDEL', stream, id)
  redis.call('HDEL', reasons, id)
end
"""
)

# KEYS: stream, dead. ARGV: the dead letter's id. Puts it back on the stream as a new
# entry (a fresh delivery counter: a fresh set of tries). Returns 1, or 0 if not there.
_REQUEUE = (
    _FIELDS
    + """
local entry = redis.call('XRANGE', KEYS[2], ARGV[1], ARGV[1])
if #entry == 0 then return 0 end
local payload, reference = payload_and_reference(entry[1][2])
redis.call('XADD', KEYS[1], '*', 'payload', payload, 'reference', reference)
redis.call('XDEL', KEYS[2], ARGV[1])
return 1
"""
)

# KEYS: stream, dead, reasons
# ARGV: group, consumer, min_idle_ms, count, max_attempts
# Returns, per entry taken over: id, delivery count, payload, reference (dead-lettered
# entries are left out).
_RECLAIM = (
    _BURY
    + """
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0',
                           'COUNT', ARGV[4])
local out = {}
for _, entry in ipairs(claimed[2]) do
  local id = entry[1]
  local info = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if #info == 1 then
    local attempts = tonumber(info[1][4])
    if attempts > tonumber(ARGV[5]) then
      local why = redis.call('HGET', KEYS[3], id)
      why = (why and (why .. '; ') or '') .. 'worker lease expired'
      bury(KEYS[1], KEYS[2], KEYS[3], ARGV[1], id, attempts - 1, why)
    else
      local payload, reference = payload_and_reference(entry[2])
      if reference == '' then reference = '0' end
      out[#out + 1] = id
      out[#out + 1] = attempts
      out[#out + 1] = payload
      out[#out + 1] = reference
    end
  end
end
return out
"""
)

# KEYS: stream, dead, reasons
# ARGV: group, consumer, id, reason, max_attempts, idle_ms
# Returns 1 (will be retried), 0 (dead-lettered) or -1 (not pending: acknowledged already).
_RETRY = (
    _BURY
    + """
local info = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #info == 0 then return -1 end
local attempts = tonumber(info[1][4])
if attempts >= tonumber(ARGV[5]) then
  bury(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[3], attempts, ARGV[4])
  return 0
end
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[6], 'JUSTID')
return 1
"""
)

# KEYS: stream, reasons, acked.  ARGV: group, ids...
_ACK = """
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
local done = redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
redis.call('XDEL', KEYS[1], unpack(ids))
redis.call('HDEL', KEYS[2], unpack(ids))
redis.call('INCRBY', KEYS[3], done)
return done
"""

# KEYS: stream.  ARGV: group, new owner, idle_ms, then the names of consumers that are gone.
# Their pending entries move to the new owner, made as idle as an expired lease (the
# delivery counter untouched: the take-over counts the try), and the names are removed.
_RELEASE = """
local moved = 0
for i = 4, #ARGV do
  while true do
    local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 100, ARGV[i])
    if #pending == 0 then break end
    local ids = {}
    for _, entry in ipairs(pending) do ids[#ids + 1] = entry[1] end
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids),
               'IDLE', ARGV[3], 'JUSTID')
    moved = moved + #ids
  end
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[i])
end
return moved
"""

# KEYS: reference.  ARGV: floor
_RESERVE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStreamsQueue:
    """The queue on Redis Streams: any number of worker processes on any machines."""

    def __init__(self, settings: QueueSettings, *, dedup_seconds: int = DEDUP_SECONDS) -> None:
        self.settings = settings
        self.keys = RedisKeys(settings.name)
        self.dedup_seconds = dedup_seconds
        # Blocking reads last at most ``poll_interval``; a restarted server closes its
        # connections, which fails at once. The timeout only catches a silent network.
        # A burst of puts waits for a free connection rather than failing. A connection
        # the server closed (a Redis restart) is replaced and the command tried again, a
        # few times: every command here is safe to repeat (puts are deduplicated, acks
        # and take-overs idempotent, a repeated read only leaves entries to be taken over).
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.url,
            max_connections=MAX_CONNECTIONS,
            timeout=SOCKET_TIMEOUT,
            health_check_interval=10,
            socket_connect_timeout=5,
            socket_timeout=SOCKET_TIMEOUT,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
            retry_on_error=[RedisConnectionError],
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        self._put = self.redis.register_script(_PUT)
        self._reclaim = self.redis.register_script(_RECLAIM)
        self._retry = self.redis.register_script(_RETRY)
        self._ack = self.redis.register_script(_ACK)
        self._reserve = self.redis.register_script(_RESERVE)
        self._release = self.redis.register_script(_RELEASE)
        self._requeue = self.redis.register_script(_REQUEUE)
        self._released: asyncio.Task[None] | None = None

    async def _call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Runs a Redis call; a failure becomes QueueUnavailable, saying what failed."""
        try:
            return await fn()
        except RedisError as err:
            raise QueueUnavailable(f"Redis queue: {what} failed: {err}") from err

    async def open(self) -> RedisStreamsQueue:
        """Creates the stream and its consumer group if they are not there yet."""
        await self._ensure_group()
        return self

    async def _ensure_group(self) -> None:
        async def create() -> None:
            try:
                await self.redis.xgroup_create(self.keys.stream, GROUP, id="0", mkstream=True)
            except ResponseError as err:
                if "BUSYGROUP" not in str(err):
                    raise

        await self._call("creating the consumer group", create)

    # -- Sink -------------------------------------------------------------------------

    async def put(
        self, envelopes: Sequence[Envelope], cursor: tuple[str, str] | None = None
    ) -> list[Receipt]:
        """Queues the envelopes and stores the cursor in one atomic step."""
        keys = [self.keys.stream, self.keys.reference, self.keys.cursors]
        args: list[str | int] = [self.dedup_seconds, FIRST_REFERENCE, *(cursor or ("", ""))]
        for env in envelopes:
            record = queue_record(env)
            keys.append(self.keys.seen(record.channel, record.external_id))
            args += [record.channel, record.external_id, record.payload]
        if not envelopes and cursor is None:
            return []
        raw = await self._call("put", lambda: self._put(keys=keys, args=args))
        return [
            Receipt(env.channel, env.external_id, int(raw[2 * i]), bool(int(raw[2 * i + 1])))
            for i, env in enumerate(envelopes)
        ]

    async def cursor(self, source: str) -> str | None:
        """The last cursor stored for ``source``."""
        value = await self._call(
            "reading a cursor", lambda: self.redis.hget(self.keys.cursors, source)
        )
        return None if value is None else _text(value)

    # -- Queue ------------------------------------------------------------------------

    async def claim(self, consumer: str, max_items: int, block: float) -> list[QueueItem]:
        """Entries whose worker went quiet first, then new ones; waits up to ``block``."""
        await self._release_abandoned(consumer)
        deadline = time.monotonic() + block
        while True:
            items = await self._take_over(consumer, max_items)
            if len(items) < max_items:
                remaining = deadline - time.monotonic()
                # Short blocking reads, so entries coming back from a back-off are seen
                # within ``poll_interval`` even while no new message arrives.
                wait = 0.0 if items else min(max(remaining, 0.0), self.settings.poll_interval)
                items += await self._read_new(consumer, max_items - len(items), wait)
            if items or time.monotonic() >= deadline:
                return sorted(items, key=lambda item: _order(item.item_id))

    async def _release_abandoned(self, consumer: str) -> None:
        """Before this process's first claim: what a dead process on this host (or this
        process's previous life) held is made due at once, not after the visibility
        timeout. Live siblings' entries are left alone."""
        if self._released is None:
            self._released = asyncio.create_task(self._release_gone(consumer))
        try:
            await asyncio.shield(self._released)
        except Exception:
            self._released = None  # the next claim tries again
            raise

    async def _release_gone(self, consumer: str) -> None:
        async def consumers() -> Any:
            return await self.redis.xinfo_consumers(self.keys.stream, GROUP)

        try:
            found = await self._call("listing consumers", consumers)
        except QueueUnavailable as err:
            if "NOGROUP" not in str(err):
                raise
            return
        now = time.time()
        gone = [
            _text(c["name"])
            for c in found
            if abandoned(_text(c["name"]), now - int(c["idle"]) / 1000)
        ]
        if not gone:
            return
        idle_ms = int(self.settings.visibility_timeout * 1000)
        args: list[str | int] = [GROUP, consumer, idle_ms, *gone]
        await self._call(
            "releasing a dead worker's entries",
            lambda: self._release(keys=[self.keys.stream], args=args),
        )

    async def _take_over(self, consumer: str, count: int) -> list[QueueItem]:
        idle_ms = int(self.settings.visibility_timeout * 1000)
        keys = [self.keys.stream, self.keys.dead, self.keys.reasons]
        args: list[str | int] = [GROUP, consumer, idle_ms, count, self.settings.max_attempts]
        raw = await self._call("taking over idle entries", lambda: self._reclaim(keys, args))
        return [
            QueueItem(_text(raw[i]), _text(raw[i + 2]), int(raw[i + 3]), int(raw[i + 1]))
            for i in range(0, len(raw), 4)
        ]

    async def _read_new(self, consumer: str, count: int, wait: float) -> list[QueueItem]:
        block = block_millis(wait)

        async def read() -> Any:
            return await self.redis.xreadgroup(
                GROUP, consumer, {self.keys.stream: ">"}, count=count, block=block
            )

        try:
            raw = await self._call("reading new entries", read)
        except QueueUnavailable as err:
            if "NOGROUP" not in str(err):
                raise
            await self._ensure_group()  # the stream was deleted (FLUSHALL): start again
            return []
        items: list[QueueItem] = []
        for _stream, entries in raw or []:
            for entry_id, fields in entries:
                values = {_text(k): _text(v) for k, v in fields.items()}
                items.append(_item(_text(entry_id), values, 1))
        return items

    async def ack(self, item_ids: Sequence[str]) -> None:
        """Acknowledges and deletes the entries: they are never delivered again."""
        if not item_ids:
            return
        keys = [self.keys.stream, self.keys.reasons, self.keys.acked]
        args = [GROUP, *item_ids]
        await self._call("acknowledging", lambda: self._ack(keys, args))

    async def retry(self, item_id: str, reason: str) -> bool:
        """Backs the entry off; returns False if it was dead-lettered instead."""
        s = self.settings
        attempts = await self._attempts(item_id)
        delay = min(s.retry_backoff * 2 ** max(attempts - 1, 0), s.retry_backoff_max)
        # Idle time is what XAUTOCLAIM looks at: set it so the entry is due after ``delay``.
        idle_ms = max(0, int((s.visibility_timeout - min(delay, s.visibility_timeout)) * 1000))
        keys = [self.keys.stream, self.keys.dead, self.keys.reasons]
        args: list[str | int] = [GROUP, "backing-off", item_id, reason, s.max_attempts, idle_ms]
        outcome = await self._call("backing off", lambda: self._retry(keys, args))
        return int(outcome) != 0

    async def requeue_dead(self, item_id: str) -> bool:
        """Moves a dead letter back onto the stream, for a fresh set of tries."""
        if not re.fullmatch(r"\d+-\d+", item_id):  # not a stream entry's id
            return False
        keys = [self.keys.stream, self.keys.dead]
        done = await self._call("requeueing a dead letter", lambda: self._requeue(keys, [item_id]))
        return int(done) == 1

    async def _attempts(self, item_id: str) -> int:
        async def read() -> int:
            info = await self.redis.xpending_range(self.keys.stream, GROUP, item_id, item_id, 1)
            return int(info[0]["times_delivered"]) if info else 0

        return await self._call("reading the delivery counter", read)

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Entries given up on, newest first."""

        async def read() -> Any:
            return await self.redis.xrevrange(self.keys.dead, count=limit)

        letters: list[DeadLetter] = []
        for entry_id, raw in await self._call("reading dead letters", read):
            fields = {_text(k): _text(v) for k, v in raw.items()}
            letters.append(
                DeadLetter(
                    _text(entry_id),
                    fields.get("payload", ""),
                    int(fields.get("attempts", "0")),
                    fields.get("reason", ""),
                )
            )
        return letters

    async def pending(self) -> int:
        """Entries waiting or being worked on (acknowledged ones are deleted)."""
        return int(await self._call("counting", lambda: self.redis.xlen(self.keys.stream)))

    async def in_flight(self) -> int:
        """Entries handed to a worker and not yet acknowledged."""

        async def read() -> int:
            summary = await self.redis.xpending(self.keys.stream, GROUP)
            return int(summary["pending"])

        return await self._call("counting pending entries", read)

    async def dead_count(self) -> int:
        """How many entries were dead-lettered."""
        return int(
            await self._call("counting dead letters", lambda: self.redis.xlen(self.keys.dead))
        )

    async def acked_count(self) -> int:
        """How many entries were acknowledged, ever."""
        value = await self._call("reading a counter", lambda: self.redis.get(self.keys.acked))
        return int(value or 0)

    async def reserve_references_above(self, floor: int) -> None:
        """Raises the reference counter to at least ``floor``."""
        keys = [self.keys.reference]
        await self._call("reserving references", lambda: self._reserve(keys, [floor]))

    async def close(self) -> None:
        """Closes the connections."""
        with contextlib.suppress(RedisError, asyncio.CancelledError):
            await self.redis.aclose()
            await self.redis.connection_pool.disconnect()


def block_millis(wait: float) -> int | None:
    """``XREADGROUP``'s BLOCK for a wait in seconds; None for no wait. BLOCK 0 means "for
    ever" to Redis, so a wait under a millisecond is rounded up to one, never down."""
    return max(1, round(wait * 1000)) if wait > 0 else None


def _order(entry_id: str) -> tuple[int, int]:
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


def _item(entry_id: str, fields: dict[str, str], attempts: int) -> QueueItem:
    return QueueItem(
        entry_id, fields.get("payload", ""), int(fields.get("reference", "0")), attempts
    )
