"""The channels a service process uses, made from the settings: the web channels (form,
chat), email and Telegram."""

from __future__ import annotations

from collections.abc import Set

from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.base import Connector
from connectors.mail.channel import EmailConnector
from connectors.telegram.channel import TelegramConnector
from connectors.webchat import WebChatConnector
from connectors.webform import WebFormConnector
from inbox.config.settings import Settings
from inbox.metrics import Metrics
from inbox.store.chat_identities import StoreChatIdentities
from inbox.store.links import StoreFormAddresses
from inbox.store.transcripts import StoreTranscripts

WEB_CHANNELS = (WebFormConnector, WebChatConnector)  # served by the web role


def make_connectors(
    settings: Settings, roles: Set[str], engine: AsyncEngine, metrics: Metrics
) -> list[Connector]:
    """The channels these roles use: intake (connectors, web) or sending."""
    s = settings
    if not roles & {"web", "connectors", "sender"}:
        return []
    transcripts = StoreTranscripts(engine, s.texts)
    connectors: list[Connector] = []
    if s.form.enabled:
        secure = s.web.public_url.startswith("https://")
        connectors.append(
            WebFormConnector(
                s.form,
                s.secret,
                transcripts,
                secure_cookies=secure,
                addresses=StoreFormAddresses(engine),
                mails_answers=bool(s.email),
                texts=s.texts,
            )
        )
    if s.chat.enabled:
        identities = StoreChatIdentities(engine)
        connectors.append(
            WebChatConnector(s.chat, s.secret, transcripts, identities, texts=s.texts)
        )
    connectors += [EmailConnector(box, s.secret, s.texts) for box in s.email]
    if s.telegram is not None:
        connectors.append(TelegramConnector(s.telegram, metrics))
    return connectors


def reply_channels(settings: Settings) -> dict[str, str]:
    """Which connector reaches a customer identity of each kind: email addresses through
    the first mailbox, Telegram chats through the bot, chat sessions through the chat."""
    found: dict[str, str] = {}
    if settings.email:
        found["email"] = settings.email[0].name
    if settings.telegram is not None:
        found["telegram"] = settings.telegram.name
    if settings.chat.enabled:
        found["webchat"] = "webchat"
    return found
