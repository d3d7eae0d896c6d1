"""Buttons under a bot answer, and a press read back as the customer's own words.

A button's ``callback_data`` names its choice's verdict ("choice:yes"), never its text:
Telegram allows 64 bytes, and the text may change. A press becomes an envelope exactly
like a message from that chat whose text is the choice's text, which is all the pipeline
needs to know of buttons.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from connectors.telegram.updates import IDENTITY, Skipped
from inbox.bot_words import CHOICES, Choice
from inbox.config.settings import TelegramSettings
from inbox.models import Envelope, MessageMeta

PREFIX = "choice:"


def keyboard(choices: tuple[str, ...]) -> InlineKeyboardMarkup | None:
    """One button per row for each choice, in the customer's words (``choices`` are all of
    ``CHOICES``, in order, in their language); None for anything else."""
    if len(choices) != len(CHOICES):
        return None
    rows = [
        [InlineKeyboardButton(text, callback_data=PREFIX + choice.verdict)]
        for choice, text in zip(CHOICES, choices, strict=False)
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def choice_of(data: str | None) -> Choice | None:
    """The choice a button's ``callback_data`` names; None for data the inbox never sent."""
    if not data or not data.startswith(PREFIX):
        return None
    verdict = data.removeprefix(PREFIX)
    return next((c for c in CHOICES if c.verdict == verdict), None)


def _pressed_words(query: CallbackQuery) -> str:
    """The words on the pressed button, as the customer read them (in their language),
    from the keyboard of the message it was under; "" when that is not to be had."""
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None:
        return ""
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return ""


@dataclass(frozen=True)
class Press:
    """A pressed button to confirm to Telegram once the queue holds what it said:
    ``message_id`` is the bot's message whose keyboard goes (0: none to remove)."""

    callback_id: str
    chat_id: int
    message_id: int


def press_of(update: Update, box: TelegramSettings) -> tuple[Envelope | Skipped, Press]:
    """A ``callback_query`` update as the customer's message (or why it is skipped), and
    what to confirm to Telegram for it: every press is answered, but only a kept one
    takes the keyboard away (a button the inbox never sent is left alone)."""
    query = update.callback_query
    assert query is not None  # the caller checked
    read = _read(update, query, box)
    pressed = query.message  # None for a button on an inline message: no chat of ours
    if isinstance(read, Skipped) or pressed is None:
        return read, Press(query.id, 0, 0)
    return read, Press(query.id, pressed.chat.id, pressed.message_id)


def _read(update: Update, query: CallbackQuery, box: TelegramSettings) -> Envelope | Skipped:
    chat = query.message.chat if query.message is not None else None
    if chat is None:
        return Skipped("unsupported", f"a button pressed outside a chat ({query.id})")
    if chat.type != "private":
        return Skipped("group", f"a button pressed in {chat.type} chat {chat.id}")
    choice = choice_of(query.data)
    if choice is None:
        return Skipped("unknown_button", f"a button this inbox never sent ({query.data!r})")
    meta = MessageMeta(chat_id=str(chat.id), update_id=str(update.update_id))
    return Envelope(
        channel=box.name,
        # Telegram's callback ids are unique: a press delivered twice is one message.
        external_id=f"callback:{query.id}",
        identity_channel=IDENTITY,
        address=str(chat.id),
        text=_pressed_words(query) or choice.text,
        received_at=time.time(),  # a press carries no date of its own
        sender_name=query.from_user.full_name,
        meta=meta,
    )
