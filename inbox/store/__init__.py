"""The store: contacts, conversations, messages, outbox, audit events, agents."""
