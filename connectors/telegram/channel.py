"""The Telegram connector: ``getUpdates`` long polling in, ``sendMessage`` (and
``sendDocument`` for an agent's files) out.

An update is confirmed to Telegram (by asking for the next offset) only after the queue
holds it together with the cursor, so a crash redelivers instead of losing; the queue
knows each update by its id, so a redelivered one is not processed twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
import warnings
from datetime import timedelta

from telegram import Bot, InputFile
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from connectors.telegram.presses import Press, keyboard, press_of
from connectors.telegram.redact import hide_token
from connectors.telegram.split import split_text
from connectors.telegram.updates import SKIP_REASONS, Skipped, safe_envelope_of
from inbox.answer_files import safe_filename
from inbox.config.settings import TelegramSettings
from inbox.errors import DeliveryError, PermanentError, RateLimited, TransientError
from inbox.metrics import Metrics
from inbox.models import AnswerFile, Envelope, Outbound
from inbox.queue import Sink

log = logging.getLogger(__name__)
UPDATE_KINDS = ("message", "edited_message", "callback_query")
SKIPPED_TOTAL = (
    "inbox_telegram_skipped_total",
    "counter",
    "Telegram updates not kept (group or channel messages, empty texts, edited commands, "
    "buttons the inbox never sent).",
)


def retry_after_seconds(err: RetryAfter) -> float:
    """The wait Telegram asked for, whichever form python-telegram-bot gives it in."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = err.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramConnector:
    """One bot. Its state (``polling``, ``conflict``, ``unauthorized``, ``disconnected``)
    says what the poller is doing, and every change is logged."""

    def __init__(self, box: TelegramSettings, metrics: Metrics | None = None) -> None:
        self.name = box.name
        self.box = box
        self.state = "starting"
        # failed polls in a row: the back-off grows with them and a good poll resets it
        self.failures = 0
        self.metrics = metrics or Metrics()
        self.metrics.declare(*SKIPPED_TOTAL)
        for reason in SKIP_REASONS:  # every reason shows, as zero until it happens
            self.metrics.count(SKIPPED_TOTAL[0], 0, {"reason": reason})
        hide_token(box.token)  # before the Bot, which logs its URLs at DEBUG
        self.bot = Bot(
            box.token,
            base_url=box.base_url,
            base_file_url=box.base_file_url,
            request=HTTPXRequest(
                connect_timeout=box.timeout, read_timeout=box.timeout, write_timeout=box.timeout
            ),
            get_updates_request=HTTPXRequest(
                connection_pool_size=1,
                connect_timeout=box.timeout,
                read_timeout=box.poll_timeout + box.timeout,
            ),
        )
        self._ready = asyncio.Lock()
        self._initialized_bot = False

    def _set_state(self, state: str, why: str = "") -> None:
        if state != self.state:
            level = logging.INFO if state in ("polling", "starting") else logging.ERROR
            log.log(level, "telegram %s: %s%s", self.name, state, f" ({why})" if why else "")
        self.state = state

    async def _initialized(self) -> Bot:
        async with self._ready:
            if not self._initialized_bot:  # getMe: checks the token, learns the bot's id
                await self.bot.initialize()
                self._initialized_bot = True
        return self.bot

    async def run(self, sink: Sink) -> None:
        """Polls until cancelled, reconnecting with back-off and jitter."""
        while True:
            try:
                await self._poll(sink)
            except RetryAfter as err:
                await asyncio.sleep(retry_after_seconds(err))
                continue
            except Conflict as err:
                self._set_state(
                    "conflict",
                    "another process polls this bot with the same token; only one "
                    f"may (Telegram said: {err.message})",
                )
            except (InvalidToken, Forbidden) as err:
                self._set_state("unauthorized", f"Telegram refused the bot token: {err}")
            except (NetworkError, TelegramError, OSError) as err:
                self._set_state("disconnected", f"{type(err).__name__}: {err}")
            self.failures += 1
            base = self.box.reconnect_backoff * 2 ** min(self.failures - 1, 16)
            delay = min(base, self.box.reconnect_backoff_max)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def close(self) -> None:
        """Closes the Bot API clients."""
        if self._initialized_bot:
            await self.bot.shutdown()
            self._initialized_bot = False

    async def _poll(self, sink: Sink) -> None:
        bot = await self._initialized()
        source = f"telegram:{self.name}:{bot.id}"
        cursor = await sink.cursor(source)
        offset = int(cursor) + 1 if cursor else None
        while True:
            updates = await bot.get_updates(
                offset=offset,
                limit=self.box.poll_limit,
                timeout=self.box.poll_timeout,
                allowed_updates=UPDATE_KINDS,
            )
            self.failures = 0
            self._set_state("polling")
            if not updates:
                continue
            envelopes: list[Envelope] = []
            presses: list[Press] = []
            for update in updates:
                if update.callback_query is not None:
                    read, press = press_of(update, self.box)
                    presses.append(press)
                else:
                    read = await safe_envelope_of(update, bot, bot.id, self.box)
                if isinstance(read, Skipped):
                    self._skip(update.update_id, read)
                else:
                    envelopes.append(read)
            # The offset covers the skipped updates too: the queue has all that is kept.
            last = max(update.update_id for update in updates)
            await sink.put(envelopes, (source, str(last)))
            offset = last + 1
            for press in presses:  # only now: the queue holds what each press said
                await self._confirm(bot, press)

    async def _confirm(self, bot: Bot, press: Press) -> None:
        """Stops the customer's app spinning and takes the keyboard off the message, so a
        choice is pressed once. The press is already queued: a failure here is logged."""
        try:
            await bot.answer_callback_query(press.callback_id)
        except TelegramError as err:
            log.warning(
                "telegram %s: button press %s not answered: %s", self.name, press.callback_id, err
            )
        if not press.message_id:
            return
        try:
            await bot.edit_message_reply_markup(chat_id=press.chat_id, message_id=press.message_id)
        except TelegramError as err:
            log.warning(
                "telegram %s: buttons on message %s in chat %s not removed: %s",
                self.name,
                press.message_id,
                press.chat_id,
                err,
            )

    def _skip(self, update_id: int, skipped: Skipped) -> None:
        """Says why an update is not kept: one log line and the skip counter."""
        log.info("telegram %s: update %s skipped: %s", self.name, update_id, skipped.what)
        self.metrics.count(SKIPPED_TOTAL[0], 1, {"reason": skipped.reason})

    async def send(self, outbound: Outbound) -> str:
        """Sends one answer, in several messages when it is long, the last with the
        answer's choices as buttons, then each file an agent attached as a document;
        returns the chat and the last message's id. Text parts and files count alike: a
        failure says how many went out before it, and a retry sends only the rest, so
        nothing reaches the customer twice."""
        bot = await self._deliverer()
        texts = split_text(outbound.text)
        parts: list[str | AnswerFile] = [*texts, *outbound.files]
        buttons = keyboard(outbound.choices)
        sent = ""
        for index in range(outbound.parts_sent, len(parts)):
            part = parts[index]
            try:
                if isinstance(part, AnswerFile):
                    message = await bot.send_document(
                        chat_id=int(outbound.address),
                        document=InputFile(part.data, filename=safe_filename(part.filename)),
                    )
                else:  # the buttons go under the end of the answer's text
                    message = await bot.send_message(
                        chat_id=int(outbound.address),
                        text=part,
                        reply_markup=buttons if index == len(texts) - 1 else None,
                    )
            except TelegramError as err:
                raise _delivery_error(err).after_parts(index) from err
            sent = f"{outbound.address}:{message.message_id}"
        return sent

    async def _deliverer(self) -> Bot:
        try:
            return await self._initialized()
        except TelegramError as err:
            raise _delivery_error(err) from err


def _delivery_error(err: TelegramError) -> DeliveryError:
    """The project's error for a Bot API failure while sending."""
    if isinstance(err, RetryAfter):
        return RateLimited(f"Telegram rate limit: {err.message}", retry_after_seconds(err))
    if isinstance(err, Forbidden):
        return PermanentError(f"the customer blocked the bot or left the chat ({err.message})")
    if isinstance(err, InvalidToken):
        return TransientError(f"Telegram refused the bot token ({err})")
    if isinstance(err, BadRequest):
        return PermanentError(f"Telegram refused the message: {err.message}")
    return TransientError(f"Telegram unreachable: {type(err).__name__}: {err.message}")
