"""The message pipeline: worker, routing, triage, ingest, bot commands, outbox sender."""
