"""Email benchmark: IMAP to acknowledgement committed, beside the raw IMAP fetch rate.

Run with ``scripts/bench-email`` (or ``python -m tests.benchmarks.bench_email``).
In one run it:

1. starts a private Dovecot and an SMTP server on loopback (the test harness);
2. puts N mails (texts from the Bitext test set) into a mailbox and measures the raw
   IMAP fetch rate of that mailbox: UID SEARCH and UID FETCH BODY.PEEK[] in the
   connector's batch size, nothing else;
3. measures the bare model's encode rate on the same texts;
4. starts ``inbox serve`` with that mailbox (IDLE on), delivers N fresh mails at once and
   times them from delivery until the last acknowledgement is committed in the store;
5. delivers single mails one at a time and measures receive-to-acknowledgement latency:
   committed in the store, and received by the SMTP server.

It prints the figures and the ratios measured in the same run. Nothing is asserted:
this is a measurement, the tests assert behaviour.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import tempfile
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import aioimaplib

from connectors.mail.imap import parse_fetch, parse_search
from inbox import tomlwrite
from inbox.cli.bench import measure_encode, read_texts, start_service
from tests.benchmarks.benching import arguments, latency
from tests.support.config import default_config
from tests.support.mailservers import Dovecot, mailbox_config
from tests.support.smtp_server import SmtpServer

PASSWORD_ENV = "BENCH_IMAP_PASSWORD"
FETCH_BATCH = 50


def _mail(i: int, text: str, tag: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"customer{tag}{i}@bench.test"
    message["To"] = "support@inbox.test"
    message["Subject"] = text[:60]
    message["Message-ID"] = make_msgid(domain="bench.test")
    message.set_content(text)
    return message.as_bytes()


async def raw_fetch_rate(server: Dovecot, user: str, password: str) -> tuple[int, float]:
    """Mails per second of a bare IMAP client fetching the whole folder."""
    client = aioimaplib.IMAP4(host=server.host, port=server.port, timeout=60)
    await client.wait_hello_from_server()
    await client.login(user, password)
    await client.select("INBOX")
    started = time.perf_counter()
    search = await client.uid_search("UID 1:*", charset=None)
    uids = parse_search(search.lines)
    fetched = 0
    for start in range(0, len(uids), FETCH_BATCH):
        chunk = uids[start : start + FETCH_BATCH]
        response = await client.uid("fetch", f"{chunk[0]}:{chunk[-1]}", "(UID BODY.PEEK[])")
        fetched += len(parse_fetch(response.lines))
    elapsed = time.perf_counter() - started
    await client.logout()
    return fetched, fetched / elapsed


async def raw_idle_latency(server: Dovecot, samples: int) -> list[float]:
    """Milliseconds from delivery until a bare IMAP client in IDLE hears of the mail."""
    user, password = server.new_user("idle")
    client = aioimaplib.IMAP4(host=server.host, port=server.port, timeout=60)
    await client.wait_hello_from_server()
    await client.login(user, password)
    await client.select("INBOX")
    found: list[float] = []
    for i in range(samples):
        idle = await client.idle_start(timeout=60)
        sent_at = time.time()
        await asyncio.to_thread(server.save, user, _mail(i, "idle probe", "i"))
        while not any(b"EXISTS" in line for line in await client.wait_server_push(timeout=60)):
            pass
        found.append((time.time() - sent_at) * 1000)
        client.idle_done()
        await asyncio.wait_for(idle, 10)
    await client.logout()
    return found


def _acks(db: Path) -> list[float]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=30)
    try:
        rows = conn.execute(
            "SELECT created_at FROM outbox WHERE kind = 'acknowledgement' ORDER BY created_at"
        ).fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return []
    finally:
        conn.close()
    return [float(r[0]) for r in rows]


async def _wait_acks(db: Path, count: int, timeout: float) -> list[float]:
    deadline = time.monotonic() + timeout
    while True:
        acks = _acks(db)
        if len(acks) >= count:
            return acks
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(acks)} of {count} acknowledgements in {timeout}s")
        await asyncio.sleep(0.005)


async def run(n: int, singles: int, texts_path: Path) -> None:
    texts = read_texts(texts_path)
    folder = Path(tempfile.mkdtemp(prefix="inbox-bench-email-"))
    with Dovecot() as server, SmtpServer() as smtp:
        fetch_user, fetch_password = server.new_user("fetch")
        server.save_many(fetch_user, [_mail(i, texts[i % len(texts)], "f") for i in range(n)])
        fetched, fetch_before = await raw_fetch_rate(server, fetch_user, fetch_password)
        idle_ms = await raw_idle_latency(server, singles)
        encode, _ = measure_encode([texts[i % len(texts)] for i in range(n)], 32)

        user, password = server.new_user("bench")
        os.environ[PASSWORD_ENV] = password
        raw = default_config()
        raw["inbox"]["data_dir"] = str(folder / "var")
        raw["store"]["url"] = f"sqlite+aiosqlite:///{folder}/inbox.db"
        raw["queue"]["path"] = str(folder / "queue.db")
        raw["web"].update(host="127.0.0.1", port=0)
        raw["channels"]["email"] = [
            mailbox_config(server, smtp, user, PASSWORD_ENV, fetch_batch=FETCH_BATCH)
        ]
        config = folder / "config.toml"
        config.write_text(tomlwrite.dumps(raw), encoding="utf-8")
        db = folder / "inbox.db"
        log = (folder / "service.log").open("wb")
        proc, _base = await start_service(config, stderr=log)
        try:
            bulk = [_mail(i, texts[(i * 7) % len(texts)], "b") for i in range(n)]
            started = time.time()
            await asyncio.to_thread(server.save_many, user, bulk)
            acks = await _wait_acks(db, n, timeout=max(600.0, n / 5))
            pipeline = n / (acks[n - 1] - started)

            committed_ms: list[float] = []
            received_ms: list[float] = []
            for i in range(singles):
                before = len(smtp.received)
                sent_at = time.time()
                await asyncio.to_thread(server.save, user, _mail(i, texts[i % len(texts)], "s"))
                acks = await _wait_acks(db, n + i + 1, timeout=120)
                committed_ms.append((acks[-1] - sent_at) * 1000)
                await smtp.wait_for(before + 1, timeout=120)
                received_ms.append((time.time() - sent_at) * 1000)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 120)
        _count, fetch_after = await raw_fetch_rate(server, fetch_user, fetch_password)

    fetch_rate = (fetch_before + fetch_after) / 2
    print(f"mails: {n} in one delivery, then {singles} one at a time (IDLE)")
    print(
        f"raw IMAP fetch:  {fetch_rate:8.1f} mails/s  (before {fetch_before:.1f}, after {fetch_after:.1f}; {fetched} fetched)"
    )
    print(f"raw model encode: {encode:7.1f} texts/s")
    print(f"pipeline:        {pipeline:8.1f} mails/s  IMAP -> acknowledgement committed")
    print(f"ratio pipeline / raw IMAP fetch: {pipeline / fetch_rate:.3f}")
    print(f"ratio pipeline / raw encode:     {pipeline / encode:.3f}")
    for name, values in (
        ("bare IMAP client in IDLE hears of it", idle_ms),
        ("ack committed", committed_ms),
        ("ack at SMTP server", received_ms),
    ):
        print(f"delivery -> {name}: {latency(values)}")


def main() -> None:
    args = arguments(__doc__.split("\n\n")[0], "mails")
    asyncio.run(run(args.count, args.singles, Path(args.texts)))


if __name__ == "__main__":
    main()
