"""Telegram benchmark: customer message to acknowledgement in the chat, beside the raw rate
of the channel's own plumbing (a bare bot client on the same Bot API stand-in).

Run with ``scripts/bench-telegram`` (or ``python -m tests.benchmarks.bench_telegram``).
In one run it:

1. starts the Bot API stand-in on loopback (the test harness);
2. measures the raw plumbing rate: a bare python-telegram-bot client long-polls N updates
   and answers each with one ``sendMessage``, nothing else;
3. measures the bare model's encode rate on the same texts;
4. starts ``inbox serve`` with the Telegram channel, lets N customers (one chat each) write
   at once, and times them until the last acknowledgement reached the stand-in;
5. sends single messages one at a time and measures message-to-acknowledgement latency.

It prints the figures and the ratios measured in the same run; nothing is asserted. The
stand-in runs in this process: it serves the service and the bare client alike.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
from pathlib import Path

from telegram import Bot

from inbox import tomlwrite
from inbox.cli.bench import measure_encode, read_texts, start_service
from tests.benchmarks.benching import arguments, latency
from tests.support.config import default_config
from tests.support.telegram_api import BotApi

TOKEN_ENV = "BENCH_TELEGRAM_TOKEN"
FIRST_CHAT = 10_000_000


async def raw_plumbing_rate(api: BotApi, texts: list[str]) -> float:
    """Updates per second a bare bot client takes in and answers, one message each."""
    for i, text in enumerate(texts):
        await api.customer_says(FIRST_CHAT + i, text)
    bot = Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url)
    async with bot:
        started = time.perf_counter()
        offset, answered = 0, 0
        while answered < len(texts):
            updates = await bot.get_updates(offset=offset, limit=100, timeout=5)
            for update in updates:
                assert update.message is not None
                await bot.send_message(update.message.chat.id, "Thank you, we have it.")
                answered += 1
                offset = update.update_id + 1
        elapsed = time.perf_counter() - started
        await bot.get_updates(offset=offset, timeout=0)  # confirms the last ones
    return len(texts) / elapsed


async def run(n: int, singles: int, texts_path: Path) -> None:
    texts = read_texts(texts_path)
    sample = [texts[i % len(texts)] for i in range(n)]
    folder = Path(tempfile.mkdtemp(prefix="inbox-bench-telegram-"))
    api = BotApi()
    await api.start()
    try:
        raw_before = await raw_plumbing_rate(api, sample)
        api.sent.clear()
        encode, _ = measure_encode(sample, 32)

        os.environ[TOKEN_ENV] = api.token
        raw = default_config()
        raw["inbox"]["data_dir"] = str(folder / "var")
        raw["store"]["url"] = f"sqlite+aiosqlite:///{folder}/inbox.db"
        raw["queue"]["path"] = str(folder / "queue.db")
        raw["web"].update(host="127.0.0.1", port=0)
        raw["channels"]["telegram"] = {"token_env": TOKEN_ENV, "base_url": api.base_url}
        config = folder / "config.toml"
        config.write_text(tomlwrite.dumps(raw), encoding="utf-8")
        log = (folder / "service.log").open("wb")
        proc, _base = await start_service(config, stderr=log)
        try:
            first = FIRST_CHAT + n
            started = time.perf_counter()
            for i in range(n):
                await api.customer_says(first + i, texts[(i * 7) % len(texts)])
            for i in range(n):
                await api.wait_for_texts(first + i, 1, timeout=max(600.0, n / 5))
            pipeline = n / (time.perf_counter() - started)

            latency_ms: list[float] = []
            for i in range(singles):
                chat = first + n + i
                sent_at = time.perf_counter()
                await api.customer_says(chat, texts[i % len(texts)])
                await api.wait_for_texts(chat, 1, timeout=120)
                latency_ms.append((time.perf_counter() - sent_at) * 1000)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 120)
        raw_after = await raw_plumbing_rate(api, sample)
    finally:
        await api.stop()

    plumbing = (raw_before + raw_after) / 2
    print(f"messages: {n} customers writing at once, then {singles} one at a time")
    print(
        f"raw bot plumbing: {plumbing:7.1f} updates/s  (before {raw_before:.1f}, "
        f"after {raw_after:.1f}): getUpdates + one sendMessage each"
    )
    print(f"raw model encode: {encode:7.1f} texts/s")
    print(f"pipeline:         {pipeline:7.1f} messages/s  update -> acknowledgement in the chat")
    print(f"ratio pipeline / raw plumbing: {pipeline / plumbing:.3f}")
    print(f"ratio pipeline / raw encode:   {pipeline / encode:.3f}")
    print(f"message -> acknowledgement in the chat: {latency(latency_ms)}")


def main() -> None:
    args = arguments(__doc__.split("\n\n")[0], "messages")
    asyncio.run(run(args.count, args.singles, Path(args.texts)))


if __name__ == "__main__":
    main()
