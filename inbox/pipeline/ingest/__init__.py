"""Persisting a batch of inbound messages, step by step."""
