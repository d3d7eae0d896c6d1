"""A Telegram bot's update ids against the connector's cursor: the gaps.

Telegram numbers a bot's updates one after another, so an id between the first one the
store knows and the cursor that nothing holds (no message, command, quarantine entry or
dead letter) is a gap. The connector skips some updates on purpose (group chats,
channel posts, empty messages, edited commands, unknown buttons) and only logs them, so a
gap cannot be told from a loss here: gaps are listed, not counted as missing. Telegram
also jumps to a random id after a week without updates, and items still in the queue are
gaps until a worker stores them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from inbox.models import DeadLetter
from inbox.reconcile.dead import dead_metas

GAPS_LISTED = 50  # ranges listed per bot; the count covers all


@dataclass(frozen=True)
class TelegramCheck:
    """One bot's update ids reconciled."""

    channel: str
    bot_id: str
    cursor: int | None
    recorded: int
    dead: int
    unaccounted: int  # ids in the gaps
    gaps: tuple[tuple[int, int], ...] = field(default=())  # (first, last), the first few


def update_id(external_id: str) -> tuple[str, int] | None:
    """``(bot id, update id)`` from a Telegram message's external id ``update:BOT:N``."""
    kind, _, rest = external_id.partition(":")
    bot, _, number = rest.partition(":")
    if kind != "update" or not number.isdigit():
        return None
    return bot, int(number)


def dead_update_ids(letters: Sequence[DeadLetter], channel: str) -> set[int]:
    """The update ids among the queue's dead letters of ``channel``."""
    ids = (str(meta.get("update_id", "")) for meta in dead_metas(letters, channel))
    return {int(value) for value in ids if value.isdigit()}


def compare_updates(
    channel: str, bot_id: str, known: Collection[int], dead: Collection[int], cursor: int | None
) -> TelegramCheck:
    """The gaps between the first id the store or the dead letters hold and the cursor."""
    held = set(known) | set(dead)
    if not held:
        return TelegramCheck(channel, bot_id, cursor, 0, 0, 0)
    last = max(held) if cursor is None else max(cursor, max(held))
    gaps: list[tuple[int, int]] = []
    unaccounted = 0
    previous = min(held)
    for number in sorted(held | {last + 1}):
        if number > previous + 1:
            unaccounted += number - previous - 1
            if len(gaps) < GAPS_LISTED:
                gaps.append((previous + 1, number - 1))
        previous = number
    return TelegramCheck(
        channel,
        bot_id,
        cursor,
        len(set(known)),
        len(set(dead) - set(known)),
        unaccounted,
        tuple(gaps),
    )
