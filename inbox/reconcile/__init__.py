"""Reconciliation with the sources (``inbox ledger --check``): what a mailbox folder or a
Telegram bot handed over, against what the store holds. Pure comparisons: the callers read
the sources (``connectors``) and the store (``inbox.store``) and pass the facts in."""
