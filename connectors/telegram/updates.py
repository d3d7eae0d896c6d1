"""Telegram updates as envelopes: text or caption, files as attachments, commands marked,
edits as new messages; what the inbox does not keep is said so (``Skipped``)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from telegram import Bot, Message, Update
from telegram.error import (
    BadRequest,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)

from inbox.command_words import parse_command
from inbox.config.settings import TelegramSettings
from inbox.models import Attachment, Envelope, MessageMeta
from inbox.text import clean_text

log = logging.getLogger(__name__)

IDENTITY = "telegram"


@dataclass(frozen=True)
class FileRef:
    """A file a message carries, before it is downloaded."""

    file_id: str
    filename: str
    content_type: str
    size: int


def files_of(message: Message) -> list[FileRef]:
    """The files on a message: the largest size of a photo, documents, voice, audio, video."""
    found: list[FileRef] = []
    if message.photo:
        best = max(message.photo, key=lambda p: (p.file_size or 0, p.width * p.height))
        found.append(
            FileRef(
                best.file_id, f"photo-{message.message_id}.jpg", "image/jpeg", best.file_size or 0
            )
        )
    for attr, default_name, default_type in (
        ("document", "document", "application/octet-stream"),
        ("voice", "voice.ogg", "audio/ogg"),
        ("audio", "audio", "audio/mpeg"),
        ("video", "video.mp4", "video/mp4"),
        ("video_note", "video-note.mp4", "video/mp4"),
    ):
        item: Any = getattr(message, attr, None)
        if item is None:
            continue
        name = getattr(item, "file_name", None) or default_name
        kind = getattr(item, "mime_type", None) or default_type
        found.append(FileRef(item.file_id, name, kind, item.file_size or 0))
    return found


def _placeholder(message: Message, files: list[FileRef]) -> str:
    """Words for a message without text, so an agent sees that something came."""
    if message.location is not None:
        return f"(shared a location: {message.location.latitude}, {message.location.longitude})"
    if message.contact is not None:
        c = message.contact
        return f"(shared a contact: {c.first_name} {c.last_name or ''} {c.phone_number})".strip()
    if message.sticker is not None:
        return f"(sticker {message.sticker.emoji or ''})".strip()
    if files:
        return "(sent " + ", ".join(f.filename for f in files) + ")"
    return "(a message of a kind this inbox does not show)"


@dataclass(frozen=True)
class Skipped:
    """An update the inbox does not keep, why (a metric label) and what it was (a log line)."""

    reason: str
    what: str


SKIP_REASONS = ("group", "channel", "empty", "edited_command", "unknown_button", "unsupported")


@dataclass(frozen=True)
class Fetched:
    """One file as the message keeps it; ``failure`` says why it could not be fetched now
    (a temporary failure: its ``file_id`` is kept to fetch it later)."""

    attachment: Attachment
    failure: str = ""


async def download(bot: Bot, ref: FileRef, max_bytes: int) -> Fetched:
    """Fetches one file with ``getFile``; one over the cap (or over the Bot API's own
    download limit) is kept as an omitted entry that says so. Any other failure (a 5xx,
    a timeout) leaves the entry omitted with the reason, never stopping the batch; only
    a rate limit propagates, so the batch is fetched again after the wait Telegram asks."""
    omitted = Attachment(ref.filename, ref.content_type, ref.size, omitted=True)
    if ref.size > max_bytes:
        return Fetched(omitted)
    try:
        handle = await bot.get_file(ref.file_id)
    except BadRequest as err:  # "file is too big", "invalid file_id": retrying will not help
        log.warning("telegram file %s not downloaded: %s", ref.filename, err.message)
        return Fetched(omitted)
    except RetryAfter:
        raise
    except (TelegramError, OSError) as err:
        return _not_fetched(ref, omitted, err)
    try:
        data = bytes(await handle.download_as_bytearray())
    except (BadRequest, InvalidToken, EndPointNotFound, Forbidden) as err:
        # The Bot API gave the file's path but will not serve it (404 reads as "invalid
        # token" in python-telegram-bot): the message is kept without it, never stuck.
        log.warning("telegram file %s not downloaded: %s", ref.filename, err.message)
        return Fetched(omitted)
    except RetryAfter:
        raise
    except (TelegramError, OSError) as err:
        return _not_fetched(ref, omitted, err)
    if len(data) > max_bytes:
        return Fetched(Attachment(ref.filename, ref.content_type, len(data), omitted=True))
    return Fetched(Attachment(ref.filename, ref.content_type, len(data), data=data))


def _not_fetched(ref: FileRef, omitted: Attachment, err: Exception) -> Fetched:
    """A file the Bot API could not give now: the message goes on without it."""
    why = err.message if isinstance(err, TelegramError) else str(err)
    why = f"{type(err).__name__}: {why}" if why else type(err).__name__
    log.warning("telegram file %s (file_id %s) not fetched: %s", ref.filename, ref.file_id, why)
    return Fetched(omitted, why)


def _skipped(update: Update) -> Skipped | None:
    """Why the inbox does not keep this update, or None when it does."""
    chat = update.effective_chat
    if chat is not None and chat.type == "channel":
        return Skipped("channel", f"a post in channel {chat.id}")
    message = update.message or update.edited_message
    if message is None:
        return Skipped("unsupported", "an update that is not a message")
    chat = message.chat
    if chat.type != "private":
        return Skipped("group", f"a message in {chat.type} chat {chat.id}")
    if message.text is not None and not clean_text(message.text):
        return Skipped("empty", f"an empty message in chat {chat.id}")
    # A command acts when it is sent; editing it later must not run it again.
    if update.edited_message is not None and parse_command(message.text or "") is not None:
        return Skipped("edited_command", f"an edited command in chat {chat.id}")
    return None


def _unfetched_note(missing: list[tuple[FileRef, str]]) -> str:
    """Lines for the agent: which files are missing, why, and the id to fetch them by."""
    return "".join(
        f"\n\n({ref.filename} could not be fetched from Telegram: {why}; file_id {ref.file_id})"
        for ref, why in missing
    )


async def envelope_of(
    update: Update, bot: Bot, bot_id: int, box: TelegramSettings
) -> Envelope | Skipped:
    """The envelope for one private chat's message or edit, or why it is skipped.

    An edit is a new message in the conversation, marked as one (``edit_of`` names the
    message) and known by its own update id, so it joins the chat's open conversation
    quietly; a redelivered edit is still one message."""
    skipped = _skipped(update)
    if skipped is not None:
        return skipped
    edited = update.edited_message
    message = edited or update.message
    assert message is not None  # _skipped checked
    text = clean_text(message.text or message.caption or "")
    files = files_of(message)
    user = message.from_user
    meta = MessageMeta(
        chat_id=str(message.chat.id),
        telegram_message_id=str(message.message_id),
        update_id=str(update.update_id),
        # The app's language: what a customer is answered in when their words are too few.
        language=(user.language_code or "")[:16] if user is not None else "",
    )
    command = parse_command(message.text) if message.text and edited is None else None
    if command is not None:
        name, args = command
        meta = replace(meta, command=name, args=args)
        files = []
    fetched = [await download(bot, ref, box.attachment_max_bytes) for ref in files]
    shown = text or _placeholder(message, files)
    received = message.date
    if edited is not None:
        meta = replace(meta, edit_of=str(message.message_id))
        shown = f"(edited an earlier message) {shown}"
        received = edited.edit_date or message.date
    missing = [(ref, f.failure) for ref, f in zip(files, fetched, strict=True) if f.failure]
    if missing:
        meta = replace(meta, unfetched_file_ids=" ".join(ref.file_id for ref, _ in missing))
        shown += _unfetched_note(missing)
    return Envelope(
        channel=box.name,
        external_id=f"update:{bot_id}:{update.update_id}",
        identity_channel=IDENTITY,
        address=str(message.chat.id),
        text=shown,
        classify_text=text if text != shown else "",
        received_at=received.timestamp(),
        sender_name=user.full_name if user is not None else "",
        meta=meta,
        attachments=tuple(f.attachment for f in fetched),
    )


async def safe_envelope_of(
    update: Update, bot: Bot, bot_id: int, box: TelegramSettings
) -> Envelope | Skipped:
    """``envelope_of``, except that an update it cannot read (a bug, a shape we never saw)
    is kept in quarantine with its JSON, instead of stopping the connector or being lost.
    A rate limit still propagates: the batch is then fetched again after the wait."""
    try:
        return await envelope_of(update, bot, bot_id, box)
    except (TelegramError, OSError):
        raise
    except Exception as err:
        log.exception("telegram %s: update %s cannot be read", box.name, update.update_id)
        raw = json.dumps(update.to_dict(), ensure_ascii=False, indent=1).encode()
        chat = update.effective_chat
        return Envelope(
            channel=box.name,
            external_id=f"update:{bot_id}:{update.update_id}",
            identity_channel=IDENTITY,
            address=str(chat.id) if chat is not None else "unknown",
            text="",
            received_at=time.time(),
            quarantine=f"cannot read this update: {type(err).__name__}: {err}"[:2000],
            attachments=(
                Attachment(
                    f"update-{update.update_id}.json",
                    "application/json",
                    len(raw),
                    data=raw,
                    kind="original",
                ),
            ),
        )
