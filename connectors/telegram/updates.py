"""Telegram updates as envelopes: text or caption, files as attachments, commands marked."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from telegram import Bot, Message, Update
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, TelegramError

from inbox.commands import parse_command
from inbox.config import TelegramSettings
from inbox.models import Attachment, Envelope
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


async def download(bot: Bot, ref: FileRef, max_bytes: int) -> Attachment:
    """Fetches one file with ``getFile``; one over the cap (or over the Bot API's own
    download limit) is kept as an omitted entry that says so."""
    if ref.size > max_bytes:
        return Attachment(ref.filename, ref.content_type, ref.size, omitted=True)
    try:
        handle = await bot.get_file(ref.file_id)
    except BadRequest as err:  # "file is too big", "invalid file_id": retrying will not help
        log.warning("telegram file %s not downloaded: %s", ref.filename, err.message)
        return Attachment(ref.filename, ref.content_type, ref.size, omitted=True)
    try:
        data = bytes(await handle.download_as_bytearray())
    except (BadRequest, InvalidToken, EndPointNotFound, Forbidden) as err:
        # The Bot API gave the file's path but will not serve it (404 reads as "invalid
        # token" in python-telegram-bot): the message is kept without it, never stuck.
        log.warning("telegram file %s not downloaded: %s", ref.filename, err.message)
        return Attachment(ref.filename, ref.content_type, ref.size, omitted=True)
    if len(data) > max_bytes:
        return Attachment(ref.filename, ref.content_type, len(data), omitted=True)
    return Attachment(ref.filename, ref.content_type, len(data), data=data)


async def envelope_of(
    update: Update, bot: Bot, bot_id: int, box: TelegramSettings
) -> Envelope | None:
    """The envelope for one update, or None for what is not a private chat's message."""
    message = update.message
    if message is None or message.chat.type != "private":
        return None
    text = clean_text(message.text or message.caption or "")
    files = files_of(message)
    meta = {
        "chat_id": str(message.chat.id),
        "telegram_message_id": str(message.message_id),
        "update_id": str(update.update_id),
    }
    command = parse_command(message.text) if message.text else None
    if command is not None:
        meta["command"], meta["args"] = command
        files = []
    attachments = tuple([await download(bot, ref, box.attachment_max_bytes) for ref in files])
    user = message.from_user
    return Envelope(
        channel=box.name,
        external_id=f"update:{bot_id}:{update.update_id}",
        identity_channel=IDENTITY,
        address=str(message.chat.id),
        text=text or _placeholder(message, files),
        received_at=message.date.timestamp(),
        sender_name=user.full_name if user is not None else "",
        meta=meta,
        attachments=attachments,
    )


async def safe_envelope_of(
    update: Update, bot: Bot, bot_id: int, box: TelegramSettings
) -> Envelope | None:
    """``envelope_of``, except that an update it cannot read (a bug, a shape we never saw)
    is kept in quarantine with its JSON, instead of stopping the connector or being lost.
    Network errors still propagate: the update is then fetched again."""
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
