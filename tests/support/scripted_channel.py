"""A stand-in for a third-party channel whose sends fail on purpose, as scripted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from inbox.models import Outbound
from inbox.queue import Sink


@dataclass
class ScriptedChannel:
    """A channel whose answers are scripted: a list of errors to raise, then success.
    ``on_send`` runs as each send begins (to look at the store from the channel's side)."""

    name: str = "scripted"
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    sent: list[int] = field(default_factory=list)
    delay: float = 0.0
    on_send: Callable[[Outbound], Awaitable[None]] | None = None

    async def run(self, sink: Sink) -> None:
        await asyncio.Event().wait()

    async def send(self, outbound: Outbound) -> str:
        if self.on_send is not None:
            await self.on_send(outbound)
        if self.delay:
            await asyncio.sleep(self.delay)
        script = self.failures.get(outbound.address, [])
        if script:
            raise script.pop(0)
        self.sent.append(outbound.outbox_id)
        return f"id-{outbound.outbox_id}"

    async def close(self) -> None:
        return None
