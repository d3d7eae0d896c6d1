"""The roles a process can take (``inbox serve --role``); every one by default."""

from __future__ import annotations

ROLES = ("web", "connectors", "worker", "sender", "sla")
