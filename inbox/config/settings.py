"""Typed settings read from config.toml and validated at start: the names to import.

A wrong value stops start-up with a ConfigError naming the key, for example
``teams[2].examples: must be a non-empty list``. Secrets never live in the file: a key
ending in ``_env`` names the environment variable that holds the secret.

The settings live by area (``decisions``, ``runtime``, ``channels``, ``document``), each
default written once on its dataclass field; ``parse`` reads the file with the typed
reader of ``reader``.
"""

from __future__ import annotations

from inbox.config.channels import ChatSettings, EmailSettings, FormSettings, TelegramSettings
from inbox.config.decisions import (
    ALERT_KINDS,
    CANNED_FIELDS,
    TEAM_NAME_CHARS,
    AlertSettings,
    CannedReply,
    ContactSettings,
    CorrectionMode,
    DedupSettings,
    IncidentSettings,
    KbSettings,
    LinkSettings,
    RoutingSettings,
    TeamSettings,
    TriageSettings,
)
from inbox.config.document import Settings
from inbox.config.parse import load_settings, parse_settings
from inbox.config.runtime import (
    DeskSettings,
    LedgerSettings,
    ModelSettings,
    OutboxSettings,
    QueueSettings,
    StoreSettings,
    WebSettings,
)

__all__ = [
    "ALERT_KINDS",
    "CANNED_FIELDS",
    "TEAM_NAME_CHARS",
    "AlertSettings",
    "CannedReply",
    "ChatSettings",
    "ContactSettings",
    "CorrectionMode",
    "DedupSettings",
    "DeskSettings",
    "EmailSettings",
    "FormSettings",
    "IncidentSettings",
    "KbSettings",
    "LedgerSettings",
    "LinkSettings",
    "ModelSettings",
    "OutboxSettings",
    "QueueSettings",
    "RoutingSettings",
    "Settings",
    "StoreSettings",
    "TeamSettings",
    "TelegramSettings",
    "TriageSettings",
    "WebSettings",
    "load_settings",
    "parse_settings",
]
