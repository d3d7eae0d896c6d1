"""Alembic environment: runs on the connection the store hands over."""

from __future__ import annotations

from alembic import context

from inbox.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `inbox migrate` (or any `inbox serve`)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
