"""Reads ``[channels]``: the web form and chat, the mailboxes and the Telegram bot."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from inbox.config.channels import ChatSettings, EmailSettings, FormSettings, TelegramSettings
from inbox.config.locations import password
from inbox.config.reader import TableReader, read_section, table_list
from inbox.errors import ConfigError

# The variable holding the bot token unless token_env names another (a name, not a secret).
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"  # noqa: S105


@dataclass(frozen=True)
class ChannelSettings:
    """Every channel's settings; a mailbox or the bot only when configured and on."""

    form: FormSettings
    chat: ChatSettings
    email: tuple[EmailSettings, ...]
    telegram: TelegramSettings | None


def parse_channels(channels: TableReader) -> ChannelSettings:
    """The ``[channels]`` table."""
    form = read_section(FormSettings, channels.table_of("form"))
    chat = read_section(ChatSettings, channels.table_of("chat"))
    chat = replace(chat, identity_secret=os.environ.get(chat.identity_secret_env, "").strip())
    email = parse_mailboxes(channels.get("email", []))
    telegram = _telegram(channels.table_of("telegram"), email)
    channels.finish()
    return ChannelSettings(form, chat, email, telegram)


def _switched_off(r: TableReader) -> bool:
    """True for a table with ``enabled = false``; its other keys are then not read."""
    if r.boolean("enabled", True):
        return False
    r.seen.update(r.table)
    return True


def parse_mailboxes(raw: Any) -> tuple[EmailSettings, ...]:
    """``[[channels.email]]``: one table per mailbox."""
    boxes: list[EmailSettings] = []
    for i, r in enumerate(table_list(raw, "channels.email", one_table_ok=True)):
        if _switched_off(r):
            continue
        name = "email" if i == 0 else f"email-{i + 1}"
        box = read_section(
            EmailSettings,
            r,
            given={"imap_password": "", "smtp_password": ""},
            defaults={"name": name},
            finish=False,
        )
        if any(other.name == box.name for other in boxes):
            raise ConfigError(f"{r.key('name')}: '{box.name}' is used twice")
        if box.after_import == "move" and not box.move_to.strip():
            raise ConfigError(f"{r.key('move_to')}: must be a non-empty string")
        box = replace(
            box,
            imap_password=password(r, "imap_password_env", box.imap_user),
            smtp_password=password(r, "smtp_password_env", box.smtp_user),
        )
        r.finish()
        boxes.append(box)
    return tuple(boxes)


def _telegram(r: TableReader, email: tuple[EmailSettings, ...]) -> TelegramSettings | None:
    """``[channels.telegram]``: off unless the table is there and ``enabled`` is not false."""
    if not r.table or _switched_off(r):
        r.seen.update(r.table)
        return None
    env_name = r.string("token_env", TOKEN_ENV)
    token = os.environ.get(env_name, "").strip()
    if not token:
        raise ConfigError(
            f"{r.key('token_env')}: the environment variable {env_name} holding the bot "
            "token (from @BotFather) is not set"
        )
    # /link codes go out through the first mailbox unless link_via names another.
    first_box = {"link_via": email[0].name} if email else {}
    bot = read_section(TelegramSettings, r, given={"token": token}, defaults=first_box)
    if bot.link_via and all(box.name != bot.link_via for box in email):
        raise ConfigError(
            f"{r.key('link_via')}: no [[channels.email]] mailbox is named {bot.link_via}"
        )
    return bot
